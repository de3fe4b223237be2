"""End-to-end cost of the pipeline at 0.5, 2 and 12 megapixels, stage by stage.

Builds test photos by upscaling a bundled public-domain portrait into a landscape frame, then times
decode, face detection, crop preparation, bilateral filter, network, upsampling, reconstruction and
blend, and encode, and compares everything except the network pass with a bare JPEG decode+encode.

The network is randomly initialised (its speed does not depend on its weights); the product itself
never runs without trained weights. By default it has the shipped weights' architecture (width and input size
from the card of ``deepflash_core/pretrained/deepflash-default``), i.e. what users run; ``--width 1
--input-size 512`` measures the paper's full-size network.

    python benchmarks/bench_pipeline.py                 # 0.5, 2 and 12 MP, the shipped model's configuration
    python benchmarks/bench_pipeline.py --width 1 --input-size 512   # the paper's network
    python benchmarks/bench_pipeline.py --sizes 0.5 --repeat 1
    python benchmarks/bench_pipeline.py --checks        # also the file-level checks through `deepflash process`
    python benchmarks/bench_pipeline.py --clock cpu     # CPU seconds instead of wall time (busy machine)
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import math
import os
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

from deepflash_core.faces import detect_faces  # noqa: E402
from deepflash_core.imageio import load_photo, save_photo  # noqa: E402
from deepflash_core.network import FlashUNet, ModelConfig  # noqa: E402
from deepflash_core import pipeline as pipeline_module  # noqa: E402
from deepflash_core.options import Options  # noqa: E402
from deepflash_core.pipeline import Pipeline  # noqa: E402
from deepflash_core.weights import ModelCard, read_card, save_model  # noqa: E402

PORTRAIT = ROOT / "tests" / "fixtures" / "congress_A000014.jpg"
CLOCK = time.perf_counter
STAGES = ("decode", "detect", "matte", "prepare", "filter", "network", "upsample", "blend", "encode")


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
    stages: dict[str, float] = {}
    start = CLOCK()
    photo = load_photo(source)
    stages["decode"] = CLOCK() - start
    result = pipe.process(photo.pixels, Options())
    stages.update(result.timings)
    start = CLOCK()
    save_photo(photo.with_pixels(result.pixels), target)
    stages["encode"] = CLOCK() - start
    stages["faces"] = len(result.faces)
    stages["crop_mp"] = sum(face.crop_size**2 for face in result.faces) / 1e6
    return stages


def benchmark(pipe: Pipeline, sizes: list[float], repeat: int, folder: Path) -> list[dict[str, float]]:
    rows = []
    for megapixels in sizes:
        pixels = landscape_photo(megapixels)
        source = folder / f"photo_{megapixels:g}mp.jpg"
        write_jpeg(pixels, source)
        time_once(pipe, source, folder / "warm.jpg")  # first call pays one-off set-up costs
        best: dict[str, float] = {}
        for _ in range(repeat):
            stages = time_once(pipe, source, folder / "out.jpg")
            best = {key: min(best.get(key, math.inf), value) for key, value in stages.items()}
        best["jpeg"] = min(jpeg_round_trip(source) for _ in range(repeat))
        best["opencv_jpeg"] = min(opencv_round_trip(source) for _ in range(repeat))
        best["megapixels"] = pixels.shape[0] * pixels.shape[1] / 1e6
        best["size"] = f"{pixels.shape[1]}x{pixels.shape[0]}"  # type: ignore[assignment]
        rows.append(best)
    return rows


def print_table(rows: list[dict[str, float]]) -> None:
    header = f"{'photo':>10} {'MP':>5} {'crop MP':>7} " + " ".join(f"{s:>8}" for s in STAGES) + f" {'total':>8} {'no-net':>8} {'jpeg':>7} {'ratio':>6}"
    print(header)
    for row in rows:
        total = sum(row.get(s, 0.0) for s in STAGES)
        without_network = total - row.get("network", 0.0)
        print(
            f"{row['size']:>10} {row['megapixels']:5.1f} {row['crop_mp']:7.2f} "
            + " ".join(f"{row.get(s, 0.0) * 1000:7.0f}ms" for s in STAGES)
            + f" {total * 1000:7.0f}ms {without_network * 1000:7.0f}ms {row['jpeg'] * 1000:6.0f}ms {without_network / row['jpeg']:5.2f}x"
        )
    print(f"({'CPU seconds of all threads' if CLOCK is time.process_time else 'wall times'}: best of the repeats, in ms; 'no-net' = total minus the network pass; 'jpeg' = bare Pillow JPEG decode+encode,"
          " quality 95; 'ratio' = no-net / jpeg)")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        growth = last["megapixels"] / first["megapixels"]
        print(f"\nGrowth from {first['megapixels']:.1f} to {last['megapixels']:.1f} MP (x{growth:.0f} pixels):")
        for stage in STAGES:
            a, b = first.get(stage, 0.0), last.get(stage, 0.0)
            print(f"  {stage:>9}: {a * 1000:7.1f} -> {b * 1000:7.1f} ms  (x{b / a if a > 0 else float('nan'):.1f})")
    for row in rows:
        print(f"  {row['size']}: OpenCV JPEG decode+encode {row['opencv_jpeg'] * 1000:.0f} ms; Pillow {row['jpeg'] * 1000:.0f} ms")


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
    parser.add_argument("--repeat", type=int, default=3)
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
        if args.checks:
            file_checks(weights, folder)


if __name__ == "__main__":
    main()
