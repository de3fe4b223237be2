"""Renderer throughput on one core: synthetic flash/studio pairs per second on square face crops.

    python benchmarks/bench_renderer.py [--sizes 256 512] [--pairs 40] [PORTRAIT ...]

Prints, per crop size, pairs/s of the simple path (``render``: GrabCut matte,
decomposition and render every time), the cost of ``prepare`` when the matte is
given (as the training loop does, warping one matte per portrait), and pairs/s of
``render_prepared`` on a cached context. Wall-clock figures depend on what else
runs; CPU-seconds are one core's work.
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

from deepflash_train.renderer import FlashRenderer  # noqa: E402
from deepflash_train.renderer.geometry import subject_matte  # noqa: E402
from deepflash_train.renderer.portraits import crop_to_face, load_portrait  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "deepflash_app" / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("portraits", nargs="*", type=Path, help="studio portraits (default: the shipped congress examples)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512])
    parser.add_argument("--pairs", type=int, default=40, help="renders per size and path")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    paths = args.portraits or sorted(EXAMPLES.glob("congress_*.jpg"))
    portraits = [load_portrait(p, max_side=1024) for p in paths]
    renderer = FlashRenderer()
    print(f"{len(portraits)} portraits, {args.pairs} pairs per measurement, 1 thread")
    for size in args.sizes:
        crops = [crop_to_face(studio, face, size) for studio, face in portraits]
        rng = np.random.default_rng(0)
        renderer.render(*crops[0], rng)  # warm-up

        with Timer() as simple:
            for i in range(args.pairs):
                renderer.render(*crops[i % len(crops)], rng)
        mattes = [subject_matte(*c) for c in crops]
        with Timer() as prepare:
            contexts = [renderer.prepare(*c, matte=m) for c, m in zip(crops, mattes)]
        with Timer() as cached:
            for i in range(args.pairs):
                renderer.render_prepared(contexts[i % len(contexts)], rng)
        print(
            f"{size}x{size}: render {simple.rate(args.pairs)} | prepare with a given matte"
            f" {prepare.per_item_ms(len(crops))} | render_prepared {cached.rate(args.pairs)}"
        )


class Timer:
    """Wall-clock and CPU time of a block (CPU time is what one core spends, whatever the load)."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def rate(self, n: int) -> str:
        return f"{n / self.wall:5.1f} pairs/s wall, {n / self.cpu:5.1f} per CPU-second"

    def per_item_ms(self, n: int) -> str:
        return f"{1000 * self.wall / n:5.1f} ms wall, {1000 * self.cpu / n:5.1f} ms CPU"


if __name__ == "__main__":
    main()
