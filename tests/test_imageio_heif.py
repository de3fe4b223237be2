"""HEIC/HEIF photos: read upright with ICC profile and EXIF kept, written when the output name asks, found in folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from imageio_samples import CAMERA_MAKE, PHONE_ICC, PORTRAIT, phone_heic, portrait_rgb
from deepflash_core.imageio import heif, load_photo, output_format, save_photo
from deepflash_app.batch.sources import list_photos


def test_a_phone_heic_is_read_upright_with_its_profile_and_exif(tmp_path: Path) -> None:
    photo = load_photo(phone_heic(tmp_path / "IMG_0001.HEIC"))
    upright = portrait_rgb()
    assert photo.pixels.shape == upright.shape and photo.pixels.dtype == np.uint8
    # Lossy HEVC at quality 95: close to the source, and upright (the turned copy would be far off).
    assert np.abs(photo.pixels.astype(int) - upright).mean() < 4
    assert photo.icc_profile == PHONE_ICC
    exif = Image.Exif()
    exif.load(photo.exif)
    assert exif.get(0x010F) == CAMERA_MAKE and exif.get(0x0112, 1) == 1


def test_a_heic_is_recognised_by_its_content_whatever_its_name(tmp_path: Path) -> None:
    renamed = phone_heic(tmp_path / "photo.heic").rename(tmp_path / "download.bin")
    assert heif.is_heif(renamed) and not heif.is_heif(PORTRAIT)
    assert load_photo(renamed).pixels.shape == portrait_rgb().shape


def test_heic_is_written_when_the_name_asks_with_metadata_kept(tmp_path: Path) -> None:
    photo = load_photo(phone_heic(tmp_path / "in.heic"))
    assert output_format(tmp_path / "out.heic") == output_format(tmp_path / "out.HEIF") == "HEIF"
    notes = save_photo(photo, tmp_path / "out.heic")
    assert notes == []
    with Image.open(tmp_path / "out.heic") as written:
        assert written.format == "HEIF" and written.size == (photo.width, photo.height)
        assert written.info.get("icc_profile") == PHONE_ICC
        assert written.getexif().get(0x010F) == CAMERA_MAKE
    again = load_photo(tmp_path / "out.heic")
    assert np.abs(again.pixels.astype(int) - photo.pixels).mean() < 4


def test_sixteen_bit_pixels_are_written_as_eight_bit_heic_with_a_note(tmp_path: Path) -> None:
    photo = load_photo(PORTRAIT)
    deep = photo.with_pixels(photo.pixels.astype(np.uint16) * 257)
    notes = save_photo(deep, tmp_path / "out.heic")
    assert any("8" in note for note in notes)
    assert load_photo(tmp_path / "out.heic").pixels.dtype == np.uint8


def test_folders_and_globs_list_heic_photos(tmp_path: Path) -> None:
    phone_heic(tmp_path / "IMG_0002.HEIC")
    (tmp_path / "notes.txt").write_text("not a photo")
    assert heif.readable_extensions() >= {".heic", ".heif"}
    photos, _ = list_photos([str(tmp_path)])
    assert [Path(p).name for p in photos] == ["IMG_0002.HEIC"]
