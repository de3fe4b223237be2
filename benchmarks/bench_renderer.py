"""Renderer throughput on one core: synthetic flash/studio pairs per second on square face crops.

    python benchmarks/bench_renderer.py [--sizes 256 512] [--pairs 40] [PORTRAIT ...]

Prints, per crop size, pairs/s of the simple path (``render``: matte + decomposition +
render every time) and of the cached path (``prepare`` once per portrait, then
``render_prepared``), and the cost of ``prepare`` alone.
"""

from __future__ import annotations

import os

# One core, as the training loop's data workers get: set before numpy and OpenCV load.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a source checkout

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from deepflash_core.synthetic import FlashRenderer  # noqa: E402
from deepflash_core.synthetic.portraits import crop_to_face, load_portrait  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("portraits", nargs="*", type=Path, help="studio portraits (default: the test fixtures)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512])
    parser.add_argument("--pairs", type=int, default=40, help="renders per size and path")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    paths = args.portraits or sorted(FIXTURES.glob("congress_*.jpg"))
    portraits = [load_portrait(p, max_side=1024) for p in paths]
    renderer = FlashRenderer()
    print(f"{len(portraits)} portraits, {args.pairs} pairs per measurement, 1 thread")
    for size in args.sizes:
        crops = [crop_to_face(studio, face, size) for studio, face in portraits]
        rng = np.random.default_rng(0)
        renderer.render(*crops[0], rng)  # warm-up

        t = time.perf_counter()
        for i in range(args.pairs):
            renderer.render(*crops[i % len(crops)], rng)
        simple = args.pairs / (time.perf_counter() - t)

        t = time.perf_counter()
        contexts = [renderer.prepare(*c) for c in crops]
        prepare_ms = 1000 * (time.perf_counter() - t) / len(crops)

        t = time.perf_counter()
        for i in range(args.pairs):
            renderer.render_prepared(contexts[i % len(contexts)], rng)
        cached = args.pairs / (time.perf_counter() - t)
        print(
            f"{size}x{size}: render {simple:6.1f} pairs/s | prepare {prepare_ms:6.1f} ms/portrait"
            f" + render_prepared {cached:6.1f} pairs/s"
        )


if __name__ == "__main__":
    main()
