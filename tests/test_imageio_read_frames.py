"""Files that hold more than one picture, and floating-point TIFFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from deepflash_client.errors import ImageReadError
from deepflash_core.imageio import load_photo
from imageio_samples import PORTRAIT



def _frames(count: int) -> list[Image.Image]:
    base = Image.open(PORTRAIT).convert("RGB")
    return [base.rotate(10 * index) for index in range(count)]


@pytest.mark.parametrize("suffix", [".gif", ".png", ".webp"])
def test_an_animation_is_refused_with_what_to_do(tmp_path: Path, suffix: str) -> None:
    frames = _frames(3)
    path = tmp_path / f"moving{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with pytest.raises(ImageReadError) as refused:
        load_photo(path)
    message = str(refused.value)
    assert "\n" not in message and "animation of 3 frames" in message and "save the frame" in message


def test_a_multi_page_tiff_is_refused_with_what_to_do(tmp_path: Path) -> None:
    frames = _frames(2)
    path = tmp_path / "pages.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.raises(ImageReadError, match="a TIFF of 2 pages; .* save the page you want"):
        load_photo(path)


def test_a_tiff_with_a_reduced_resolution_preview_is_read_as_its_photo(tmp_path: Path) -> None:
    pixels = np.asarray(Image.open(PORTRAIT).convert("RGB"))
    path = tmp_path / "with-preview.tif"
    with tifffile.TiffWriter(path) as tiff:
        tiff.write(pixels, photometric="rgb")
        tiff.write(pixels[::4, ::4], photometric="rgb", subfiletype=1)
    assert np.array_equal(load_photo(path).pixels, pixels)


def test_a_single_frame_gif_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "still.gif"
    _frames(1)[0].save(path)
    assert load_photo(path).pixels.shape[2] == 3


@pytest.mark.parametrize("shape", [(64, 64), (64, 64, 3)], ids=["gray", "rgb"])
def test_float32_tiff_gets_the_precise_message(tmp_path: Path, shape: tuple[int, ...]) -> None:
    path = tmp_path / "float.tif"
    tifffile.imwrite(path, np.random.default_rng(3).random(shape, dtype=np.float32),
                     photometric="rgb" if len(shape) == 3 else "minisblack")
    with pytest.raises(ImageReadError, match=r"^float\.tif: 32-bit floating-point images are not supported"):
        load_photo(path)


def test_a_phone_mpo_is_read_as_its_first_picture(tmp_path: Path) -> None:
    frames = _frames(2)
    path = tmp_path / "phone.jpg"
    frames[0].save(path, "MPO", save_all=True, append_images=frames[1:])
    photo = load_photo(path)
    assert photo.format == "MPO" and photo.pixels.shape[:2] == (frames[0].height, frames[0].width)
