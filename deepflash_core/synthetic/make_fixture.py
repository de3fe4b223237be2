"""Regenerate the demo input ``tests/fixtures/flash_portrait.jpg``.

    python -m deepflash_core.synthetic.make_fixture [--seed N] [--source PATH] [--out PATH]

A public-domain studio portrait from the test fixtures, re-lit as a phone-flash
photo by the renderer with a fixed seed; its studio original is the source file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from deepflash_core.synthetic.portraits import load_portrait
from deepflash_core.synthetic.renderer import FlashRenderer

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
SOURCE = FIXTURES / "congress_A000014.jpg"
OUT = FIXTURES / "flash_portrait.jpg"
SEED = 0


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
    args = parser.parse_args()
    params = make_fixture(args.source, args.out, args.seed)
    print(f"wrote {args.out} from {args.source.name} (seed {args.seed}):")
    for name, value in params.items():
        print(f"  {name} = {value:.4g}")


if __name__ == "__main__":
    main()
