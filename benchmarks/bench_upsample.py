"""Edge-aware upsampling of the correction: error near edges vs bilinear, and speed at face-crop sizes.

Run:  python benchmarks/bench_upsample.py [--portrait PATH] [--threads N]

1. Synthetic silhouette (tests/test_upsample.py's scene): mean error of the upsampled correction within 4 px of
   the subject's outline, for several radius/eps settings, and the same for plain bilinear.
2. A real portrait: the ideal correction ``BL(x) - BL(o)`` (o = a colour-graded x) computed at full resolution is
   compared with the same correction computed at 256 px and brought back by each method; error over the whole
   image and on its strongest edges (top 10 % of the gradient).
3. Time to upsample a 128 x 128 (shipped model) and a 512 x 512 (paper's) correction to 2580 x 2580 (the face
   crop of a 12 MP photo) and 4000 x 3000, for the guide layouts the pipeline and other callers use.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from deepflash_core.encoding.bilateral import bilateral_filter, sigma_s_for  # noqa: E402
from deepflash_core.reconstruction.upsample import DEFAULT_EPS, DEFAULT_RADIUS, bilinear_upsample, guided_upsample  # noqa: E402
from deepflash_train.config import collection_file  # noqa: E402
from test_upsample import band_error, near_outline, silhouette_scene  # noqa: E402

SETTINGS = [(1, 1e-3), (2, 1e-3), (4, 1e-3), (4, 1e-2), (8, 1e-3)]
# A ~2-megapixel portrait of the collection ($DEEPFLASH_PORTRAITS) when it is there.
COLLECTION_PORTRAIT = "frl_canada/003f.jpg"
FIXTURE = ROOT / "deepflash_app" / "examples" / "congress_A000014.jpg"


def load_rgb(path: Path, size: int) -> torch.Tensor:
    """A centred square crop resized to ``size``, as a (1, 3, size, size) float tensor."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    height, width = bgr.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = bgr[top : top + side, left : left + side]
    interp = cv2.INTER_AREA if side >= size else cv2.INTER_CUBIC
    rgb = cv2.resize(square, (size, size), interpolation=interp)[:, :, ::-1].astype(np.float32) / 255
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].clamp(0, 1)


def colour_grade(x: torch.Tensor) -> torch.Tensor:
    """A stand-in for the studio photo: darker, warmer, more contrast; a per-pixel colour map of x."""
    gains = torch.tensor([0.95, 0.85, 0.75])[None, :, None, None]
    return (gains * x.pow(1.3)).clamp(0, 1)


def synthetic_table() -> None:
    print("1. Synthetic silhouette, 192 px, correction upsampled x4 (mean abs error, 2 seeds)")
    print(f"{'method':<24}{'within 4 px of outline':>24}{'elsewhere':>12}")
    rows: dict[str, list[tuple[float, float]]] = {}
    for seed in range(2):
        scene = silhouette_scene(seed=seed)
        size = scene["photo"].shape[-1]
        band = near_outline(scene["inside"], width=4)
        candidates = {"bilinear": bilinear_upsample(scene["correction_low"], (size, size))}
        for radius, eps in SETTINGS:
            out = guided_upsample(scene["correction_low"], scene["photo_low"], scene["photo"], radius, eps)
            candidates[f"guided r={radius} eps={eps:g}"] = out
        for name, out in candidates.items():
            truth = scene["correction"]
            rows.setdefault(name, []).append((band_error(out, truth, band), band_error(out, truth, ~band)))
    for name, values in rows.items():
        near, far = np.mean(values, axis=0)
        print(f"{name:<24}{near:>24.4f}{far:>12.4f}")


def portrait_table(path: Path) -> None:
    high_size, low_size = 1024, 256
    x_high = load_rgb(path, high_size)
    x_low = F.interpolate(x_high, size=(low_size, low_size), mode="area")
    o_high, o_low = colour_grade(x_high), colour_grade(x_low)
    s_high, s_low = sigma_s_for(high_size, high_size), sigma_s_for(low_size, low_size)
    truth = bilateral_filter(x_high, s_high) - bilateral_filter(o_high, s_high)
    d_low = bilateral_filter(x_low, s_low) - bilateral_filter(o_low, s_low)
    grey = x_high.mean(dim=1, keepdim=True)
    gy, gx = grey[..., 1:, :-1] - grey[..., :-1, :-1], grey[..., :-1, 1:] - grey[..., :-1, :-1]
    magnitude = F.pad((gx.square() + gy.square()).sqrt(), (0, 1, 0, 1))[0, 0]
    edges = magnitude >= magnitude.flatten().quantile(0.9)
    print(f"\n2. Real portrait {path.name}: BL(x) - BL(o) at {low_size} px brought to {high_size} px vs computed at {high_size} px")
    print(f"{'method':<24}{'whole image':>14}{'strongest edges':>18}")
    candidates = {"bilinear": bilinear_upsample(d_low, (high_size, high_size))}
    for radius, eps in SETTINGS:
        candidates[f"guided r={radius} eps={eps:g}"] = guided_upsample(d_low, x_low, x_high, radius, eps)
    for name, out in candidates.items():
        error = (out - truth).abs().mean(dim=1)[0]
        print(f"{name:<24}{error.mean().item():>14.4f}{error[edges].mean().item():>18.4f}")


def timing_table() -> None:
    """Correction sizes of the shipped model (128 px) and the paper's (512 px), to a 12 MP photo's face crop.

    ``float planar``: a float (3, H, W) guide, a new result. ``pipeline call``: what the pipeline does, an
    interleaved (H, W, 3) float guide overwritten in place by the result times the blend weight.
    ``uint8 guide``: the photo's own 8-bit pixels as the guide, into a given interleaved buffer.
    """
    print(f"\n3. Time, correction -> full size (radius={DEFAULT_RADIUS}, eps={DEFAULT_EPS:g}; best of 3)")
    generator = torch.Generator().manual_seed(0)
    for side in (128, 512):
        low = torch.rand(1, 3, side, side, generator=generator) - 0.5
        guide_low = torch.rand(1, 3, side, side, generator=generator)
        for height, width in ((2580, 2580), (3000, 4000)):
            pixels = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=generator)
            planar = (pixels.permute(2, 0, 1).float() / 255)[None].contiguous()
            weight = torch.rand(height, width, generator=generator)
            buffer = torch.empty(height, width, 3)
            interleaved = buffer.permute(2, 0, 1)[None]

            def pipeline_call() -> None:
                buffer.copy_(pixels)  # untimed in the pipeline (its prepare stage); a few ms here
                guided_upsample(low, guide_low, interleaved, weight=weight, out=interleaved)

            timings = {}
            for name, run in (
                ("float planar", lambda: guided_upsample(low, guide_low, planar)),
                ("pipeline call", pipeline_call),
                ("uint8 guide", lambda: guided_upsample(low, guide_low, pixels.permute(2, 0, 1)[None], out=interleaved)),
                ("bilinear", lambda: bilinear_upsample(low, (height, width))),
            ):
                timings[name] = best_of(run)
            print(
                f"{side} px -> {width} x {height} ({height * width / 1e6:.1f} MP): "
                + ", ".join(f"{name} {wall:.0f} ms (cpu {cpu:.0f})" for name, (wall, cpu) in timings.items())
            )


def best_of(run, repeat: int = 3) -> tuple[float, float]:
    """Best wall-clock and process CPU time in ms (CPU time is steadier when other jobs share the machine)."""
    run()
    wall = cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall * 1e3, cpu * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portrait", type=Path, default=None, help="portrait for part 2 (default: FRL or fixture)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    portrait = args.portrait or collection_file(COLLECTION_PORTRAIT) or FIXTURE
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    synthetic_table()
    portrait_table(portrait)
    timing_table()


if __name__ == "__main__":
    main()
