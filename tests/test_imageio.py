"""Photo reading and writing: bit depth, alpha, orientation, colour modes, metadata, bad files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, JpegImagePlugin

from deepflash_core import imageio
from deepflash_core.errors import ImageReadError, ImageTooLargeError, ImageWriteError
from deepflash_core.imageio import Photo, load_photo, save_photo

FIXTURES = Path(__file__).parent / "fixtures"
PORTRAIT = FIXTURES / "congress_A000014.jpg"


def portrait_rgb() -> np.ndarray:
    return np.asarray(Image.open(PORTRAIT).convert("RGB"))


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def rgba16(height: int = 48, width: int = 40) -> np.ndarray:
    """A 16-bit RGBA image using the full range, including values no 8-bit image can hold."""
    rng = np.random.default_rng(7)
    return rng.integers(0, 65536, (height, width, 4), dtype=np.uint16)


def write_png16(path: Path, rgba: np.ndarray) -> None:
    channels = rgba.shape[2]
    code = cv2.COLOR_RGBA2BGRA if channels == 4 else cv2.COLOR_RGB2BGR
    assert cv2.imwrite(str(path), cv2.cvtColor(rgba, code))


def test_jpeg_loads_as_rgb_uint8_with_its_subsampling() -> None:
    photo = load_photo(PORTRAIT)
    assert photo.pixels.shape == (275, 225, 3) and photo.pixels.dtype == np.uint8
    assert photo.format == "JPEG"
    assert photo.jpeg_subsampling == JpegImagePlugin.get_sampling(Image.open(PORTRAIT))
    assert np.array_equal(photo.pixels, portrait_rgb())
    assert photo.pixels.flags.c_contiguous


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


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


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
    "one_pixel": lambda tmp: _save(tmp / "one.png", Image.new("RGB", (1, 1))),
    "tiny": lambda tmp: _save(tmp / "tiny.png", Image.new("RGB", (20, 300))),
}


def _save(path: Path, image: Image.Image) -> Path:
    image.save(path)
    return path


def _corrupt_png_body() -> bytes:
    buffer = io.BytesIO()
    Image.open(PORTRAIT).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    return bytes(data)


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


def test_heic_without_its_plugin_says_what_to_install(tmp_path: Path) -> None:
    # The message only applies when pillow-heif is absent.
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pillow-heif is installed here, so HEIC files are readable")
    source = write_bytes(tmp_path / "IMG_0001.HEIC", b"\x00\x00\x00\x18ftypheic" + bytes(200))
    with pytest.raises(ImageReadError, match="pillow-heif"):
        load_photo(source)


def test_too_many_pixels_raises_image_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _save(tmp_path / "big.png", Image.new("RGB", (600, 500)))
    monkeypatch.setattr(imageio, "MAX_PIXELS", 200_000)
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
    source = _save(tmp_path / f"gray{suffix}", image)
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
