"""Photo reading: bit depth, alpha, orientation, colour modes, metadata, bad files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, JpegImagePlugin

from deepflash_client.errors import ImageReadError, ImageTooLargeError
from deepflash_core import imageio
from deepflash_core.imageio import load_photo, save_photo
from imageio_samples import PORTRAIT, portrait_rgb, rgba16, save_image, srgb_icc, write_bytes


def jpeg_bytes() -> bytes:
    return PORTRAIT.read_bytes()


BAD_INPUTS = {
    "missing": lambda tmp: tmp / "nothing-here.jpg",
    "folder": lambda tmp: tmp,
    "empty": lambda tmp: write_bytes(tmp / "empty.jpg", b""),
    "truncated": lambda tmp: write_bytes(tmp / "truncated.jpg", jpeg_bytes()[:2000]),
    "text": lambda tmp: write_bytes(tmp / "notes.jpg", b"these are not pixels\n" * 20),
    "garbage": lambda tmp: write_bytes(tmp / "garbage.png", np.random.default_rng(1).bytes(5000)),
    "bad_png_body": lambda tmp: write_bytes(tmp / "body.png", _corrupt_png_body()),
    "one_pixel": lambda tmp: save_image(tmp / "one.png", Image.new("RGB", (1, 1))),
    "tiny": lambda tmp: save_image(tmp / "tiny.png", Image.new("RGB", (20, 300))),
}


def _corrupt_png_body() -> bytes:
    buffer = io.BytesIO()
    Image.open(PORTRAIT).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    return bytes(data)


def test_jpeg_loads_as_rgb_uint8_with_its_subsampling() -> None:
    photo = load_photo(PORTRAIT)
    assert photo.pixels.shape == (275, 225, 3) and photo.pixels.dtype == np.uint8
    assert photo.format == "JPEG"
    assert photo.jpeg_subsampling == JpegImagePlugin.get_sampling(Image.open(PORTRAIT))
    assert np.array_equal(photo.pixels, portrait_rgb())
    assert photo.pixels.flags.c_contiguous


def test_16bit_grayscale_png_becomes_16bit_rgb(tmp_path: Path) -> None:
    gray = rgba16()[..., 0].copy()
    source = tmp_path / "gray16.png"
    Image.fromarray(gray).save(source)
    photo = load_photo(source)
    assert photo.pixels.dtype == np.uint16 and photo.pixels.shape == gray.shape + (3,)
    assert all(np.array_equal(photo.pixels[..., c], gray) for c in range(3))


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_exif_rotated_jpeg_comes_out_upright(tmp_path: Path, orientation: int) -> None:
    # Store the upright portrait as a camera would: pixels transformed, orientation tag set.
    upright = Image.open(PORTRAIT).convert("RGB")
    inverse = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }[orientation]
    stored = upright.transpose(inverse)
    exif = Image.Exif()
    exif[imageio.EXIF_ORIENTATION] = orientation
    source = tmp_path / "rotated.png"  # lossless, so the comparison is exact
    stored.save(source, exif=exif.tobytes())
    photo = load_photo(source)
    assert np.array_equal(photo.pixels, np.asarray(upright))
    # Written back upright with orientation 1, so no viewer rotates it twice.
    out = tmp_path / "out.jpg"
    save_photo(photo, out)
    with Image.open(out) as written:
        assert written.size == upright.size
        assert written.getexif().get(imageio.EXIF_ORIENTATION) == 1


def test_rotated_jpeg_keeps_other_exif_tags_and_subsampling(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[imageio.EXIF_ORIENTATION] = 6
    exif[0x0110] = "Phone 13"  # Model
    source = tmp_path / "phone.jpg"
    Image.open(PORTRAIT).save(source, quality=90, subsampling=1, exif=exif.tobytes(), icc_profile=srgb_icc())
    photo = load_photo(source)
    assert photo.pixels.shape == (225, 275, 3)
    out = tmp_path / "out.jpg"
    save_photo(photo, out)
    with Image.open(out) as written:
        assert written.getexif()[0x0110] == "Phone 13"
        assert JpegImagePlugin.get_sampling(written) == 1
        assert written.info["icc_profile"] == srgb_icc()


@pytest.mark.parametrize(("mode", "suffix", "note"), [("CMYK", ".jpg", "CMYK"), ("L", ".png", "grayscale"), ("P", ".png", "palette"), ("1", ".png", "black-and-white")])
def test_other_colour_modes_become_rgb(tmp_path: Path, mode: str, suffix: str, note: str) -> None:
    source = tmp_path / f"converted{suffix}"
    Image.open(PORTRAIT).convert(mode).save(source)
    photo = load_photo(source)
    assert photo.pixels.shape == (275, 225, 3) and photo.pixels.dtype == np.uint8
    assert photo.source_mode == mode
    assert any(note in text for text in photo.notes)
    reference = np.asarray(Image.open(source).convert("RGB")).astype(int)
    assert np.abs(photo.pixels.astype(int) - reference).max() <= 2
    if mode in ("L", "1"):
        assert np.array_equal(photo.pixels[..., 0], photo.pixels[..., 2])


def test_palette_with_transparency_becomes_rgba(tmp_path: Path) -> None:
    image = Image.open(PORTRAIT).convert("P")
    source = tmp_path / "transparent.png"
    image.save(source, transparency=0)
    photo = load_photo(source)
    assert photo.pixels.shape[2] == 4
    index = np.asarray(image)
    assert np.array_equal(photo.alpha == 0, index == 0)


def test_gray_profile_is_not_carried_onto_rgb_pixels(tmp_path: Path) -> None:
    gray_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    source = tmp_path / "gray.jpg"
    Image.open(PORTRAIT).convert("L").save(source, icc_profile=gray_profile)
    photo = load_photo(source)
    assert photo.icc_profile is None or photo.icc_profile[16:20] == b"RGB "


def test_8bit_rgba_png_alpha_passes_through(tmp_path: Path) -> None:
    rgb = portrait_rgb()
    alpha = np.tile(np.arange(rgb.shape[1], dtype=np.uint8), (rgb.shape[0], 1))
    rgba = np.dstack([rgb, alpha])
    source = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(source)
    photo = load_photo(source)
    assert np.array_equal(photo.pixels, rgba)
    out = tmp_path / "out.webp"
    save_photo(photo, out, quality=100)
    assert np.array_equal(np.asarray(Image.open(out))[..., 3], alpha)


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_every_unreadable_input_raises_a_one_line_image_read_error(tmp_path: Path, kind: str) -> None:
    path = BAD_INPUTS[kind](tmp_path)
    with pytest.raises(ImageReadError) as caught:
        load_photo(path)
    message = str(caught.value)
    assert message and "\n" not in message
    assert "Traceback" not in message


def test_truncated_file_is_an_error_even_if_pillow_was_told_to_accept_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    source = write_bytes(tmp_path / "cut.jpg", jpeg_bytes()[:3000])
    with pytest.raises(ImageReadError, match="truncated"):
        load_photo(source)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_a_damaged_heic_is_one_line(tmp_path: Path) -> None:
    source = write_bytes(tmp_path / "IMG_0001.HEIC", b"\x00\x00\x00\x18ftypheic" + bytes(200))
    with pytest.raises(ImageReadError, match="IMG_0001.HEIC") as raised:
        load_photo(source)
    assert "\n" not in str(raised.value)


def test_too_many_pixels_raises_image_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = save_image(tmp_path / "big.png", Image.new("RGB", (600, 500)))
    monkeypatch.setattr(imageio.read, "MAX_PIXELS", 200_000)
    with pytest.raises(ImageTooLargeError, match="megapixels"):
        load_photo(source)


def test_decompression_bomb_header_is_refused_before_decoding(tmp_path: Path) -> None:
    # A PNG header that claims 100000 x 100000 pixels: refused from the header alone.
    buffer = io.BytesIO()
    Image.new("L", (64, 64)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data[8:33]
    import struct
    import zlib

    body = bytes(ihdr[4:8]) + struct.pack(">II", 100_000, 100_000) + bytes(ihdr[16:21])
    data[8:33] = struct.pack(">I", 13) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    source = write_bytes(tmp_path / "bomb.png", bytes(data))
    with pytest.raises(ImageTooLargeError):
        load_photo(source)
