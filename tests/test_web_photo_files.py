"""The page's file buttons without a browser: a phone HEIC becomes an upright preview for the image box, and a
request reads the original file only while the box still shows that preview."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepflash_client.errors import ImageReadError, ImageTooLargeError
from deepflash_client.options import Options
from deepflash_core.corrector import InProcessCorrector
from deepflash_web.photo_files import file_types, open_file, original_of
from deepflash_web.service import CorrectionService, upload_path
from imageio_samples import CAMERA_MAKE, PHONE_ICC, phone_heic


@pytest.fixture(scope="module")
def service(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> CorrectionService:
    corrector = InProcessCorrector.load(weights=tiny_weights, device="cpu")
    return CorrectionService(corrector, output_root=tmp_path_factory.mktemp("web-results"))


def as_sent(path: Path, name: str) -> dict:
    """An image box's value as Gradio sends it back: its cached copy, under its own name."""
    return {"path": str(path), "orig_name": name}


def test_the_buttons_offer_every_format_the_core_reads() -> None:
    offered = file_types()
    assert {".heic", ".heif", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"} <= set(offered)
    assert all(ext.startswith(".") and ext == ext.lower() for ext in offered)


def test_a_phone_heic_is_previewed_upright_and_corrected_from_the_original(
        service: CorrectionService, portrait_path: Path, tmp_path: Path) -> None:
    upload = phone_heic(tmp_path / "IMG_0004.HEIC", portrait_path)  # stored sideways, EXIF orientation 6
    opened = open_file(service, as_sent(upload, "IMG_0004.HEIC"))
    assert opened.original == upload and opened.name == "IMG_0004.HEIC"
    with Image.open(opened.preview) as preview, Image.open(portrait_path) as upright:
        assert preview.format == "JPEG" and preview.size == upright.size  # turned upright, as the correction sees it
        shown = np.asarray(preview.convert("L"), dtype=float)
        assert np.abs(shown - np.asarray(upright.convert("L"), dtype=float)).mean() < 8

    # The box shows the preview (a copy in Gradio's cache, same name): the request reads the original.
    cached = tmp_path / "cache" / opened.preview.name
    read, name = upload_path(original_of(as_sent(cached, opened.preview.name), opened))
    assert (read, name) == (upload, "IMG_0004.HEIC")
    result = service.run(read, Options(), name=name)
    assert result.download.name == "IMG_0004-deepflash.HEIC"
    with Image.open(result.download) as corrected:
        assert corrected.format == "HEIF" and corrected.size == (225, 275)
        assert corrected.info.get("icc_profile") == PHONE_ICC and corrected.getexif().get(0x010F) == CAMERA_MAKE


def test_anything_else_in_the_box_is_read_as_it_is(service: CorrectionService, portrait_path: Path,
                                                   tmp_path: Path) -> None:
    opened = open_file(service, as_sent(phone_heic(tmp_path / "IMG_0005.HEIC", portrait_path), "IMG_0005.HEIC"))
    dropped = as_sent(portrait_path, portrait_path.name)  # a photo dropped into the box since, or an example
    assert original_of(dropped, opened) is dropped
    assert original_of(None, opened) is None  # the box was cleared: nothing to correct
    assert original_of(dropped, None) is dropped  # no file opened in this session


def test_a_file_that_cannot_be_read_is_one_line_before_any_preview(service: CorrectionService, tmp_path: Path) -> None:
    broken = tmp_path / "IMG_0006.HEIC"
    broken.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"not a photo" * 40)
    with pytest.raises(ImageReadError, match="^IMG_0006.HEIC: ") as caught:
        open_file(service, as_sent(broken, "IMG_0006.HEIC"))
    assert "\n" not in str(caught.value)
    with pytest.raises(ImageReadError, match="Upload a photo first"):
        open_file(service, None)


def test_an_opened_file_above_the_pixel_limit_is_refused_before_decoding(
        tiny_weights: Path, portrait_path: Path, tmp_path: Path) -> None:
    small = CorrectionService(InProcessCorrector.load(weights=tiny_weights, device="cpu"), max_megapixels=0.05,
                              output_root=tmp_path / "results")
    with pytest.raises(ImageTooLargeError, match="IMG_0007.HEIC: 225x275"):
        open_file(small, as_sent(phone_heic(tmp_path / "IMG_0007.HEIC", portrait_path), "IMG_0007.HEIC"))
    assert not any((tmp_path / "results").iterdir())  # no preview written
