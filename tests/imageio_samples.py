"""Sample photos and files for the image reading and writing tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageCms
from portraits import EXAMPLES

PORTRAIT = EXAMPLES / "congress_A000014.jpg"


def portrait_rgb() -> np.ndarray:
    return np.asarray(Image.open(PORTRAIT).convert("RGB"))


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def rgba16(height: int = 48, width: int = 40) -> np.ndarray:
    """A 16-bit RGBA image using the full range, including values no 8-bit image can hold."""
    rng = np.random.default_rng(7)
    return rng.integers(0, 65536, (height, width, 4), dtype=np.uint16)


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def save_image(path: Path, image: Image.Image) -> Path:
    image.save(path)
    return path


CAMERA_MAKE = "DeepFlash test phone"
PHONE_ICC = srgb_icc()  # made once: a profile's header holds the time it was made


def phone_heic(path: Path, source: Path = PORTRAIT) -> Path:
    """A HEIC as a phone held sideways writes it: the photo stored turned, EXIF orientation 6, sRGB profile, a camera make.

    Made at test time from a bundled JPEG with pillow-heif (skips the test when it is missing).
    """
    import pytest

    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    stored = Image.open(source).convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    exif[0x010F] = CAMERA_MAKE
    stored.save(path, format="HEIF", quality=95, exif=exif.tobytes(), icc_profile=PHONE_ICC)
    return path
