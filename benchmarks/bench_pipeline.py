"""End-to-end cost of the pipeline at 0.5, 2 and 12 megapixels, stage by stage.

Builds test photos by upscaling a bundled public-domain portrait into a landscape frame, then times
decode, every stage the pipeline times (its own ``Result.timings``, checked against the stages its code
times by ``pipeline_stages``: a missing or unknown stage stops the benchmark), and encode, and compares
everything except the network pass with a bare JPEG decode+encode timed right after it (interleaved).
Figures are medians over the repeats; the ratio is the median of each repeat's own ratio.

The network is randomly initialised (its speed does not depend on its weights); the product itself
never runs without trained weights. By default it has the shipped weights' architecture (width and input size
from the card of ``deepflash_core/network/pretrained/deepflash-default``), i.e. what users run; ``--width 1
--input-size 512`` measures the paper's full-size network.

    python benchmarks/bench_pipeline.py                 # 0.5, 2 and 12 MP, the shipped model's configuration
    python benchmarks/bench_pipeline.py --width 1 --input-size 512   # the paper's network
    python benchmarks/bench_pipeline.py --sizes 0.5 --repeat 1
    python benchmarks/bench_pipeline.py --checks        # also the file-level checks through `deepflash process`
    python benchmarks/bench_pipeline.py --clock cpu     # CPU seconds instead of wall time (busy machine)
    python benchmarks/bench_pipeline.py --sizes 12 --repeat 7 --clock cpu   # the 12 MP ratio, median of 7
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _clock_argument() -> str:
    """The --clock value, read before argparse runs (it decides an environment variable)."""
    args = sys.argv[1:]
    return args[args.index("--clock") + 1] if "--clock" in args[:-1] else "wall"


if _clock_argument() == "cpu":
    # Idle OpenMP workers otherwise spin after every parallel region and bill their spinning to
    # whichever stage runs next; this must be set before torch starts its thread pool.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, JpegImagePlugin  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepflash_client.options import Options  # noqa: E402
from deepflash_core import pipeline as pipeline_module  # noqa: E402
from deepflash_core.detection.faces import detect_faces  # noqa: E402
from deepflash_core.imageio import load_photo, save_photo  # noqa: E402
from deepflash_core.network.unet import FlashUNet, ModelConfig  # noqa: E402
from deepflash_core.network.weights import ModelCard, read_card, save_model  # noqa: E402
from deepflash_core.pipeline import Pipeline  # noqa: E402
from pipeline_stages import NETWORK, checked  # noqa: E402

PORTRAIT = ROOT / "deepflash_app" / "examples" / "congress_A000014.jpg"
CLOCK = time.perf_counter
# Stages the benchmark's options (the defaults) turn off: Options().background is "keep".
OFF = ("backdrop",)


def landscape_photo(megapixels: float, seed: int = 0) -> np.ndarray:
    """A 4:3 landscape frame with the portrait upscaled to its full height, plus sensor-like noise.

    The noise keeps JPEG decode/encode costs realistic (a smooth upscale compresses unrealistically well).
    """
    width = int(round(math.sqrt(megapixels * 1e6 * 4 / 3)))
    height = int(round(width * 3 / 4))
    face = np.asarray(Image.open(PORTRAIT).convert("RGB"))
    face_width = int(round(face.shape[1] * height / face.shape[0]))
    face = cv2.resize(face, (face_width, height), interpolation=cv2.INTER_CUBIC)
    left = (width - face_width) // 2
    frame = cv2.copyMakeBorder(face, 0, 0, left, width - face_width - left, cv2.BORDER_REFLECT_101)
    noise = np.random.default_rng(seed).normal(0.0, 3.0, frame.shape).astype(np.float32)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def write_jpeg(pixels: np.ndarray, path: Path) -> None:
    Image.fromarray(pixels).save(path, quality=95, subsampling=2)


def jpeg_round_trip(path: Path) -> float:
    """Bare Pillow decode to pixels + encode from pixels (quality 95, 4:2:0): the yardstick."""
    start = CLOCK()
    with Image.open(path) as image:
        pixels = np.asarray(image)
    Image.fromarray(pixels).save(io.BytesIO(), "JPEG", quality=95, subsampling=2)
    return CLOCK() - start


def opencv_round_trip(path: Path) -> float:
    start = CLOCK()
    pixels = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return CLOCK() - start


def time_once(pipe: Pipeline, source: Path, target: Path) -> dict[str, float]:
    """Seconds of decode, of each stage the pipeline times (checked: none missing, none unknown), and of encode."""
    start = CLOCK()
    photo = load_photo(source)
    decode = CLOCK() - start
    result = pipe.process(photo.pixels, Options())
    start = CLOCK()
    save_photo(photo.with_pixels(result.pixels), target)
    encode = CLOCK() - start
    stages = {"decode": decode, **checked(result.timings, OFF), "encode": encode}
    if len(stages) != len(result.timings) + 2:
        raise SystemExit(f"the pipeline times a stage named like the benchmark's own decode or encode: {list(result.timings)}")
    return stages


def benchmark(pipe: Pipeline, sizes: list[float], repeat: int, folder: Path) -> list[dict[str, float]]:
    """Per size: the median of each stage over ``repeat`` runs, each followed by a bare JPEG round trip."""
    rows = []
    for megapixels in sizes:
        pixels = landscape_photo(megapixels)
        source = folder / f"photo_{megapixels:g}mp.jpg"
        write_jpeg(pixels, source)
        time_once(pipe, source, folder / "warm.jpg")  # first call pays one-off set-up costs
        runs, ratios, jpegs = [], [], []
        for _ in range(repeat):  # interleaved: a change in the machine's load hits both alike
            stages = time_once(pipe, source, folder / "out.jpg")
            jpeg = jpeg_round_trip(source)
            runs.append(stages)
            jpegs.append(jpeg)
            ratios.append((sum(stages.values()) - stages[NETWORK]) / jpeg)
        row: dict = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
        row["stages"] = list(runs[0])
        row["jpeg"] = statistics.median(jpegs)
        row["ratio"] = statistics.median(ratios)
        row["ratios"] = ratios
        row["opencv_jpeg"] = statistics.median(opencv_round_trip(source) for _ in range(repeat))
        result = pipe.process(pixels, Options())
        row["faces"] = len(result.faces)
        row["crop_mp"] = sum(face.crop_size**2 for face in result.faces) / 1e6
        row["megapixels"] = pixels.shape[0] * pixels.shape[1] / 1e6
        row["size"] = f"{pixels.shape[1]}x{pixels.shape[0]}"
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    stages = list(dict.fromkeys(name for row in rows for name in row["stages"]))
    header = f"{'photo':>10} {'MP':>5} {'crop MP':>7} " + " ".join(f"{s:>8}" for s in stages) + f" {'total':>8} {'no-net':>8} {'jpeg':>7} {'ratio':>6}"
    print(header)
    for row in rows:
        total = sum(row[s] for s in row["stages"])
        without_network = total - row[NETWORK]
        print(
            f"{row['size']:>10} {row['megapixels']:5.1f} {row['crop_mp']:7.2f} "
            + " ".join(f"{row.get(s, 0.0) * 1000:7.0f}ms" for s in stages)
            + f" {total * 1000:7.0f}ms {without_network * 1000:7.0f}ms {row['jpeg'] * 1000:6.0f}ms {row['ratio']:5.2f}x"
        )
    print(f"({'CPU seconds of all threads' if CLOCK is time.process_time else 'wall times'}: medians of the repeats, in ms; "
          "'no-net' = every stage but the network pass; 'jpeg' = bare Pillow JPEG decode+encode, quality 95, timed "
          "after each run; 'ratio' = the median of each run's no-net / jpeg)")
    for row in rows:
        print(f"  {row['size']}: ratio per run " + " ".join(f"{r:.2f}" for r in row["ratios"])
              + f"; OpenCV JPEG decode+encode {row['opencv_jpeg'] * 1000:.0f} ms, Pillow {row['jpeg'] * 1000:.0f} ms")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        growth = last["megapixels"] / first["megapixels"]
        print(f"\nGrowth from {first['megapixels']:.1f} to {last['megapixels']:.1f} MP (x{growth:.0f} pixels):")
        for stage in stages:
            a, b = first.get(stage, 0.0), last.get(stage, 0.0)
            print(f"  {stage:>9}: {a * 1000:7.1f} -> {b * 1000:7.1f} ms  (x{b / a if a > 0 else float('nan'):.1f})")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from deepflash_app.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=1800)


def outside_crops_identical(before: np.ndarray, after: np.ndarray, faces: list) -> tuple[bool, float]:
    mask = np.zeros(before.shape[:2], bool)
    for face in faces:
        x0, y0, x1, y1 = face.crop
        mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True
    outside = ~mask
    return bool(np.array_equal(before[outside], after[outside])), float(outside.mean())


def file_checks(weights: Path, folder: Path) -> None:
    """`deepflash process` on a 4000x3000 JPEG and a 16-bit PNG with alpha: size, mode, orientation, untouched pixels."""
    print("\nFile-level checks through `deepflash process`:")
    # 4000x3000 JPEG stored as a phone does: rotated pixels + EXIF orientation 6.
    upright = landscape_photo(12.0)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x0110] = "bench phone"
    source = folder / "phone_4000x3000.jpg"
    Image.fromarray(np.rot90(upright, k=1).copy()).save(source, quality=95, subsampling=2, exif=exif.tobytes())
    with Image.open(source) as image:
        print(f"  input  {source.name}: stored {image.size[0]}x{image.size[1]} {image.mode}, EXIF orientation 6")
    for out_name in ("phone_studio.jpg", "phone_studio.png"):
        target = folder / out_name
        start = time.perf_counter()
        completed = run_cli("process", str(source), "-o", str(target), "--weights", str(weights))
        elapsed = time.perf_counter() - start
        if completed.returncode != 0:
            print(f"  FAILED ({completed.returncode}): {completed.stderr.strip()}")
            continue
        with Image.open(target) as image:
            orientation = image.getexif().get(0x0112)
            sampling = f", subsampling {JpegImagePlugin.get_sampling(image)} (input 2 = 4:2:0)" if image.format == "JPEG" else ""
            print(f"  output {out_name}: {image.size[0]}x{image.size[1]} {image.mode}, EXIF orientation {orientation}, "
                  f"model tag {image.getexif().get(0x0110)!r}{sampling}  ({elapsed:.1f} s including interpreter start)")
    decoded = load_photo(source).pixels
    faces = detect_faces(decoded)
    lossless = load_photo(folder / "phone_studio.png").pixels
    same, fraction = outside_crops_identical(decoded, lossless, faces)
    print(f"  upright decoded input {decoded.shape[1]}x{decoded.shape[0]}, {len(faces)} face(s); PNG output vs decoded JPEG input: "
          f"pixels outside every crop ({fraction:.0%} of the frame) bit-identical: {same}")

    # 16-bit PNG with alpha.
    rgb8 = landscape_photo(2.0)
    rgb16 = rgb8.astype(np.uint16) * 257 + np.random.default_rng(1).integers(0, 257, rgb8.shape).astype(np.uint16)
    alpha = np.tile(np.linspace(0, 65535, rgb16.shape[1]).astype(np.uint16), (rgb16.shape[0], 1))
    source16 = folder / "deep_rgba16.png"
    cv2.imwrite(str(source16), cv2.cvtColor(np.dstack([rgb16, alpha]), cv2.COLOR_RGBA2BGRA))
    target16 = folder / "deep_rgba16_studio.png"
    completed = run_cli("process", str(source16), "-o", str(target16), "--weights", str(weights))
    if completed.returncode != 0:
        print(f"  FAILED ({completed.returncode}): {completed.stderr.strip()}")
        return
    before = load_photo(source16).pixels
    after = load_photo(target16).pixels
    with Image.open(target16) as image:
        print(f"  16-bit PNG: in {before.shape[1]}x{before.shape[0]}x{before.shape[2]} {before.dtype}, "
              f"out {after.shape[1]}x{after.shape[0]}x{after.shape[2]} {after.dtype} (Pillow mode {image.mode}, "
              f"tile {image.tile[0].args if image.tile else '?'})")
    same, fraction = outside_crops_identical(before, after, detect_faces(before))
    print(f"  alpha bit-identical: {np.array_equal(before[..., 3], after[..., 3])}; pixels outside every crop "
          f"({fraction:.0%} of the frame) bit-identical: {same}; inside changed: {not np.array_equal(before, after)}")


def shipped_config() -> ModelConfig:
    """The architecture of the shipped default weights, from their model card."""
    try:
        return read_card().config
    except Exception as error:  # no weights installed: say so and measure the paper's network
        print(f"shipped model card unreadable ({error}); using the paper's network")
        return ModelConfig(width=1.0, input_size=512)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.5, 2.0, 12.0], help="megapixels")
    parser.add_argument("--width", type=float, default=None,
                        help="network width multiplier (1.0 = the paper's; default: the shipped weights' card)")
    parser.add_argument("--input-size", type=int, default=None,
                        help="network input side in px (512 = the paper's; default: the shipped weights' card)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--checks", action="store_true", help="also run the file-level checks through the CLI")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or CPU seconds of this process summed over its threads (steadier when "
                             "other jobs share the machine; an upper bound of the idle wall time)")
    args = parser.parse_args()
    config = shipped_config()
    config = dataclasses.replace(config, width=config.width if args.width is None else args.width,
                                 input_size=config.input_size if args.input_size is None else args.input_size)
    if args.clock == "cpu":
        global CLOCK
        CLOCK = time.process_time
        pipeline_module.CLOCK = time.process_time

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, OpenCV {cv2.__version__}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs inflate every figure)")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        torch.manual_seed(0)
        model = FlashUNet(config)
        weights = folder / "bench.safetensors"
        save_model(model, ModelCard.for_model(model, name="benchmark-random"), weights)
        pipe = Pipeline.load(weights=weights, device="cpu")
        print(f"network: width {config.width}, input {config.input_size} px, batchnorm {config.encoder_batchnorm}, {sum(p.numel() for p in model.parameters()):,} parameters (random weights)\n")
        print_table(benchmark(pipe, args.sizes, args.repeat, folder))
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
        if args.checks:
            file_checks(weights, folder)


if __name__ == "__main__":
    main()
