"""Time a 12 MP photo through the web page: click to result in headless Chromium, and the API call.

    python benchmarks/bench_web.py                    # bundled weights if installed, else a tiny random model
    python benchmarks/bench_web.py --weights W.safetensors --megapixels 12 --runs 3 --no-browser

Prints, per run, the browser's click-to-result time (both slider images decoded), the gradio_client
round trip (upload, queue, correction, download of the full-resolution file), and the server-side steps
of all those requests.
The page runs in this process, as `deepflash web` does.
"""

from __future__ import annotations

import argparse
import math
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from deepflash_client.options import Options
from deepflash_core.corrector import InProcessCorrector
from deepflash_core.network.unet import FlashUNet, ModelConfig
from deepflash_core.network.weights import DEFAULT_WEIGHTS, ModelCard, save_model
from deepflash_web.app import build_app, launch_app
from deepflash_web.service import CorrectionService, PageResult

REPOSITORY = Path(__file__).resolve().parent.parent
PORTRAITS = (REPOSITORY / "deepflash_app/examples/flash_portrait.jpg", REPOSITORY / "deepflash_app/examples/congress_A000014.jpg")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
SLIDER_IMAGES = '#before-after img[data-testid="imageslider-image"]'
BOTH_IMAGES_SHOWN = """() => {
    const images = [...document.querySelectorAll('%s')];
    return images.length === 2 && images.every(image => image.complete && image.naturalWidth > 0);
}""" % SLIDER_IMAGES


class RecordingService(CorrectionService):
    """The page's service, keeping each request's step timings."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stages: list[dict[str, float]] = []

    def run(self, *args, **kwargs) -> PageResult:
        result = super().run(*args, **kwargs)
        self.stages.append(result.stages)
        return result


def make_photo(megapixels: float, folder: Path) -> Path:
    """A phone-sized JPEG (3:4 portrait) made by enlarging a bundled portrait."""
    source = cv2.imread(str(next(path for path in PORTRAITS if path.exists())))
    width = int(round(math.sqrt(megapixels * 1e6 * 3 / 4)))
    height = int(round(width * 4 / 3))
    photo = cv2.resize(source, (width, height), interpolation=cv2.INTER_CUBIC)
    # Sensor-like noise, so the JPEG has a phone photo's size (an enlarged image compresses too well).
    noise = np.random.default_rng(0).normal(0.0, 4.0, photo.shape)
    photo = np.clip(photo + noise, 0, 255).astype(np.uint8)
    path = folder / f"phone_{width}x{height}.jpg"
    cv2.imwrite(str(path), photo, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def weights_to_use(requested: Path | None, folder: Path) -> tuple[Path, str]:
    if requested is not None:
        return requested, str(requested)
    if DEFAULT_WEIGHTS.exists():
        return DEFAULT_WEIGHTS, f"bundled {DEFAULT_WEIGHTS.name}"
    torch.manual_seed(0)
    model = FlashUNet(ModelConfig(width=0.125, input_size=64)).eval()
    path = folder / "tiny.safetensors"
    save_model(model, ModelCard.for_model(model, name="tiny-random-benchmark"), path)
    return path, "tiny random model (width 0.125, 64 px input): no bundled weights installed"


def time_browser(url: str, photo: Path, runs: int, profile: Path) -> list[float]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    seconds: list[float] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 960})
        page = context.new_page()
        for _ in range(runs):
            # A fresh page each run: the same photo gives the same result URL, so an old result
            # left on the page would look like a new one.
            page.goto(url)
            page.set_input_files("#photo input[type=file]", str(photo))
            page.wait_for_selector("#photo img", state="visible", timeout=120_000)
            started = time.perf_counter()
            page.click("#correct")
            page.wait_for_function(BOTH_IMAGES_SHOWN, timeout=600_000)
            seconds.append(time.perf_counter() - started)
        context.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--browser", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory(prefix="bench-web-") as scratch:
        folder = Path(scratch)
        photo = make_photo(args.megapixels, folder)
        weights, weights_note = weights_to_use(args.weights, folder)
        service = RecordingService(InProcessCorrector.load(weights=weights, device="cpu"),
                                   output_root=folder / "results")
        demo = build_app(service)
        url = launch_app(demo, port=None, block=False, quiet=True)
        try:
            print(f"photo: {photo.name} ({photo.stat().st_size / 1e6:.1f} MB JPEG), weights: {weights_note}")
            print(f"cpu: {platform.processor() or platform.machine()}, torch threads: {torch.get_num_threads()}")
            service.run(photo, Options())  # warm-up: first detection loads dlib's models
            service.stages.clear()

            browser: list[float] = []
            if args.browser:
                browser = time_browser(url, photo, args.runs, folder / "chromium-profile")

            client = Client(url, verbose=False)
            api: list[float] = []
            for _ in range(args.runs):
                started = time.perf_counter()
                client.predict(handle_file(str(photo)), 1.0, "faces", api_name="/correct")
                api.append(time.perf_counter() - started)
        finally:
            demo.close()

    def line(name: str, values: list[float]) -> str:
        runs = " ".join(f"{value:6.2f}" for value in values)
        return f"{name:<34} median {statistics.median(values):6.2f} s   runs: {runs}"

    print(f"\n{args.megapixels:g} MP upload, {args.runs} runs")
    if browser:
        print(line("browser: click -> both images", browser))
    print(line("gradio_client round trip", api))
    print(f"server-side steps of those {len(service.stages)} requests:")
    for stage in service.stages[0]:
        print(line(f"  {stage}", [step[stage] for step in service.stages]))


if __name__ == "__main__":
    main()
