"""Reading and writing photos without losing what the user's file holds.

Pixels come out upright (EXIF orientation applied), RGB or RGBA, uint8 or uint16 as
stored; alpha is carried untouched; the ICC profile, EXIF (orientation reset to 1)
and resolution go back into the output. Pillow decodes and encodes everything it
can; colour images with 16 bits per channel, which Pillow would cut to 8 bits, go
through OpenCV (PNG, TIFF reading, PNG writing) and tifffile (TIFF writing).
Animations and multi-page files are refused rather than cut to one frame. A JPEG
written from a JPEG keeps the source's quantization tables and subsampling.
Every file that cannot be read or written raises a typed error with one line.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from deepflash_core.errors import ImageReadError, ImageTooLargeError, ImageWriteError

# Larger than any phone photo (200 MP sensors bin to 50 MP) but below Pillow's own bomb limit
# (2 x 89.5 MP), so this check always speaks first; the environment variable raises it.
MAX_PIXELS = int(os.environ.get("DEEPFLASH_MAX_PIXELS", 120_000_000))
# A face the detector can find needs about 40 pixels; nothing smaller is a portrait.
MIN_SIDE = 32
JPEG_QUALITY = 95

EXIF_ORIENTATION = 0x0112
# EXIF orientation -> numpy operations that make the pixels upright.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, k=1),
}
# Formats that store only 8 bits per channel / no alpha; saving to them reduces the photo.
_EIGHT_BIT_FORMATS = {"JPEG", "WEBP", "BMP", "GIF", "PPM", "ICO", "PCX", "TGA"}
_NO_ALPHA_FORMATS = {"JPEG", "BMP", "PPM", "PCX"}


@dataclass
class Photo:
    """An upright photo and the metadata to write back with it.

    Attributes:
        pixels: ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, uint8 or uint16, C-contiguous.
        icc_profile: the embedded colour profile, written back unchanged.
        exif: EXIF block with orientation already reset to 1 (the pixels are upright).
        format: the Pillow format name of the source ("JPEG", "PNG", ...).
        source_mode: the source's Pillow mode, plus ";16" for 16-bit colour.
        jpeg_subsampling: the source JPEG's chroma subsampling (0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0).
        jpeg_quantization: the source JPEG's quantization tables, so a JPEG output keeps its quality.
        dpi: resolution, written back when the format holds one.
        notes: what was converted on load (e.g. "CMYK converted to RGB").
    """

    pixels: np.ndarray
    icc_profile: bytes | None = None
    exif: bytes | None = None
    format: str | None = None
    source_mode: str = "RGB"
    jpeg_subsampling: int | None = None
    jpeg_quantization: dict[int, list[int]] | None = None
    dpi: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def alpha(self) -> np.ndarray | None:
        """The alpha channel (a view), or None."""
        return self.pixels[..., 3] if self.pixels.shape[2] == 4 else None

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        """The same photo and metadata with new pixels of the same shape."""
        if pixels.shape != self.pixels.shape:
            raise ValueError(f"pixel shape {pixels.shape} differs from the photo's {self.pixels.shape}")
        return replace(self, pixels=pixels)


def load_photo(path: str | os.PathLike[str]) -> Photo:
    """Read any image Pillow understands as an upright RGB(A) photo.

    Raises:
        ImageReadError: missing, empty, truncated, not an image, or too small to hold a face.
        ImageTooLargeError: more than ``MAX_PIXELS`` pixels (a decompression bomb or a huge scan).
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        raise ImageReadError(f"{path}: no such file.")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image.")
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImageReadError(f"{path}: cannot be read ({error.strerror or error}).") from None
    if size == 0:
        raise ImageReadError(f"{name}: the file is empty.")
    if path.suffix.lower() in (".heic", ".heif"):
        _heif_support()
    # face_recognition sets this global on import; a truncated photo must be an error, not grey pixels.
    load_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            # Our own MAX_PIXELS check below replaces Pillow's bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_size(name, image.size)
                _check_single_picture(name, image)
                return _decode(path, image)
    except (ImageReadError, ImageTooLargeError):
        raise
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"{name}: too many pixels to be a photo (decompression bomb?).") from None
    except UnidentifiedImageError:
        if _is_float_tiff(path):
            raise ImageReadError(_float_refusal(name)) from None
        if path.suffix.lower() in (".heic", ".heif") and not _heif_support():
            raise ImageReadError(f"{name}: reading HEIC photos needs the pillow-heif package (pip install pillow-heif).") from None
        raise ImageReadError(f"{name}: not an image file DeepFlash can read.") from None
    except PermissionError:
        raise ImageReadError(f"{name}: permission denied.") from None
    except MemoryError:
        raise ImageTooLargeError(f"{name}: not enough memory to decode this image.") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError, TypeError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ImageReadError(f"{name}: damaged or truncated image ({detail}).") from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = load_truncated


def _heif_support() -> bool:
    """Register pillow-heif's HEIC/HEIF opener when that optional package is installed."""
    try:
        import pillow_heif  # type: ignore[import-not-found]
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _check_size(name: str, size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(
            f"{name}: {width}x{height} is {width * height / 1e6:.0f} megapixels, "
            f"more than the {MAX_PIXELS / 1e6:.0f} MP limit (set DEEPFLASH_MAX_PIXELS to raise it)."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageReadError(f"{name}: {width}x{height} is too small to hold a face (at least {MIN_SIDE} px a side).")


def _check_single_picture(name: str, image: Image.Image) -> None:
    """Refuse animations and multi-page files, whose other frames the single output photo would drop.

    Refusing loses nothing and says what to do; correcting one frame of several would quietly hand back a
    file with the rest missing. Two kinds of extra frames are no pictures of their own and pass: an MPO's
    (a phone's preview and depth images after the photo) and a TIFF's reduced-resolution previews.
    """
    frames = getattr(image, "n_frames", 1)
    if frames <= 1 or image.format == "MPO":
        return
    if image.format == "TIFF":
        previews = []
        for page in range(1, frames):
            image.seek(page)
            previews.append(int(image.tag_v2.get(_TIFF_SUBFILE_TYPE, 0)) & 1)
        image.seek(0)
        if all(previews):
            return
        raise ImageReadError(f"{name}: a TIFF of {frames} pages; DeepFlash corrects one photo at a time, so save "
                             "the page you want as its own file.")
    raise ImageReadError(f"{name}: an animation of {frames} frames; DeepFlash corrects still photos, so save the "
                         "frame you want as its own image.")


_TIFF_SUBFILE_TYPE = 254  # NewSubfileType; bit 0 marks a reduced-resolution version of another page


def _float_refusal(name: str) -> str:
    return f"{name}: 32-bit floating-point images are not supported; save the photo as 16-bit PNG or TIFF."


def _is_float_tiff(path: Path) -> bool:
    """True for a TIFF of floating-point samples (Pillow cannot open those in colour)."""
    try:
        with path.open("rb") as file:
            if file.read(4) not in (b"II*\x00", b"MM\x00*"):
                return False
        import tifffile

        with tifffile.TiffFile(path) as tiff:
            return tiff.pages[0].dtype is not None and tiff.pages[0].dtype.kind == "f"
    except Exception:  # any damage: the caller's generic message stands
        return False


def _decode(path: Path, image: Image.Image) -> Photo:
    """Pixels and metadata of an opened image (first frame of an animation or a multi-page file)."""
    notes: list[str] = []
    # Ask before anything loads the pixels: loading clears the tile list that tells the bit depth.
    sixteen_bit_colour = _is_16bit_colour(image)
    exif_data = image.getexif()
    orientation = int(exif_data.get(EXIF_ORIENTATION, 1) or 1)
    icc = image.info.get("icc_profile") or None
    mode = image.mode
    if sixteen_bit_colour:
        pixels = _decode_16bit_colour(path)
        mode += ";16"
    else:
        image.load()
        pixels, icc = _to_rgb_array(path.name, image, icc, notes)
    if orientation in _ORIENT:
        pixels = _ORIENT[orientation](pixels)
        notes.append(f"EXIF orientation {orientation} applied")
    exif = None
    if "exif" in image.info or image.format in ("JPEG", "MPO"):
        if len(exif_data):
            exif_data[EXIF_ORIENTATION] = 1
            exif = exif_data.tobytes()
    dpi = image.info.get("dpi")
    return Photo(
        pixels=np.ascontiguousarray(pixels),
        icc_profile=icc,
        exif=exif,
        format=image.format,
        source_mode=mode,
        jpeg_subsampling=_jpeg_subsampling(image),
        jpeg_quantization=_jpeg_quantization(image),
        dpi=(float(dpi[0]), float(dpi[1])) if dpi else None,
        notes=notes,
    )


def _is_16bit_colour(image: Image.Image) -> bool:
    """True for colour/gray+alpha PNG or TIFF stored with 16 bits a channel (Pillow reads 8)."""
    if image.format not in ("PNG", "TIFF") or image.mode not in ("RGB", "RGBA", "LA", "RGBX"):
        return False
    tile = image.tile[0] if image.tile else None
    args = tile.args if tile is not None and hasattr(tile, "args") else (tile[3] if tile else None)
    rawmode = args[0] if isinstance(args, tuple) else args
    return isinstance(rawmode, str) and ";16" in rawmode


def _decode_16bit_colour(path: Path) -> np.ndarray:
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16:
        raise ImageReadError(f"{path.name}: damaged 16-bit image (OpenCV cannot decode it).")
    if decoded.ndim == 2:
        return np.repeat(decoded[..., None], 3, axis=2)
    if decoded.shape[2] == 4:
        return cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def _to_rgb_array(name: str, image: Image.Image, icc: bytes | None,
                  notes: list[str]) -> tuple[np.ndarray, bytes | None]:
    """RGB(A) uint8/uint16 pixels of a loaded Pillow image, and the profile that still applies."""
    mode = image.mode
    if mode in ("RGB", "RGBA"):
        return np.asarray(image), icc
    if mode == "F":
        raise ImageReadError(_float_refusal(name))
    rgb_icc = icc if _icc_colour_space(icc) == b"RGB " else None
    if icc and rgb_icc is None:
        notes.append("non-RGB colour profile converted to sRGB")
    if mode.startswith("I;16") or mode == "I":
        gray = np.asarray(image)
        if mode == "I":
            gray = np.clip(gray, 0, 65535)
        notes.append("16-bit grayscale converted to RGB")
        return np.repeat(gray.astype(np.uint16)[..., None], 3, axis=2), rgb_icc
    has_alpha = mode in ("LA", "PA", "La", "RGBa") or "transparency" in image.info
    target = "RGBA" if has_alpha else "RGB"
    notes.append(_CONVERSION_NOTES.get(mode, f"{mode} converted to RGB"))
    if icc and rgb_icc is None and not has_alpha:
        # A gray or CMYK profile cannot describe RGB pixels: convert through it to sRGB.
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            if converted is not None:
                return np.asarray(converted), srgb.tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return np.asarray(image.convert(target)), rgb_icc


_CONVERSION_NOTES = {
    "1": "black-and-white converted to RGB",
    "L": "grayscale converted to RGB",
    "LA": "grayscale converted to RGB",
    "La": "grayscale converted to RGB",
    "P": "palette converted to RGB",
    "PA": "palette converted to RGB",
    "CMYK": "CMYK converted to RGB",
}


def _icc_colour_space(icc: bytes | None) -> bytes | None:
    """The data colour space of an ICC profile (bytes 16-20 of its header: b"RGB ", b"GRAY", b"CMYK")."""
    return icc[16:20] if icc and len(icc) >= 20 else None


def _jpeg_subsampling(image: Image.Image) -> int | None:
    if image.format not in ("JPEG", "MPO"):  # MPO: phones' multi-picture JPEG
        return None
    from PIL import JpegImagePlugin

    sampling = JpegImagePlugin.get_sampling(image)
    return sampling if sampling in (0, 1, 2) else None


def _jpeg_quantization(image: Image.Image) -> dict[int, list[int]] | None:
    tables = getattr(image, "quantization", None) if image.format in ("JPEG", "MPO") else None
    return {int(index): list(table) for index, table in tables.items()} if tables else None


def output_format(path: str | os.PathLike[str]) -> str:
    """The Pillow format name for ``path``'s extension.

    Raises:
        ImageWriteError: the extension is missing or names no image format.
    """
    suffix = Path(path).suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
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
            _write_16bit_colour(pixels, Path(temporary), fmt, meta, warnings_out)
        elif pixels.dtype == np.uint16:
            _write_16bit_gray(pixels, Path(temporary), fmt, meta)
        else:
            _write_with_pillow(pixels, Path(temporary), fmt, meta, quality)
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
_PILLOW_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


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


def _write_16bit_gray(pixels: np.ndarray, path: Path, fmt: str, meta: Photo) -> None:
    import cv2

    if fmt not in ("PNG", "TIFF"):
        raise ImageWriteError(f"{path.name}: {fmt} cannot hold 16-bit gray; use .png or .tif.")
    ok, encoded = cv2.imencode(".png" if fmt == "PNG" else ".tif", pixels[..., 0])
    if not ok:
        raise ImageWriteError(f"{path.name}: OpenCV could not encode the 16-bit gray image.")
    data = encoded.tobytes()
    path.write_bytes(_png_with_metadata(data, None, meta.exif) if fmt == "PNG" else data)


def _write_with_pillow(pixels: np.ndarray, path: Path, fmt: str, meta: Photo, quality: int | None) -> None:
    channels = pixels.shape[2]
    image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, _PILLOW_MODES[channels])
    options: dict[str, Any] = {}
    if meta.icc_profile and channels >= 3:  # the kept profile describes RGB; a gray output goes without
        options["icc_profile"] = meta.icc_profile
    if meta.exif and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        options["exif"] = meta.exif
    if meta.dpi and fmt in ("JPEG", "PNG", "TIFF"):
        options["dpi"] = meta.dpi
    if fmt == "JPEG":
        options.update(subsampling=meta.jpeg_subsampling if meta.jpeg_subsampling is not None else 0)
        if quality is None and meta.jpeg_quantization and len(meta.jpeg_quantization) >= min(channels, 2):
            options.update(qtables=meta.jpeg_quantization)
        else:
            options.update(quality=quality or JPEG_QUALITY)
    elif fmt == "PNG":
        # Level 3 writes a 12 MP photo twice as fast as Pillow's default 6 (1.6 s vs 3.3 s CPU), ~15 % larger.
        options.update(compress_level=3)
    elif fmt == "WEBP":
        options.update(quality=quality or JPEG_QUALITY)
    elif fmt == "TIFF":
        options.update(compression="tiff_deflate")
    image.save(path, fmt, **options)


def _write_16bit_colour(pixels: np.ndarray, path: Path, fmt: str, meta: Photo, notes: list[str]) -> None:
    """16-bit RGB(A): PNG through OpenCV (ICC and EXIF chunks added), TIFF through tifffile."""
    import cv2

    if fmt == "PNG":
        converted = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(".png", converted, [cv2.IMWRITE_PNG_COMPRESSION, 3])
        if not ok:
            raise ImageWriteError(f"{path.name}: OpenCV could not encode the 16-bit PNG.")
        path.write_bytes(_png_with_metadata(encoded.tobytes(), meta.icc_profile, meta.exif))
    elif fmt == "TIFF":
        import tifffile

        tifffile.imwrite(
            path,
            pixels,
            photometric="rgb",
            extrasamples=[2] if pixels.shape[2] == 4 else None,  # 2 = unassociated alpha
            compression="zlib",
            iccprofile=meta.icc_profile,
        )
        if meta.exif:
            notes.append("EXIF not written: 16-bit TIFF output keeps pixels and ICC profile only")
    else:
        raise ImageWriteError(f"{path.name}: {fmt} cannot hold 16-bit colour; use .png or .tif.")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_with_metadata(png: bytes, icc: bytes | None, exif: bytes | None) -> bytes:
    """Insert iCCP and eXIf chunks right after IHDR (where the PNG spec wants iCCP)."""
    if not icc and not exif:
        return png
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    if exif:
        # PNG stores the bare TIFF structure, without JPEG's "Exif\0\0" prefix.
        extra += _png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    return png[:ihdr_end] + extra + png[ihdr_end:]
