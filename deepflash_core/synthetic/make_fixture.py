"""Regenerate the demo input ``tests/fixtures/flash_portrait.jpg`` and the eye fixtures.

    python -m deepflash_core.synthetic.make_fixture [--seed N] [--source PATH] [--out PATH]
    python -m deepflash_core.synthetic.make_fixture --eyes

A public-domain studio portrait from the test fixtures, re-lit as a phone-flash
photo by the renderer with a fixed seed; its studio original is the source file.
``--eyes`` writes two small face crops: one with red-eye (``red_eye_portrait.jpg``)
and one whose glasses mirror the flash in a small spot above each eye
(``glare_portrait.jpg``).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from deepflash_core.synthetic.params import FlashParams
from deepflash_core.synthetic.portraits import crop_to_face, load_portrait
from deepflash_core.synthetic.renderer import FlashRenderer

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
SOURCE = FIXTURES / "congress_A000014.jpg"
OUT = FIXTURES / "flash_portrait.jpg"
SEED = 0
EYE_CROP = 320


def make_eye_fixtures(fixtures: Path = FIXTURES, seed: int = SEED) -> list[Path]:
    """Render the red-eye and the eyeglass-glare fixtures (face crops, JPEG quality 95)."""
    renderer = FlashRenderer()
    cases = (
        ("congress_A000055.jpg", "red_eye_portrait.jpg", {"red_eye": 0.9, "glare": 0.0}),
        ("congress_A000014.jpg", "glare_portrait.jpg", {"red_eye": 0.0, "glare": 2.0, "glare_dx": 0.0, "glare_dy": -0.55, "glare_size": 0.09}),
    )
    written = []
    for source, name, fixed in cases:
        crop, face = crop_to_face(*load_portrait(fixtures / source), EYE_CROP)
        rng = np.random.default_rng(seed)
        params = dataclasses.replace(FlashParams.sample(rng), **fixed)
        flash, _ = renderer.render_prepared(renderer.prepare(crop, face), rng, params)
        Image.fromarray(np.round(flash * 255).astype(np.uint8)).save(fixtures / name, quality=95)
        written.append(fixtures / name)
    return written


def make_fixture(source: Path = SOURCE, out: Path = OUT, seed: int = SEED) -> dict[str, float]:
    """Render the flash version of ``source`` and save it as a JPEG (quality 95).

    Returns:
        The flash parameters used.
    """
    studio, face = load_portrait(source)
    flash, params = FlashRenderer().render(studio, face, np.random.default_rng(seed))
    Image.fromarray(np.round(flash * 255).astype(np.uint8)).save(out, quality=95)
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate the flash demo portrait of the test fixtures.")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--eyes", action="store_true", help="write the red-eye and glare fixtures instead")
    args = parser.parse_args()
    if args.eyes:
        for path in make_eye_fixtures(seed=args.seed):
            print(f"wrote {path}")
        return
    params = make_fixture(args.source, args.out, args.seed)
    print(f"wrote {args.out} from {args.source.name} (seed {args.seed}):")
    for name, value in params.items():
        print(f"  {name} = {value:.4g}")


if __name__ == "__main__":
    main()
