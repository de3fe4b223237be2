"""Before / after (keep, lift) / matte pictures for the docs, and the backdrop check with PNG output.

Runs ``deepflash process`` (the installed default model) on a photo in both background modes, writes
PNG outputs, computes the subject matte of the input with :func:`deepflash_core.matte.refine.subject_matte`, and
prints the largest absolute difference between output and input outside the matte (matte exactly 0)
and inside it. With ``--picture`` it also writes a side-by-side JPEG: input | keep | lift | matte.

    python benchmarks/matte_pictures.py deepflash_app/examples/flash_portrait.jpg --picture docs/matte_example.jpg
    python benchmarks/matte_pictures.py --make-12mp /tmp/portrait_12mp.png --picture docs/matte_12mp.jpg \
        --detail docs/matte_12mp_detail.jpg
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepflash_core.imageio import load_photo  # noqa: E402
from deepflash_core.matte import refine  # noqa: E402

EXAMPLE = ROOT / "deepflash_app" / "examples" / "flash_portrait.jpg"
PICTURE_HEIGHT = 360
DETAIL = 480  # side of the full-resolution detail, in pixels


def make_12mp(target: Path) -> Path:
    """The bundled example upscaled to 3000 x 4000 (12 MP) with sensor-like noise, as a PNG."""
    pixels = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    large = cv2.resize(pixels, (3000, 4000), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    large += np.random.default_rng(0).normal(0.0, 2.0, large.shape).astype(np.float32)
    Image.fromarray(np.clip(large, 0, 255).astype(np.uint8)).save(target)
    return target


def run_cli(source: Path, target: Path, background: str) -> None:
    command = [sys.executable, "-c", "from deepflash_app.cli import main; main()", "process", str(source),
               "-o", str(target), "--background", background, "-q"]
    subprocess.run(command, check=True, cwd=ROOT)


def small(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    size = (round(width * PICTURE_HEIGHT / height), PICTURE_HEIGHT)
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photo", type=Path, nargs="?", default=EXAMPLE)
    parser.add_argument("--make-12mp", type=Path, metavar="PNG", help="write the 12 MP test portrait here and use it")
    parser.add_argument("--picture", type=Path, help="write input | keep | lift | matte as one JPEG here")
    parser.add_argument("--detail", type=Path, help="write input | matte at full resolution around the top of the head")
    args = parser.parse_args()
    source = make_12mp(args.make_12mp) if args.make_12mp else args.photo
    before = load_photo(source).pixels
    subject = refine.to_uint8(refine.subject_matte(before))
    outside = subject == 0
    print(f"{source.name}: {before.shape[1]}x{before.shape[0]}, matte 0 on {outside.mean():.0%} of the frame, "
          f"255 on {(subject == 255).mean():.0%}")
    outputs = {}
    with tempfile.TemporaryDirectory() as folder:
        for background in ("keep", "lift"):
            target = Path(folder) / f"{background}.png"
            run_cli(source, target, background)
            after = load_photo(target).pixels
            difference = np.abs(after.astype(np.int32) - before.astype(np.int32)).max(axis=2)
            print(f"  --background {background}: max |output - input| outside the matte {difference[outside].max()}, "
                  f"inside {difference[~outside].max()} (PNG output)")
            outputs[background] = after
    if args.picture:
        panels = [before, outputs["keep"], outputs["lift"], np.dstack([subject] * 3)]
        Image.fromarray(np.hstack([small(panel[..., :3]) for panel in panels])).save(args.picture, quality=85)
        print(f"  wrote {args.picture} ({args.picture.stat().st_size // 1024} KB): input | keep | lift | matte")
    if args.detail:
        rows = np.nonzero((subject > 0).any(axis=1))[0]
        top = int(rows[0]) if len(rows) else 0  # the crown: where the matte starts
        columns = np.nonzero(subject[top + DETAIL // 4] > 0)[0]
        left = int(columns[0]) if len(columns) else 0  # the head's left outline a little below the crown
        y0, x0 = max(0, top - DETAIL // 8), max(0, left - DETAIL // 4)
        window = (slice(y0, y0 + DETAIL), slice(x0, x0 + DETAIL))
        panels = [before[window][..., :3], np.dstack([subject[window]] * 3)]
        Image.fromarray(np.hstack(panels)).save(args.detail, quality=85)
        print(f"  wrote {args.detail} ({args.detail.stat().st_size // 1024} KB): input | matte, 1:1 at ({x0}, {y0})")


if __name__ == "__main__":
    main()
