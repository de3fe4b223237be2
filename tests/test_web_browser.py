"""The web page in a real headless Chromium: upload a portrait, press the button, see before and after.

Needs Debian's ``chromium`` and the Python ``playwright`` package (installed by tests/install-test-tools.sh);
Playwright drives the system browser, it never downloads one. Saves a screenshot of the page (see SCREENSHOT),
which the documentation shows: so the page runs the bundled weights when they are installed (the tiny
random model otherwise, or DEEPFLASH_WEB_TEST_WEIGHTS); the assertions check plumbing either way.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the web extra is not installed")
playwright_api = pytest.importorskip("playwright.sync_api", reason="run tests/install-test-tools.sh (playwright)")

from deepflash_app import examples  # noqa: E402
from deepflash_app import examples  # noqa: E402
from deepflash_core.corrector import InProcessCorrector  # noqa: E402
from deepflash_core.network.weights import DEFAULT_WEIGHTS  # noqa: E402
from deepflash_web.app import build_app, launch_app  # noqa: E402
from deepflash_web.looks import REFERENCE, look_choices  # noqa: E402
from deepflash_web.service import CorrectionService  # noqa: E402
from portraits import EXAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")]

CHROMIUM = os.environ.get("DEEPFLASH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# This machine has no network: without the background-networking flags Chromium keeps dialling out.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The screenshot goes to a temporary folder, so a test run never edits tracked files; the committed
# docs/web_demo.png is refreshed with DEEPFLASH_SCREENSHOTS=docs python -m pytest tests/test_web_browser.py
SCREENSHOT = Path(os.environ.get("DEEPFLASH_SCREENSHOTS") or tempfile.mkdtemp(prefix="deepflash-shots-")) / "web_demo.png"
# Generous: the machine may be busy with other work; a healthy run takes a few seconds.
TIMEOUT_MS = 120_000

# Both slider images present, loaded and decoded (a broken <img> has naturalWidth 0).
BOTH_IMAGES_SHOWN = """() => {
    const images = [...document.querySelectorAll('#before-after img[data-testid="imageslider-image"]')];
    return images.length === 2 && images.every(image => image.complete && image.naturalWidth > 0);
}"""

# The webcam stream is playing and has drawn a frame: only then does "capture photo" take a snapshot.
WEBCAM_PLAYING = """() => {
    const video = document.querySelector('#photo video[data-testid="webcam-video"]');
    return video !== null && !video.paused && video.readyState >= 2 && video.videoWidth > 0 && video.currentTime > 0;
}"""
# An image box shows an image the browser has decoded (an upload it cannot decode has naturalWidth 0).
IMAGE_SHOWN_IN = """() => {{
    const image = document.querySelector('{box} img');
    return image !== null && image.complete && image.naturalWidth > 0;
}}"""
NO_RESULT_SHOWN = """() => document.querySelectorAll('#before-after img[data-testid="imageslider-image"]').length === 0
    && document.querySelector('#download a[data-testid="download-link"]') === null
    && document.querySelector('#summary').innerText.trim() === ''"""


@pytest.fixture(scope="module")
def page_url(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory):
    bundled_or_tiny = DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.exists() else tiny_weights
    weights = Path(os.environ.get("DEEPFLASH_WEB_TEST_WEIGHTS") or bundled_or_tiny)
    corrector = InProcessCorrector.load(weights=weights, device="cpu")
    corrector.warm_up()  # as `deepflash web` does: the screenshot shows a warm page's time
    demo = build_app(CorrectionService(corrector, output_root=tmp_path_factory.mktemp("web-results")),
                     examples=examples.photos())
    url = launch_app(demo, port=None, block=False, quiet=True, allowed_paths=[examples.FOLDER])
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture()
def browser_page(tmp_path: Path):
    yield from _chromium_page(tmp_path, CHROMIUM_FLAGS)


@pytest.fixture()
def webcam_page(tmp_path: Path):
    # Chromium's built-in test camera (a moving pattern, no face), with the permission prompt pre-accepted.
    yield from _chromium_page(tmp_path, [*CHROMIUM_FLAGS, "--use-fake-device-for-media-stream",
                                         "--use-fake-ui-for-media-stream"])


def _chromium_page(tmp_path: Path, flags: list[str]):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}; run tests/install-test-tools.sh")
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile: no first-run state, no cache
            executable_path=CHROMIUM,
            headless=True,
            args=flags,
            viewport={"width": 1280, "height": 960},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            context.close()


def open_with_button(page, button: str, path: Path) -> str:
    """Click a file button and choose ``path`` in the file chooser it opens, as a user does; returns what the
    chooser accepts."""
    with page.expect_file_chooser() as chooser:
        page.click(button)
    chooser.value.set_files(str(path))
    return chooser.value.element.get_attribute("accept")


def test_upload_correct_and_compare_in_chromium(page_url: str, browser_page) -> None:
    portrait = examples.photos()[0]  # the example a new user sees first
    page = browser_page
    page.goto(page_url)
    page.set_input_files("#photo input[type=file]", str(portrait))
    page.wait_for_selector("#photo img", state="visible")  # the upload has arrived and is shown
    assert page.is_checked('#background input[value="keep"]') and page.is_checked("#red-eye input")
    assert not page.is_visible("#matte")
    page.check("#show-matte input")
    page.wait_for_selector("#matte", state="visible")
    page.click("#correct")

    page.wait_for_function(BOTH_IMAGES_SHOWN, timeout=TIMEOUT_MS)
    sources = page.eval_on_selector_all('#before-after img[data-testid="imageslider-image"]',
                                        "images => images.map(image => image.src)")
    assert len(sources) == 2 and sources[0] != sources[1]
    halves = page.eval_on_selector("#before-after .slider-wrap", """wrap => [
        getComputedStyle(wrap, '::before').content, getComputedStyle(wrap, '::after').content]""")
    assert halves == ['"Before"', '"After"']
    link = page.wait_for_selector('#download a[data-testid="download-link"]', state="visible")
    assert link.get_attribute("download") == f"{portrait.stem}-deepflash.jpg"
    download = page.request.get(link.get_attribute("href"))  # what the browser would save
    assert download.ok
    with Image.open(io.BytesIO(download.body())) as result, Image.open(portrait) as original:
        assert result.format == "JPEG" and result.size == original.size
    assert "face" in page.inner_text("#summary")
    assert page.eval_on_selector("#faces img", "image => image.naturalWidth") > 0
    matte = page.wait_for_selector("#matte img", state="visible")
    assert matte.evaluate("image => image.complete && image.naturalWidth") > 0
    page.click("#sweep")  # the look sweep: every look but the reference's (none uploaded)
    page.wait_for_function(f"""() => [...document.querySelectorAll('#look-sweep img')]
        .filter(image => image.complete && image.naturalWidth > 0).length === {len(look_choices()) - 1}""",
                           timeout=TIMEOUT_MS)

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


def test_webcam_snapshot_is_corrected_as_a_whole_image(page_url: str, webcam_page) -> None:
    page = webcam_page
    page.goto(page_url)
    page.click('#photo button[aria-label="Capture from camera"]')
    page.click('#photo [title="grant webcam access"] button')
    page.wait_for_function(WEBCAM_PLAYING, timeout=TIMEOUT_MS)  # a busy machine starts the stream late
    page.click('#photo button[aria-label="capture photo"]')
    page.wait_for_selector("#photo img", state="visible")  # the snapshot was uploaded
    page.check('#mode input[value="whole"]')
    page.click("#correct")

    page.wait_for_function(BOTH_IMAGES_SHOWN, timeout=TIMEOUT_MS)
    link = page.wait_for_selector('#download a[data-testid="download-link"]', state="visible")
    download = page.request.get(link.get_attribute("href"))
    with Image.open(io.BytesIO(download.body())) as result:
        assert result.format == "PNG" and result.width >= 320 and result.height >= 240
    assert "whole image" in page.inner_text("#summary")


def test_a_new_photo_clears_the_previous_result(page_url: str, browser_page) -> None:
    page = browser_page
    page.goto(page_url)
    page.set_input_files("#photo input[type=file]", str(EXAMPLES / "congress_A000022.jpg"))
    page.wait_for_selector("#photo img", state="visible")
    page.click("#correct")
    page.wait_for_function(BOTH_IMAGES_SHOWN, timeout=TIMEOUT_MS)
    page.set_input_files("#photo input[type=file]", str(EXAMPLES / "congress_A000055.jpg"))
    page.wait_for_function(NO_RESULT_SHOWN, timeout=TIMEOUT_MS)


def test_an_error_is_headed_by_its_reason_and_examples_are_labelled(page_url: str, browser_page,
                                                                     tmp_path: Path) -> None:
    page = browser_page
    page.goto(page_url)
    page.wait_for_selector("text=The same man, studio original")  # the examples say what they are
    assert "doi:10.6084/m9.figshare.5047666.v5" in page.inner_text("#credits")  # CC BY: credited beside it
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (90, 90, 90)).save(blank)
    page.set_input_files("#photo input[type=file]", str(blank))
    page.wait_for_selector("#photo img", state="visible")
    page.click("#correct")
    title = page.wait_for_selector('[data-testid="toast-body"].error .toast-title:has-text("no face found")',
                                   timeout=TIMEOUT_MS)
    assert title.inner_text().startswith("blank.png: no face found")
    # The toast says it; the output panes carry no "Error" badge of their own.
    badge = page.wait_for_selector('#before-after [data-testid="status-tracker"] span.error', state="attached")
    assert not badge.is_visible()
    assert not [b for b in page.query_selector_all('[data-testid="status-tracker"] span.error') if b.is_visible()]


def test_a_reference_upload_becomes_the_look_a_bad_one_is_one_line_and_the_sweep_shows_every_look(
        page_url: str, browser_page, tmp_path: Path) -> None:
    page = browser_page
    page.goto(page_url)
    page.set_input_files("#photo input[type=file]", str(EXAMPLES / "congress_A000014.jpg"))
    page.wait_for_selector("#photo img", state="visible")
    grey = tmp_path / "grey_studio.jpg"
    Image.open(EXAMPLES / "congress_A000055.jpg").convert("L").save(grey)
    page.set_input_files("#reference input[type=file]", str(grey))
    page.wait_for_selector("#reference img", state="visible")
    reference_label = next(label for label, value in look_choices() if value == REFERENCE)
    page.wait_for_function(f"() => document.querySelector('#look input').value === {reference_label!r}")
    page.click("#correct")
    title = page.wait_for_selector('[data-testid="toast-body"].error .toast-title:has-text("greyscale")',
                                   timeout=TIMEOUT_MS)
    assert title.inner_text() == "grey_studio.jpg: The reference is greyscale; a look is taken from a colour photo."
    assert page.evaluate(NO_RESULT_SHOWN)  # nothing was corrected toward a preset instead
    page.set_input_files("#reference input[type=file]", str(EXAMPLES / "congress_A000055.jpg"))
    page.click("#sweep")
    page.wait_for_function(f"""() => [...document.querySelectorAll('#look-sweep img')]
        .filter(image => image.complete && image.naturalWidth > 0).length === {len(look_choices())}""",
                           timeout=TIMEOUT_MS)
    page.click("#correct")
    page.wait_for_function(BOTH_IMAGES_SHOWN, timeout=TIMEOUT_MS)


def test_a_phone_heic_opened_with_the_file_button_is_shown_upright_and_comes_back_as_a_heic(
        page_url: str, browser_page, tmp_path: Path) -> None:
    from imageio_samples import CAMERA_MAKE, PHONE_ICC, phone_heic

    photo = phone_heic(tmp_path / "IMG_0004.HEIC", EXAMPLES / "congress_A000014.jpg")  # stored sideways
    reference = phone_heic(tmp_path / "IMG_0009.HEIC", EXAMPLES / "congress_A000055.jpg")
    page = browser_page
    page.goto(page_url)
    page.set_input_files("#photo input[type=file]", str(photo))  # Chromium's image box refuses a HEIC...
    title = page.wait_for_selector('[data-testid="toast-body"].error .toast-title:has-text("IMG_0004.HEIC")')
    assert title.inner_text() == ("IMG_0004.HEIC: this box takes only what the browser can show; open the file with "
                                  "the button under it.")  # ...and the page says where it opens
    accepted = open_with_button(page, "#photo-file", photo)
    assert {".heic", ".heif", ".jpg", ".png"} <= {ext.strip() for ext in accepted.split(",")}  # what the file chooser offers
    page.wait_for_function(IMAGE_SHOWN_IN.format(box="#photo"), timeout=TIMEOUT_MS)
    preview = page.eval_on_selector("#photo img", "image => [image.naturalWidth, image.naturalHeight]")
    assert preview == [225, 275]  # the browser cannot show a HEIC: the core's upright preview is shown
    open_with_button(page, "#reference-file", reference)
    page.wait_for_function(IMAGE_SHOWN_IN.format(box="#reference"), timeout=TIMEOUT_MS)
    reference_label = next(label for label, value in look_choices() if value == REFERENCE)
    page.wait_for_function(f"() => document.querySelector('#look input').value === {reference_label!r}")
    page.click("#correct")

    page.wait_for_function(BOTH_IMAGES_SHOWN, timeout=TIMEOUT_MS)
    link = page.wait_for_selector('#download a[data-testid="download-link"]', state="visible")
    assert link.get_attribute("download") == "IMG_0004-deepflash.HEIC"  # corrected from the original file
    download = page.request.get(link.get_attribute("href"))
    with Image.open(io.BytesIO(download.body())) as result:
        assert result.format == "HEIF" and result.size == (225, 275)
        assert result.getexif().get(0x010F) == CAMERA_MAKE and result.info.get("icc_profile") == PHONE_ICC
    assert "HEIF" in page.inner_text("#summary")
    open_with_button(page, "#photo-file", EXAMPLES / "congress_A000022.jpg")
    page.wait_for_function(NO_RESULT_SHOWN, timeout=TIMEOUT_MS)  # a new file clears the last result
