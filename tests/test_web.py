"""The web page's API, driven by gradio_client against a launched app with a tiny random model.

Random weights check plumbing, not quality: the right file comes back, in the upload's format, size,
bit depth and alpha, upright, and every bad input gets a one-line message instead of a traceback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the web extra is not installed")

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
from gradio_client.utils import Status  # noqa: E402

from deepflash_client.errors import ImageTooLargeError  # noqa: E402
from deepflash_client.options import Options  # noqa: E402
from deepflash_core.corrector import InProcessCorrector  # noqa: E402
from deepflash_web.app import build_app, launch_app  # noqa: E402
from deepflash_web.previews import draw_faces  # noqa: E402
from deepflash_web.service import CorrectionService  # noqa: E402

# Gradio's queue calls pandas APIs that pandas 3 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

FACE_COLOUR = (255, 196, 0)


def amber(pixels: np.ndarray) -> np.ndarray:
    """Where ``pixels`` have the face-box colour, give or take JPEG."""
    return np.abs(pixels[..., :3].astype(int) - FACE_COLOUR).max(axis=2) < 40


@pytest.fixture(scope="module")
def corrector(tiny_weights: Path) -> InProcessCorrector:
    return InProcessCorrector.load(weights=tiny_weights, device="cpu")


@contextmanager
def page_client(corrector, output_root: Path) -> Iterator[Client]:
    """A launched page correcting with ``corrector``, and a gradio_client of it; closed afterwards."""
    demo = build_app(CorrectionService(corrector, output_root=output_root))
    url = launch_app(demo, port=None, block=False, quiet=True)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(corrector: InProcessCorrector, tmp_path_factory: pytest.TempPathFactory):
    with page_client(corrector, tmp_path_factory.mktemp("web-results")) as page:
        yield page


def correct(client: Client, path: Path, strength: float = 1.0, mode: str = "faces", background: str = "keep",
            red_eye: bool = True, show_matte: bool = False) -> tuple:
    return client.predict(handle_file(str(path)), strength, mode, background, red_eye, show_matte, api_name="/correct")


def error_of(client: Client, path: Path, **options) -> str:
    with pytest.raises(AppError) as caught:
        correct(client, path, **options)
    message = str(caught.value)
    assert "Traceback" not in message and "\n" not in message.strip()
    return message


def test_portrait_comes_back_in_its_format_and_size(client: Client, portrait_path: Path) -> None:
    (before, after), faces, download, summary, matte = correct(client, portrait_path)
    assert matte is None  # not asked for
    with Image.open(portrait_path) as original, Image.open(download) as result:
        assert result.format == "JPEG" and result.size == original.size and result.mode == original.mode
    assert Path(download).name == "congress_A000014-deepflash.jpg"
    assert "**1 face**" in summary
    before_px, after_px = np.asarray(Image.open(before)), np.asarray(Image.open(after))
    assert before_px.shape == after_px.shape == (275, 225, 3)
    assert not np.array_equal(before_px, after_px)
    assert amber(np.asarray(Image.open(faces))).sum() > 100 and not amber(before_px).any()


def test_png_alpha_survives_untouched(client: Client, portrait_path: Path, tmp_path: Path) -> None:
    rgb = np.asarray(Image.open(portrait_path).convert("RGB"))
    alpha = np.tile(np.linspace(40, 255, rgb.shape[1]).astype(np.uint8), (rgb.shape[0], 1))
    upload = tmp_path / "cut-out.png"
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(upload)

    (_, after), _, download, _, _ = correct(client, upload)
    result = np.asarray(Image.open(download))
    assert Path(download).suffix == ".png" and result.shape == (275, 225, 4)
    assert np.array_equal(result[..., 3], alpha)
    assert not np.array_equal(result[..., :3], rgb)
    assert np.asarray(Image.open(after)).shape[2] == 4  # the slider preview keeps alpha too


def test_sixteen_bit_png_stays_sixteen_bit(client: Client, portrait_path: Path, tmp_path: Path) -> None:
    bgr = cv2.imread(str(portrait_path)).astype(np.uint16) * 257
    upload = tmp_path / "deep.png"
    cv2.imwrite(str(upload), bgr)
    _, _, download, summary, _ = correct(client, upload, mode="whole")
    result = cv2.imread(download, cv2.IMREAD_UNCHANGED)
    assert result.dtype == np.uint16 and result.shape == bgr.shape
    assert "16-bit" in summary


def test_exif_rotated_phone_photo_is_corrected_upright(client: Client, portrait_path: Path, tmp_path: Path) -> None:
    upright = Image.open(portrait_path).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a phone held sideways writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    upload = tmp_path / "sideways.jpg"
    stored.save(upload, quality=95, exif=exif)

    _, _, download, summary, _ = correct(client, upload)  # faces mode: only finds the face if rotated first
    with Image.open(download) as result:
        assert result.size == upright.size
        assert result.getexif().get(0x0112, 1) == 1
    assert "**1 face**" in summary


def test_a_phone_heic_upload_comes_back_as_an_upright_heic_with_its_metadata(client: Client, portrait_path: Path,
                                                                              tmp_path: Path) -> None:
    from imageio_samples import CAMERA_MAKE, PHONE_ICC, phone_heic

    upload = phone_heic(tmp_path / "IMG_0004.HEIC", portrait_path)
    _, _, download, summary, _ = correct(client, upload)
    assert Path(download).name == "IMG_0004-deepflash.HEIC"  # the upload's own name and format
    with Image.open(download) as result, Image.open(portrait_path) as upright:
        assert result.format == "HEIF" and result.size == upright.size
        assert result.info.get("icc_profile") == PHONE_ICC
        assert result.getexif().get(0x010F) == CAMERA_MAKE
    assert "**1 face**" in summary


def test_the_api_takes_the_form_s_eight_values_and_not_the_session_s_opened_files(client: Client) -> None:
    # The files opened through the page's file buttons are session state, never parameters of /correct.
    for endpoint, names in {"/correct": ["photo", "strength", "mode", "background", "red_eye", "show_matte", "look",
                                         "reference"],
                            "/look_sweep": ["photo", "strength", "mode", "background", "red_eye", "reference"]}.items():
        parameters = client.view_api(print_info=False, return_format="dict")["named_endpoints"][endpoint]["parameters"]
        assert [parameter["parameter_name"] for parameter in parameters] == names


def test_corrupt_file_gets_a_clear_message(client: Client, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 20)
    message = error_of(client, broken)
    assert "broken.jpg" in message and "image" in message


def test_photo_without_a_face_asks_for_whole_image_mode(client: Client, tmp_path: Path) -> None:
    wall = tmp_path / "wall.png"
    Image.fromarray(np.full((120, 160, 3), 128, np.uint8)).save(wall)
    assert "face" in error_of(client, wall).lower()
    _, _, download, summary, _ = correct(client, wall, mode="whole")
    assert Image.open(download).size == (160, 120) and "whole image" in summary


def test_out_of_range_strength_is_refused(client: Client, portrait_path: Path) -> None:
    assert "strength" in error_of(client, portrait_path, strength=1.5)


def test_upload_size_limit_is_enforced(corrector: InProcessCorrector, tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (800, 800, 3), dtype=np.uint8)
    upload = tmp_path / "noise.png"  # about 1.9 MB: noise does not compress
    Image.fromarray(noise).save(upload)
    demo = build_app(CorrectionService(corrector, output_root=tmp_path / "results"))
    url = launch_app(demo, port=None, max_upload_mb=1, block=False, quiet=True)
    try:
        with pytest.raises(Exception, match="maximum file size"):
            correct(Client(url, verbose=False), upload, mode="whole")
    finally:
        demo.close()


def test_pixel_limit_is_checked_before_decoding(corrector: InProcessCorrector, portrait_path: Path,
                                                tmp_path: Path) -> None:
    service = CorrectionService(corrector, max_megapixels=0.05, output_root=tmp_path)
    with pytest.raises(ImageTooLargeError, match="225x275"):
        service.run(portrait_path, Options())


def test_face_boxes_are_drawn_at_preview_scale() -> None:
    preview = np.zeros((100, 200, 4), np.uint8)
    drawn = draw_faces(preview, [(100, 40, 300, 160)], scale=0.5)
    marked = np.all(drawn == FACE_COLOUR, axis=2)
    assert drawn.shape == (100, 200, 3)
    assert marked[20:80, 50].any() and marked[20:80, 149].any() and not marked[:, :45].any()


class GatedCorrector:
    """The real corrector, held at a gate so the test decides when a photo may finish."""

    def __init__(self, inner: InProcessCorrector) -> None:
        self.inner = inner
        self.description = inner.description
        self.started = threading.Semaphore(0)
        self.gate = threading.Event()

    def correct(self, *args, **kwargs):
        self.started.release()
        assert self.gate.wait(timeout=60), "the test never opened the gate"
        return self.inner.correct(*args, **kwargs)


def test_queue_runs_one_photo_at_a_time_and_turns_away_the_overflow(
        corrector: InProcessCorrector, portrait_path: Path, tmp_path: Path) -> None:
    gated = GatedCorrector(corrector)
    demo = build_app(CorrectionService(gated, output_root=tmp_path), concurrency=1, queue_size=1)
    url = launch_app(demo, port=None, block=False, quiet=True)
    try:
        client = Client(url, verbose=False)

        def submit():
            return client.submit(handle_file(str(portrait_path)), 1.0, "faces", api_name="/correct")

        first = submit()
        assert gated.started.acquire(timeout=60)  # the first photo is being corrected
        second = submit()
        deadline = time.monotonic() + 60
        while second.status().code != Status.IN_QUEUE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.status().code == Status.IN_QUEUE  # waiting: the concurrency limit is 1
        assert not gated.started.acquire(timeout=0.5)
        with pytest.raises(Exception, match="[Qq]ueue is full"):
            submit().result(timeout=60)
        gated.gate.set()
        for job in (first, second):
            assert Path(job.result(timeout=120)[2]).name == "congress_A000014-deepflash.jpg"
    finally:
        gated.gate.set()
        demo.close()
