"""Photo writing: lossless round trips, what a format gives up, grayscale back as grayscale, failed writes."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from deepflash_client.errors import ImageWriteError
from deepflash_core import imageio
from deepflash_core.imageio import Photo, load_photo, save_photo
from imageio_samples import PORTRAIT, portrait_rgb, rgba16, save_image, srgb_icc, write_bytes


def write_png16(path: Path, rgba: np.ndarray) -> None:
    channels = rgba.shape[2]
    code = cv2.COLOR_RGBA2BGRA if channels == 4 else cv2.COLOR_RGB2BGR
    assert cv2.imwrite(str(path), cv2.cvtColor(rgba, code))


@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_png_round_trip_is_bit_exact(tmp_path: Path, channels: int) -> None:
    pixels = rgba16()[..., :channels].copy()
    source = tmp_path / "in.png"
    write_png16(source, pixels)
    photo = load_photo(source)
    assert photo.pixels.dtype == np.uint16 and photo.bit_depth == 16
    assert np.array_equal(photo.pixels, pixels)
    if channels == 4:
        assert np.array_equal(photo.alpha, pixels[..., 3])
    out = tmp_path / "out.png"
    save_photo(photo, out)
    again = load_photo(out)
    assert np.array_equal(again.pixels, pixels)


def test_16bit_tiff_round_trip_is_bit_exact_and_keeps_icc(tmp_path: Path) -> None:
    pixels = rgba16()
    source = tmp_path / "in.tif"
    assert cv2.imwrite(str(source), cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA))
    photo = load_photo(source)
    assert np.array_equal(photo.pixels, pixels)
    photo.icc_profile = srgb_icc()
    out = tmp_path / "out.tiff"
    save_photo(photo, out)
    again = load_photo(out)
    assert np.array_equal(again.pixels, pixels)
    assert again.icc_profile == photo.icc_profile


def test_16bit_png_with_alpha_keeps_icc_and_exif(tmp_path: Path) -> None:
    pixels = rgba16()
    exif = Image.Exif()
    exif[0x010F] = "DeepFlash test camera"  # Make
    photo = Photo(pixels=pixels, icc_profile=srgb_icc(), exif=exif.tobytes())
    out = tmp_path / "meta.png"
    save_photo(photo, out)
    with Image.open(out) as image:
        assert image.info["icc_profile"] == photo.icc_profile
        assert image.getexif()[0x010F] == "DeepFlash test camera"
    assert np.array_equal(load_photo(out).pixels, pixels)


def test_saving_16bit_or_alpha_to_jpeg_reports_what_was_given_up(tmp_path: Path) -> None:
    photo = Photo(pixels=rgba16())
    notes = save_photo(photo, tmp_path / "out.jpg")
    assert any("8 bits" in note for note in notes) and any("alpha" in note for note in notes)
    written = np.asarray(Image.open(tmp_path / "out.jpg"))
    assert written.shape == (48, 40, 3) and written.dtype == np.uint8


def test_float_pixels_are_written_as_16bit(tmp_path: Path) -> None:
    values = np.linspace(0, 1, 48 * 40 * 3, dtype=np.float32).reshape(48, 40, 3)
    save_photo(Photo(pixels=values), tmp_path / "float.png")
    back = load_photo(tmp_path / "float.png").pixels
    assert back.dtype == np.uint16
    assert np.abs(back / 65535.0 - values).max() < 1e-5


@pytest.mark.parametrize("name", ["out.xyz", "no_extension"])
def test_unknown_output_format_raises_image_write_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(ImageWriteError):
        save_photo(load_photo(PORTRAIT), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_missing_output_folder_raises_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match="does not exist"):
        save_photo(load_photo(PORTRAIT), tmp_path / "absent" / "out.jpg")


def test_failed_encode_leaves_no_partial_file(tmp_path: Path) -> None:
    # XBM holds only black-and-white pixels: Pillow refuses RGB after the file was opened.
    with pytest.raises(ImageWriteError):
        save_photo(Photo(pixels=portrait_rgb()), tmp_path / "out.xbm")
    assert list(tmp_path.iterdir()) == []


def test_with_pixels_refuses_a_different_shape() -> None:
    photo = load_photo(PORTRAIT)
    assert photo.with_pixels(photo.pixels[::-1].copy()).icc_profile == photo.icc_profile
    with pytest.raises(ValueError):
        photo.with_pixels(photo.pixels[:10])


@pytest.mark.parametrize(("mode", "suffix"), [("L", ".png"), ("L", ".jpg"), ("LA", ".png")])
def test_grayscale_source_is_written_back_as_grayscale(tmp_path: Path, mode: str, suffix: str) -> None:
    gray = np.asarray(Image.fromarray(portrait_rgb()).convert("L"))
    image = Image.fromarray(gray, "L") if mode == "L" else Image.merge("LA", [Image.fromarray(gray), Image.fromarray(255 - gray)])
    source = save_image(tmp_path / f"gray{suffix}", image)
    photo = load_photo(source)
    assert photo.pixels.shape[2] == (4 if mode == "LA" else 3)  # the pipeline works on RGB(A)
    save_photo(photo, tmp_path / f"out{suffix}")
    with Image.open(tmp_path / f"out{suffix}") as out:
        assert out.mode == mode
        if suffix == ".png":  # lossless: unchanged gray pixels come back bit for bit
            assert np.array_equal(np.asarray(out), np.asarray(Image.open(source)))


def test_16bit_grayscale_png_is_written_back_as_16bit_grayscale(tmp_path: Path) -> None:
    gray = (np.arange(48 * 40, dtype=np.uint32).reshape(48, 40) * 33 % 65536).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", gray)
    source = write_bytes(tmp_path / "gray16.png", encoded.tobytes())
    photo = load_photo(source)
    save_photo(photo, tmp_path / "out.png")
    written = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.ndim == 2
    assert np.array_equal(written, gray)


def test_luminance_matches_pillow_and_keeps_gray_exact() -> None:
    rgb = portrait_rgb()
    assert np.array_equal(imageio.luminance(rgb), np.asarray(Image.fromarray(rgb).convert("L")))
    levels = np.arange(0, 65536, 257, dtype=np.uint16)
    assert np.array_equal(imageio.luminance(np.repeat(levels[None, :, None], 3, axis=2))[0], levels)


def test_written_photo_gets_the_usual_file_mode_not_the_temporary_files(tmp_path: Path) -> None:
    mask = os.umask(0o027)
    try:
        save_photo(Photo(pixels=portrait_rgb()), tmp_path / "out.png")
    finally:
        os.umask(mask)
    assert (tmp_path / "out.png").stat().st_mode & 0o777 == 0o640
