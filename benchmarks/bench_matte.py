"""Cost of the subject matte at 0.5, 2 and 12 megapixels: segmentation, full-resolution refinement, total.

The test photos are the bench_pipeline frames (a bundled portrait upscaled into a 4:3 landscape with
sensor-like noise). Segmentation runs MediaPipe's selfie model on a copy downscaled to
``segmentation.SEGMENT_SIDE``; refinement is the guided fit applied at full resolution over the whole frame.
A bare Pillow JPEG decode+encode of the same frame is printed as the yardstick.

    python benchmarks/bench_matte.py
    python benchmarks/bench_matte.py --clock cpu      # CPU seconds instead of wall time (busy machine)
    python benchmarks/bench_matte.py --sizes 12 --repeat 5
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

if "--clock" in sys.argv[1:-1] and sys.argv[sys.argv.index("--clock") + 1] == "cpu":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts: idle threads must not spin

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_pipeline  # noqa: E402
from deepflash_core.matte import refine as matte  # noqa: E402


def best_of(repeat: int, clock, work) -> float:
    best = math.inf
    for _ in range(repeat):
        start = clock()
        work()
        best = min(best, clock() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.5, 2.0, 12.0], help="megapixels")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or CPU seconds of this process summed over its threads")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    bench_pipeline.CLOCK = clock
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"{'CPU seconds' if args.clock == 'cpu' else 'wall time'}, best of {args.repeat}")
    print(f"{'photo':>10} {'MP':>5} {'segment':>9} {'refine':>9} {'total':>9} {'jpeg':>8} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as folder:
        for megapixels in args.sizes:
            pixels = bench_pipeline.landscape_photo(megapixels)
            source = Path(folder) / "photo.jpg"
            bench_pipeline.write_jpeg(pixels, source)
            coarse = matte.segment(pixels)  # first call loads the model
            assert coarse.found, "the benchmark portrait must hold a person"
            segment = best_of(args.repeat, clock, lambda: matte.segment(pixels))
            refine = best_of(args.repeat, clock, lambda: matte.refine(coarse, pixels))
            jpeg = min(bench_pipeline.jpeg_round_trip(source) for _ in range(args.repeat))
            total = segment + refine
            print(f"{pixels.shape[1]:>5}x{pixels.shape[0]:<4} {pixels.size / 3e6:5.1f} {segment * 1000:7.0f}ms "
                  f"{refine * 1000:7.0f}ms {total * 1000:7.0f}ms {jpeg * 1000:6.0f}ms {total / jpeg:5.2f}x")
    print("('jpeg' = bare Pillow JPEG decode+encode of the same frame, quality 95; 'ratio' = matte total / jpeg)")


if __name__ == "__main__":
    main()
