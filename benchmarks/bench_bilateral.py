"""Bilateral grid (deepflash_core.encoding.bilateral) vs cv2.bilateralFilter: mean error and speed.

Run:  python benchmarks/bench_bilateral.py [--portrait PATH] [--megapixels 2.0] [--threads N] [--skip-opencv]

* A ~2-megapixel portrait (the FRL Canada set when $DEEPFLASH_PORTRAITS names the collection, else a bundled public-domain fixture
  upscaled), sigma_s = 3 % of its larger side, sigma_r = 0.4: both filters, mean/99th-percentile/max absolute
  error (in 1/255 steps) and the speed ratio. OpenCV's brute force takes tens of seconds to minutes here.
* The filter at the network's sizes, 512, 256, 128 and 64 px (batch of 1 and of 4): the grid, or the exact
  window sum that small inputs take, and the grid forced on those for comparison.

Times are best-of-N wall clock and process CPU time; CPU time is the steadier figure when other jobs share
the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import deepflash_core.encoding.bilateral as bilateral_module  # noqa: E402
from deepflash_core.encoding.bilateral import SIGMA_R_DEFAULT as SIGMA_R  # noqa: E402
from deepflash_core.encoding.bilateral import bilateral_filter, sigma_s_for  # noqa: E402
from deepflash_train.config import collection_file  # noqa: E402

# A ~2-megapixel portrait of the collection ($DEEPFLASH_PORTRAITS) when it is there.
COLLECTION_PORTRAIT = "frl_canada/003f.jpg"
FIXTURE = ROOT / "deepflash_app" / "examples" / "congress_A000014.jpg"


def load_portrait(path: Path, megapixels: float) -> np.ndarray:
    """RGB float32 in [0, 1], resized (keeping the aspect ratio) to about ``megapixels``."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    height, width = bgr.shape[:2]
    scale = (megapixels * 1e6 / (height * width)) ** 0.5
    size = (round(width * scale), round(height * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    rgb = cv2.resize(bgr, size, interpolation=interp)[:, :, ::-1]
    return np.ascontiguousarray(rgb).astype(np.float32).clip(0, 255) / 255


def timed(run, repeat: int) -> tuple[float, float, object]:
    """Best wall-clock and CPU seconds over ``repeat`` runs, and the last result."""
    wall = cpu = float("inf")
    result = None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu, result


def compare_with_opencv(img: np.ndarray, skip_opencv: bool) -> None:
    height, width = img.shape[:2]
    sigma_s = sigma_s_for(height, width)
    batch = torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()
    bilateral_filter(batch, sigma_s)  # warm-up
    grid_wall, grid_cpu, grid_out = timed(lambda: bilateral_filter(batch, sigma_s), repeat=3)
    print(f"portrait {width} x {height} ({height * width / 1e6:.2f} MP), sigma_s = {sigma_s:.1f} px, sigma_r = {SIGMA_R}")
    print(f"  grid : {grid_wall * 1e3:8.0f} ms wall, {grid_cpu * 1e3:8.0f} ms cpu")
    if skip_opencv:
        return
    # cv2.bilateralFilter(img, d=-1, sigmaColor=0.4, sigmaSpace=sigma_s): window radius round(1.5 sigma_s)
    cv_wall, cv_cpu, cv_out = timed(lambda: cv2.bilateralFilter(img, -1, SIGMA_R, sigma_s), repeat=1)
    print(f"  cv2  : {cv_wall * 1e3:8.0f} ms wall, {cv_cpu * 1e3:8.0f} ms cpu  ({cv2.getNumThreads()} threads)")
    error = np.abs(grid_out[0].permute(1, 2, 0).numpy() - cv_out) * 255
    print(
        f"  error: mean {error.mean():.3f}/255, 99th percentile {np.quantile(error, 0.99):.2f}/255, "
        f"max {error.max():.2f}/255"
    )
    print(f"  speed: grid is {cv_wall / grid_wall:.0f}x faster (wall), {cv_cpu / grid_cpu:.0f}x less cpu")


def network_sizes(img: np.ndarray) -> None:
    """Each network input size as the filter runs it (exact sum when small, else grid), and the grid forced."""
    print("at the network's sizes (sigma_s = 3 % of the side); error vs cv2.bilateralFilter in 1/255:")
    default_pairs = bilateral_module.DIRECT_MAX_PAIRS
    for side in (512, 256, 128, 64):
        small = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
        one = torch.from_numpy(small).permute(2, 0, 1)[None].contiguous()
        four = torch.cat([one, one.flip(-1), one.flip(-2), one.flip(-1, -2)])
        sigma_s = sigma_s_for(side, side)
        reference = cv2.bilateralFilter(small, -1, SIGMA_R, sigma_s)
        direct = bilateral_module.uses_direct_sum(side, side, sigma_s)
        methods = [("exact sum" if direct else "grid", default_pairs)] + ([("grid (forced)", 0)] if direct else [])
        for name, pairs in methods:
            bilateral_module.DIRECT_MAX_PAIRS = pairs
            for batch in (one, four):
                bilateral_filter(batch, sigma_s)
                wall, cpu, out = timed(lambda: bilateral_filter(batch, sigma_s), repeat=5)
                error = np.abs(out[0].permute(1, 2, 0).numpy() - reference).mean() * 255
                print(f"  {side:3d} x {side:3d}, batch {batch.shape[0]}, {name:13s}: {wall * 1e3:6.1f} ms wall, "
                      f"{cpu * 1e3:6.1f} ms cpu, mean error {error:.3f}")
        bilateral_module.DIRECT_MAX_PAIRS = default_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portrait", type=Path, default=None, help="default: FRL Canada 003f or a fixture")
    parser.add_argument("--megapixels", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=0, help="torch and OpenCV threads (default: theirs)")
    parser.add_argument("--skip-opencv", action="store_true", help="time the grid only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    path = args.portrait or collection_file(COLLECTION_PORTRAIT) or FIXTURE
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), OpenCV {cv2.__version__}; {path}")
    img = load_portrait(path, args.megapixels)
    compare_with_opencv(img, args.skip_opencv)
    network_sizes(img)


if __name__ == "__main__":
    main()
