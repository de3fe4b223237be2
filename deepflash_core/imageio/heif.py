"""HEIC/HEIF photos, most phones' default format, through pillow-heif's Pillow plug-in.

The plug-in is registered on first need (a HEIC file to read or write, a folder to list), not at
import: a JPEG run never loads it. libheif applies the file's own rotation and mirroring on decoding
and pillow-heif resets the EXIF orientation to match, so the pixels come out upright as for a JPEG;
the ICC profile and EXIF are kept in ``image.info`` and written back on saving.
"""

from __future__ import annotations

import os
import threading

SUFFIXES = (".heic", ".heif", ".hif")
# ISO base media file brands of HEIF still images (HEVC-coded and generic).
_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_lock = threading.Lock()
_registered: bool | None = None


def register() -> bool:
    """Register pillow-heif's opener and saver with Pillow (once); False when pillow-heif is not installed."""
    global _registered
    with _lock:
        if _registered is None:
            try:
                import pillow_heif  # type: ignore[import-not-found]
            except ImportError:
                _registered = False
            else:
                pillow_heif.register_heif_opener()
                _registered = True
        return _registered


def is_heif(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is named or shaped like a HEIF file (its ``ftyp`` box names a HEIF brand)."""
    if os.fspath(path).lower().endswith(SUFFIXES):
        return True
    try:
        with open(path, "rb") as file:
            head = file.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and head[8:12] in _BRANDS


def readable_extensions() -> set[str]:
    """File extensions (lower case, with the dot) of every format that can be read, HEIC/HEIF included, and MPO,
    which Pillow opens through its JPEG reader (a camera's stereo or multi-picture JPEG)."""
    from PIL import Image

    register()
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN or fmt == "MPO"}
