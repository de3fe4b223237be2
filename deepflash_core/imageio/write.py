"""Writing a photo atomically in the format its file name asks for, giving up only what that format cannot hold.

Pixels are reduced to the format (16 to 8 bits, alpha dropped), a grayscale source goes back as
grayscale, and the file appears under its name only once it is complete: a failed write leaves nothing.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from deepflash_client.errors import ImageReadError, ImageWriteError
from deepflash_core.imageio import heif
from deepflash_core.imageio.encode import write_16bit_colour, write_16bit_gray, write_with_pillow
from deepflash_core.imageio.photo import Photo

# Formats that store only 8 bits per channel / no alpha; saving to them reduces the photo.
_EIGHT_BIT_FORMATS = {"JPEG", "WEBP", "BMP", "GIF", "PPM", "ICO", "PCX", "TGA", "HEIF"}
_NO_ALPHA_FORMATS = {"JPEG", "BMP", "PPM", "PCX"}


def output_format(path: str | os.PathLike[str]) -> str:
    """The Pillow format name for ``path``'s extension.

    Raises:
        ImageWriteError: the extension is missing or names no image format.
    """
    suffix = Path(path).suffix.lower()
    Image.preinit()  # JPEG, PNG and a few more; every other plugin (dozens of imports) only when needed
    if suffix in heif.SUFFIXES:
        heif.register()
    fmt = Image.EXTENSION.get(suffix) or Image.registered_extensions().get(suffix)
    if not suffix or fmt is None or fmt not in Image.SAVE:
        raise ImageWriteError(f"{Path(path).name}: cannot tell an image format to write from the extension '{suffix}'.")
    return fmt


def save_photo(photo: Photo, path: str | os.PathLike[str], like: Photo | None = None,
               quality: int | None = None) -> list[str]:
    """Write ``photo`` to ``path`` in the format its extension names, atomically.

    Lossless formats (PNG, TIFF) hold the pixels exactly. A JPEG source written as JPEG keeps its
    quantization tables and chroma subsampling (its quality); re-encoding still moves unchanged pixels by a
    few levels, so a photo with nothing corrected is better copied with :func:`copy_unchanged`.

    Args:
        photo: pixels to write (uint8, uint16, or float32 in [0, 1]) and metadata.
        path: output file; its extension picks the format.
        like: take ICC profile, EXIF, DPI and the JPEG tables and subsampling from this photo instead.
        quality: JPEG/WebP quality; None keeps a JPEG source's own quality, else :data:`JPEG_QUALITY`.

    Returns:
        What had to be given up for the format (e.g. "alpha dropped: JPEG has no alpha").

    Raises:
        ImageWriteError: unknown format, unwritable folder, full disk, or an encoder error;
            no partial file is left behind.
    """
    path = Path(path)
    meta = like or photo
    fmt = output_format(path)
    pixels, warnings_out = _pixels_for_format(photo.pixels, fmt)
    if meta.source_mode in _GRAY_MODES:
        pixels = _back_to_gray(pixels, fmt, warnings_out)
    temporary = ""
    try:
        temporary = _temporary_beside(path)
        if pixels.dtype == np.uint16 and pixels.shape[2] in (3, 4):
            write_16bit_colour(pixels, Path(temporary), fmt, meta, warnings_out)
        elif pixels.dtype == np.uint16:
            write_16bit_gray(pixels, Path(temporary), fmt, meta)
        else:
            write_with_pillow(pixels, Path(temporary), fmt, meta, quality)
        # mkstemp creates the file private (0600); the photo gets the mode any new file would get.
        os.chmod(temporary, _new_file_mode())
        os.replace(temporary, path)
    except ImageWriteError:
        _remove(temporary)
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        _remove(temporary)
        detail = getattr(error, "strerror", None) or (str(error).splitlines()[0] if str(error) else type(error).__name__)
        raise ImageWriteError(f"{path.name}: cannot write the image ({detail}).") from None
    except BaseException:
        _remove(temporary)
        raise
    return warnings_out


def check_writable(path: str | os.PathLike[str]) -> None:
    """Make sure a photo can be written to ``path``, so a front end can ask before any work is done.

    Creates and removes a temporary file beside ``path``: permissions, read-only filesystems and folders
    that take no files (``/proc``) all show up, where ``os.access`` would miss some.

    Raises:
        ImageWriteError: the extension names no image format, or the folder is missing or not writable.
    """
    path = Path(path)
    output_format(path)
    _remove(_temporary_beside(path))


def copy_unchanged(source: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Copy ``source`` to ``path`` byte for byte (atomically) when both are the same image format.

    For a photo with nothing to correct: a copy keeps every pixel and byte, where re-encoding a JPEG would
    not. Returns False, writing nothing, when ``path`` asks for another format than ``source`` holds.

    Raises:
        ImageReadError: ``source`` cannot be opened as an image.
        ImageWriteError: the output cannot be written; no partial file is left behind.
    """
    source, path = Path(source), Path(path)
    if heif.is_heif(source):
        heif.register()
    try:
        with Image.open(source) as image:
            source_format = image.format
    except (OSError, UnidentifiedImageError) as error:
        raise ImageReadError(f"{source.name}: cannot be read ({getattr(error, 'strerror', None) or error}).") from None
    if source_format != output_format(path) and not (source_format == "MPO" and output_format(path) == "JPEG"):
        return False
    temporary = ""
    try:
        temporary = _temporary_beside(path)
        shutil.copyfile(source, temporary)
        os.chmod(temporary, _new_file_mode())
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        raise ImageWriteError(f"{path.name}: cannot write the image ({error.strerror or error}).") from None
    except BaseException:
        _remove(temporary)
        raise
    return True


def _temporary_beside(path: Path) -> str:
    """Create an empty temporary file in ``path``'s folder and return its name.

    Raises:
        ImageWriteError: one line naming the folder and why it takes no files.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ImageWriteError(f"{path}: the folder {folder} does not exist.")
    try:
        handle, temporary = tempfile.mkstemp(prefix=".deepflash-", suffix=path.suffix, dir=folder)
    except OSError as error:
        reason = _WRITE_REFUSALS.get(error.errno, error.strerror or type(error).__name__)
        raise ImageWriteError(f"{path}: cannot write into {folder} ({reason}).") from None
    os.close(handle)
    return temporary


_WRITE_REFUSALS = {
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "the disk is full",
    errno.ENOENT: "the folder does not take new files",
}


def _new_file_mode() -> int:
    """0666 less the process umask (read without changing it for long: os.umask sets and returns)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _remove(path: str) -> None:
    if not path:
        return
    try:
        os.unlink(path)
    except OSError:
        pass


def _pixels_for_format(pixels: np.ndarray, fmt: str) -> tuple[np.ndarray, list[str]]:
    """Reduce pixels to what ``fmt`` can hold, saying what was given up."""
    notes: list[str] = []
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ImageWriteError(f"cannot write pixels of shape {pixels.shape}: expected (H, W, 3) or (H, W, 4).")
    if pixels.dtype == np.float32 or pixels.dtype == np.float64:
        pixels = (np.clip(pixels, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    if pixels.dtype == np.uint16 and fmt in _EIGHT_BIT_FORMATS:
        # Rounded division by 257 maps 65535 -> 255 exactly and is the inverse of x * 257.
        pixels = ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
        notes.append(f"reduced to 8 bits a channel: {fmt} has no 16-bit mode")
    if pixels.shape[2] == 4 and fmt in _NO_ALPHA_FORMATS:
        pixels = pixels[..., :3]
        notes.append(f"alpha dropped: {fmt} has no alpha channel")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageWriteError(f"cannot write {pixels.dtype} pixels.")
    return np.ascontiguousarray(pixels), notes


_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N"})


def luminance(pixels: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of RGB(A) uint8/uint16 pixels, as Pillow's "L" conversion computes it.

    The weights sum to exactly 2**16, so a pixel with R = G = B keeps its value bit for bit.
    """
    r, g, b = (pixels[..., channel].astype(np.uint64) for channel in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 32768) >> 16).astype(pixels.dtype)


def _back_to_gray(pixels: np.ndarray, fmt: str, notes: list[str]) -> np.ndarray:
    """A grayscale source is written back as grayscale: (H, W, 1) luma, or (H, W, 2) luma + alpha."""
    if pixels.dtype == np.uint16 and pixels.shape[2] == 4:
        notes.append("written as 16-bit RGBA: there is no 16-bit gray+alpha writer")
        return pixels
    gray = luminance(pixels)[..., None]
    if pixels.shape[2] == 4:
        gray = np.concatenate([gray, pixels[..., 3:]], axis=2)
    return np.ascontiguousarray(gray)

