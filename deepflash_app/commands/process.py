"""``deepflash process``: correct photos and folders of photos."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import click

from deepflash_app.commands.correction_options import correction_options
from deepflash_client.errors import DeepFlashError, ImageWriteError, ServerUnavailableError, one_line, printable
from deepflash_client.options import Options
from deepflash_core.corrector import Corrector, open_corrector

# Debugging aid: with DEEPFLASH_DEBUG=1 unexpected errors show their traceback.
DEBUG = os.environ.get("DEEPFLASH_DEBUG", "") not in ("", "0")


@dataclass(frozen=True)
class PhotoTarget:
    """One photo to correct and where its result goes."""

    source: Path
    target: Path


def _image_extensions() -> set[str]:
    from deepflash_core.imageio.heif import readable_extensions

    return readable_extensions()


def expand_inputs(inputs: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Files as given, folders replaced by the images directly inside them (sorted by name).

    Returns:
        The photo paths and one failure line per input that gives no photo (an empty folder).
    """
    extensions: set[str] = set()
    photos: list[Path] = []
    failures: list[str] = []
    for item in inputs:
        if item.is_dir():
            extensions = extensions or _image_extensions()  # loads every Pillow plugin: only for folders
            found = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in extensions and not p.name.startswith("."))
            if not found:
                failures.append(f"{item}: the folder holds no images.")
            photos.extend(found)
        else:
            photos.append(item)
    return photos, failures


def plan_jobs(photos: list[Path], output: Path | None, out_dir: Path | None) -> tuple[list[PhotoTarget], list[str]]:
    """Pair every photo with its output path; refuse to overwrite an input or write one output twice."""
    jobs: list[PhotoTarget] = []
    failures: list[str] = []
    sources = {_identity(p) for p in photos}
    claimed: dict[Path, Path] = {}
    for photo in photos:
        target = output if output is not None else out_dir / photo.name  # type: ignore[operator]
        key = _identity(target)
        if key in sources:
            failures.append(f"{photo}: refusing to overwrite an input photo with the output {target}.")
        elif key in claimed:
            failures.append(f"{photo}: its output {target} would overwrite the result of {claimed[key]}.")
        else:
            claimed[key] = photo
            jobs.append(PhotoTarget(photo, target))
    return jobs, failures


def _identity(path: Path) -> Path:
    # Not Path.resolve(): it raises RuntimeError on a symlink loop, which reading or writing then names.
    return Path(os.path.realpath(path))


def _without_name(message: str, path: Path) -> str:
    """Errors from the image reader start with the file name (as errors show it); the CLI prints the path itself."""
    for prefix in (one_line(f"{path}:") + " ", one_line(f"{path.name}:") + " "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _corrector(weights: str | None, device: str, mixed_precision: bool, server: str | None,
               first: Path | None = None, options: Options | None = None) -> Corrector:
    """The pipeline in this process, or the DeepFlash server at ``server`` (asked once that it is there).

    In this process, and before torch is imported (a cold start), the ``first`` photo is detected in a
    child process while the model loads.
    """
    ahead = None
    if not server and first is not None and options is not None and "torch" not in sys.modules:
        from deepflash_core.detection.child import ChildDetection

        ahead = ChildDetection.start(first, options)
    return open_corrector(server, weights=weights, device=device, mixed_precision=mixed_precision, ahead=ahead,
                          timeout_s=120.0, retries=2)


def _writable_jobs(jobs: list[PhotoTarget]) -> tuple[list[PhotoTarget], list[str]]:
    """The jobs whose output can be written, and one line per refusal (a refusing folder is named once)."""
    from deepflash_core.imageio import check_writable, output_format

    kept: list[PhotoTarget] = []
    failures: list[str] = []
    refused: dict[Path, int] = {}  # folder -> photos not named again
    for job in jobs:
        folder = job.target.parent
        if folder in refused:
            refused[folder] += 1
            continue
        try:
            output_format(job.target)  # the extension's fault: this photo only
        except ImageWriteError as error:
            failures.append(str(error))
            continue
        try:
            check_writable(job.target)
        except ImageWriteError as error:  # the folder's fault: every photo going there
            failures.append(str(error))
            refused[folder] = 0
            continue
        kept.append(job)
    failures += [f"{folder}: {count} more photo{'s' if count > 1 else ''} not written there for the same reason."
                 for folder, count in refused.items() if count]
    return kept, failures


HELP = """Turn flash portraits into studio-lit ones.

INPUTS are photos or folders of photos. Every output keeps its input's size, bit depth, alpha,
orientation, colour profile and EXIF. Outside the person (with --background keep), pixels stay exactly as
they were in lossless formats (PNG, TIFF); a JPEG output is written at the source's quality and chroma
subsampling (a JPEG source's own), so re-encoding moves those pixels by a few levels. A photo with nothing
changed (strength 0) is copied byte for byte when its output has the source's format.
"""


@click.command(help=HELP)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Output file (one input only); its extension picks the format.")
@click.option("--out-dir", type=click.Path(path_type=Path, file_okay=False), help="Folder for the outputs, named like the inputs.")
@correction_options
@click.option("--device", default="auto", show_default=True, help="Torch device: auto, cpu, cuda, cuda:N or mps.")
@click.option("--weights", metavar="FILE|NAME", help="A .safetensors weights file (its .json model card beside it) or an installed model's name (`deepflash models` lists them); default: the default model.")
@click.option("--mixed-precision", is_flag=True, help="Run the network in bf16 (fp16 on Apple MPS): faster, slightly less exact.")
@click.option("--server", "--address", "server", metavar="ADDRESS", help="Send the pixels to a running DeepFlash server (e.g. tcp://127.0.0.1:5557).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no notes; errors are still printed.")
@click.option("-v", "--verbose", is_flag=True, help="Print the notes (conversions, warnings) of every photo, not each note once.")
def process(
    inputs: tuple[Path, ...],
    output: Path | None,
    out_dir: Path | None,
    options: Options,
    device: str,
    weights: str | None,
    mixed_precision: bool,
    server: str | None,
    quiet: bool,
    verbose: bool,
) -> None:
    writable, failed = _plan_outputs(inputs, output, out_dir)
    if not writable:
        sys.exit(1)
    # None of what importing torch and loading the model make is garbage, and the collector's passes over it
    # (during the imports, again at exit) are a large part of a cold run: it is frozen out of their sight.
    gc.disable()
    try:
        corrector = _corrector(weights, device, mixed_precision, server, writable[0].source, options)
    except DeepFlashError as error:  # no weights, unknown device, no server: nothing can be processed
        click.echo(f"deepflash: {error}", err=True)
        sys.exit(1)
    finally:
        gc.freeze()
        gc.enable()
    done, failed_here = _correct_all(writable, corrector, options, quiet, verbose)
    failed += failed_here
    if done + failed > 1 and not quiet:
        click.echo(f"deepflash: {done} corrected, {failed} failed.", err=True)
    if failed:
        sys.exit(1)


def _plan_outputs(inputs: tuple[Path, ...], output: Path | None, out_dir: Path | None) -> tuple[list[PhotoTarget], int]:
    """The photos whose outputs can be written, before the model loads (a refused output costs nothing), and how
    many inputs failed already; every failure is printed in one line."""
    if (output is None) == (out_dir is None):
        raise click.UsageError("Give exactly one of -o/--output FILE or --out-dir FOLDER.")
    photos, failures = expand_inputs(inputs)
    empty_folders = len(failures)
    if output is not None and len(photos) > 1:
        raise click.UsageError(f"-o/--output takes one photo, but {len(photos)} were given; use --out-dir.")
    jobs, refused = plan_jobs(photos, output, out_dir)
    failures += refused
    if out_dir is not None and jobs:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ImageWriteError(f"Cannot create the output folder {out_dir} ({error.strerror or error}).") from None
    writable, unwritable = _writable_jobs(jobs)
    failures += unwritable
    for line in failures:
        click.echo(printable(f"deepflash: {line}"), err=True)
    return writable, empty_folders + len(photos) - len(writable)


def _correct_all(writable: list[PhotoTarget], corrector: Corrector, options: Options, quiet: bool,
                 verbose: bool) -> tuple[int, int]:
    """Correct and write each photo, one line per failure; returns how many were written and how many failed."""
    failed = done = 0
    notes = Notes(per_photo=verbose or len(writable) == 1, quiet=quiet)
    if quiet or len(writable) < 2:
        progress, write = NoBar(writable), NoBar.write
    else:
        from tqdm import tqdm

        progress, write = tqdm(writable, unit="photo", file=sys.stderr, dynamic_ncols=True), tqdm.write
    write = _printable_lines(write)
    with progress as bar:
        for position, job in enumerate(bar):
            bar.set_postfix_str(printable(job.source.name), refresh=False)
            try:
                notes.add(job, _process_one(job, corrector, options), write)
            except ServerUnavailableError as error:  # the next photos would only wait for it too
                failed += len(writable) - position
                write(f"deepflash: {job.source}: {error}", file=sys.stderr)
                if position + 1 < len(writable):
                    write(f"deepflash: stopped; {len(writable) - position - 1} photos not sent.", file=sys.stderr)
                break
            except DeepFlashError as error:
                failed += 1
                write(f"deepflash: {job.source}: {_without_name(str(error), job.source)}", file=sys.stderr)
                continue
            except MemoryError:
                failed += 1
                write(f"deepflash: {job.source}: not enough memory to process this photo.", file=sys.stderr)
                continue
            except Exception as error:  # a bug, not the user's fault: still one line per file
                if DEBUG:
                    raise
                failed += 1
                detail = str(error).splitlines()[0] if str(error) else ""
                write(f"deepflash: {job.source}: internal error {type(error).__name__}: {detail} (DEEPFLASH_DEBUG=1 shows details)", file=sys.stderr)
                continue
            done += 1
            if not quiet and len(writable) == 1:  # a folder gets the bar and a summary instead
                write(f"deepflash: wrote {job.target}", file=sys.stderr)
    notes.summarise(len(writable))
    return done, failed


def _printable_lines(write: Callable[..., None]) -> Callable[..., None]:
    """``write`` for lines that hold file names: their control characters are shown, never sent to the terminal."""
    def printable_write(text: str, file: TextIO | None = None) -> None:
        write(printable(text), file=file)

    return printable_write


class NoBar(list):
    """The photos, standing in for the progress bar where none is drawn (one photo, or -q): no tqdm import."""

    def __enter__(self) -> NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        return None

    @staticmethod
    def write(text: str, file: TextIO | None = None) -> None:
        print(text, file=file if file is not None else sys.stdout, flush=True)


class Notes:
    """What was converted or noticed per photo: printed with each photo, or each distinct note once."""

    def __init__(self, per_photo: bool, quiet: bool) -> None:
        self.per_photo = per_photo
        self.quiet = quiet
        self.counts: dict[str, int] = {}

    def add(self, job: PhotoTarget, notes: list[str], write: Callable[..., None]) -> None:
        for note in dict.fromkeys(notes):
            self.counts[note] = self.counts.get(note, 0) + 1
            if self.per_photo and not self.quiet:
                write(f"deepflash: {job.target}: note: {note}", file=sys.stderr)

    def summarise(self, photos: int) -> None:
        if self.per_photo or self.quiet:
            return
        for note, count in self.counts.items():
            click.echo(f"deepflash: note: {note} ({count} of {photos} photos; -v names them)", err=True)


def _process_one(job: PhotoTarget, corrector: Corrector, options: Options) -> list[str]:
    """Correct one photo and write it; returns its notes (what was converted on reading and writing, warnings)."""
    import numpy as np

    from deepflash_core.imageio import copy_unchanged, load_photo, save_photo

    photo = load_photo(job.source)
    result = corrector.correct(photo.pixels, options)
    if np.array_equal(result.pixels, photo.pixels) and copy_unchanged(job.source, job.target):
        return [*result.warnings, "nothing changed: the file was copied as it is"]
    notes = save_photo(photo.with_pixels(result.pixels), job.target)
    return [*photo.notes, *result.warnings, *notes]
