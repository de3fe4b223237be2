"""Reading any image Pillow understands as an upright RGB(A) photo, 8 or 16 bits a channel as stored.

EXIF orientation is applied to the pixels (and reset to 1 in the kept EXIF); grayscale, palette and
CMYK files become RGB, with a note; colour images of 16 bits a channel, which Pillow would cut to 8,
are decoded by OpenCV. Animations, multi-page files and floating-point images are refused with one line.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from deepflash_client.errors import ImageReadError, ImageTooLargeError
from deepflash_core.imageio import heif
from deepflash_core.imageio.photo import Photo

# Larger than any phone photo (200 MP sensors bin to 50 MP) but below Pillow's own bomb limit
# (2 x 89.5 MP), so this check always speaks first; the environment variable raises it.
MAX_PIXELS = int(os.environ.get("DEEPFLASH_MAX_PIXELS", 120_000_000))
# A face the detector can find needs about 40 pixels; nothing smaller is a portrait.
MIN_SIDE = 32

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


def load_photo(path: str | os.PathLike[str]) -> Photo:
    """Read any image Pillow understands as an upright RGB(A) photo.

    Raises:
        ImageReadError: missing, empty, truncated, not an image, or too small to hold a face.
        ImageTooLargeError: more than ``MAX_PIXELS`` pixels (a decompression bomb or a huge scan).
    """
    path = Path(path)
    name = path.name
    if not path.exists():
        if path.is_symlink():
            raise ImageReadError(f"{path}: a symbolic link that leads nowhere (a loop, or its target is gone).")
        raise ImageReadError(f"{path}: no such file.")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image.")
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImageReadError(f"{path}: cannot be read ({error.strerror or error}).") from None
    if size == 0:
        raise ImageReadError(f"{name}: the file is empty.")
    if heif.is_heif(path):
        heif.register()
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
        if heif.is_heif(path) and not heif.register():
            raise ImageReadError(f"{name}: reading HEIC photos needs the pillow-heif package, which ./install.sh installs.") from None
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
    if sampling == -1 and len(getattr(image, "layer", ())) >= 3:
        # Pillow names the sampling of three-component files only; a CMYK one's first component is sampled
        # against the others the same way: 2x2 -> 4:2:0, 2x1 -> 4:2:2, 1x1 -> 4:4:4.
        first, second = image.layer[0][1:3], image.layer[1][1:3]
        sampling = {(1, 1): 0, (2, 1): 1, (2, 2): 2}.get((first[0] // second[0], first[1] // second[1]), -1)
    return sampling if sampling in (0, 1, 2) else None


def _jpeg_quantization(image: Image.Image) -> dict[int, list[int]] | None:
    tables = getattr(image, "quantization", None) if image.format in ("JPEG", "MPO") else None
    return {int(index): list(table) for index, table in tables.items()} if tables else None

