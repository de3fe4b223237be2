"""Which photos a batch job reads, and where each result goes.

A source is a local photo, folder or glob pattern, or a URI (``s3://bucket/shoot/``, ``gs://…``,
``hdfs://…``) that a pyarrow filesystem opens with the credentials the user already has. A folder
gives the images directly inside it, as ``deepflash process`` does; a glob may use ``*``, ``?`` and
``[…]`` in its last part. Every result goes into one local (or shared, on a cluster) folder under
its input's file name.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deepflash_client.errors import ImageReadError, ImageWriteError
from deepflash_core.imageio import output_format

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Item:
    """One photo to correct: where it is read from and the file its result is written to."""

    source: str
    target: str


def is_uri(source: str) -> bool:
    """True for ``scheme://…`` sources, which pyarrow's filesystems read."""
    return bool(_URI.match(source))


def image_extensions() -> set[str]:
    """File extensions (lower case, with the dot) of the formats Pillow can open, HEIC/HEIF included."""
    from deepflash_core.imageio.heif import readable_extensions

    return readable_extensions()


Failure = tuple[str, str]
"""A source or photo that cannot be done, and why (one line)."""


def list_photos(sources: Sequence[str]) -> tuple[list[str], list[Failure]]:
    """Expand folders and globs into photo paths or URIs, in the order given (each sorted by name).

    Returns:
        The photos and a failure for each source that gives none.
    """
    extensions = image_extensions()
    photos: list[str] = []
    failures: list[Failure] = []
    for source in sources:
        try:
            found = _list_uri(source, extensions) if is_uri(source) else _list_local(source, extensions)
        except (OSError, ValueError) as error:
            failures.append((source, f"cannot be listed ({_first_line(error)})."))
            continue
        if found is None:
            failures.append((source, "no such file or folder."))
        elif not found:
            failures.append((source, "holds no images."))
        photos.extend(found or [])
    return photos, failures


def _is_photo_name(name: str, extensions: set[str]) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in extensions


def _list_local(source: str, extensions: set[str]) -> list[str] | None:
    if _GLOB_CHARS.search(source) and not os.path.exists(source):
        matches = sorted(glob.glob(source))
        return [m for m in matches if os.path.isfile(m) and _is_photo_name(os.path.basename(m), extensions)]
    path = Path(source)
    if path.is_dir():
        return sorted(str(p) for p in path.iterdir() if p.is_file() and _is_photo_name(p.name, extensions))
    return [source] if path.exists() else None


def _list_uri(source: str, extensions: set[str]) -> list[str] | None:
    from pyarrow import fs

    scheme = source[: source.index("://") + 3]
    head, _, last = source.rstrip("/").rpartition("/")
    pattern = last if _GLOB_CHARS.search(last) else None
    filesystem, path = fs.FileSystem.from_uri(head if pattern else source)
    info = filesystem.get_file_info(path)
    if info.type == fs.FileType.File and pattern is None:
        return [source]
    if info.type != fs.FileType.Directory:
        return None
    listing = filesystem.get_file_info(fs.FileSelector(path, recursive=False))
    names = sorted(entry.path for entry in listing if entry.type == fs.FileType.File)
    return [
        _as_uri(scheme, name)
        for name in names
        if _is_photo_name(name.rpartition("/")[2], extensions) and (pattern is None or fnmatch.fnmatchcase(name.rpartition("/")[2], pattern))
    ]


def _as_uri(scheme: str, path: str) -> str:
    return scheme + path.lstrip("/") if scheme != "file://" else scheme + path


def file_name(source: str) -> str:
    """The last part of a path or URI: the name the result is written under."""
    return source.rstrip("/").rpartition("/")[2] if is_uri(source) else os.path.basename(source)


def plan(photos: Sequence[str], out_dir: Path) -> tuple[list[Item], list[Failure]]:
    """Pair each photo with ``out_dir/<its name>``; refuse to overwrite an input or one result with another.

    Returns:
        The items and a failure for each photo refused.
    """
    photos = list(dict.fromkeys(photos))  # a photo named twice (a folder and a glob) is done once
    local_inputs = {os.path.realpath(p) for p in photos if not is_uri(p)}
    first_claim: dict[str, str] = {}
    items: list[Item] = []
    failures: list[Failure] = []
    for photo in photos:
        target = str(out_dir / file_name(photo))
        owner = first_claim.setdefault(os.path.realpath(target), photo)
        problem = _refusal(photo, target, owner, local_inputs)
        if problem:
            failures.append((photo, problem))
        else:
            items.append(Item(photo, target))
    return items, failures


def _refusal(photo: str, target: str, owner: str, local_inputs: set[str]) -> str:
    """Why ``photo`` cannot be written to ``target`` (first claimed by ``owner``), or empty."""
    try:
        output_format(target)
    except ImageWriteError as error:
        return str(error).removeprefix(f"{file_name(target)}: ")
    if os.path.realpath(target) in local_inputs:
        return f"refusing to overwrite an input photo with the output {target}."
    if owner != photo:
        return f"its output {target} would overwrite the result of {owner}."
    return ""


def split_done(items: Sequence[Item]) -> tuple[list[Item], list[Item]]:
    """(still to do, already done). A result appears only by an atomic rename, so one that exists is whole."""
    todo: list[Item] = []
    done: list[Item] = []
    for item in items:
        (done if os.path.isfile(item.target) else todo).append(item)
    return todo, done


def megapixels(photos: Sequence[str], unknown: float) -> float:
    """The photos' pixels in all, in millions, from their headers; ``unknown`` for each URI or unreadable file."""
    from PIL import Image

    total = 0.0
    for photo in photos:
        try:
            if is_uri(photo):
                raise OSError("not read before the job")
            with Image.open(photo) as image:  # the header only: no pixels are decoded
                total += image.width * image.height / 1e6
        except Exception:  # noqa: BLE001 - the job reports an unreadable photo when it comes to it
            total += unknown
    return total


@contextmanager
def local_copy(source: str) -> Iterator[Path]:
    """A local path holding the photo: the file itself, or a temporary copy of a URI's bytes under its own name."""
    if not is_uri(source):
        yield Path(source)
        return
    from pyarrow import fs

    try:
        filesystem, path = fs.FileSystem.from_uri(source)
        with filesystem.open_input_stream(path) as stream:
            data = stream.read()
    except (OSError, ValueError) as error:
        raise ImageReadError(f"{file_name(source)}: cannot be read ({_first_line(error)}).") from None
    with tempfile.TemporaryDirectory(prefix="deepflash-fetch-") as folder:
        copy = Path(folder) / file_name(source)
        copy.write_bytes(data)
        yield copy


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
