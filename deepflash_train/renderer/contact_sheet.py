"""A contact sheet of random flash renders beside their studio targets.

    python -m deepflash_train.renderer.contact_sheet PORTRAIT_DIR docs/renders_contact_sheet.jpg

Portraits are drawn at random (seeded) from every image under ``PORTRAIT_DIR``,
cut to the square face crop the training uses, and shown as pairs: the studio
target on the left, one flash render on the right.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from deepflash_client.errors import NoFaceError
from deepflash_train.renderer.portraits import crop_to_face, load_portrait
from deepflash_train.renderer.renderer import FlashRenderer

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def _label(tile: np.ndarray, text: str) -> None:
    """Small caption in the tile's bottom-left corner, in place (uint8 RGB)."""
    scale = tile.shape[0] / 600
    org = (4, tile.shape[0] - 6)
    cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def make_contact_sheet(
    portrait_dir: Path, out_path: Path, *, count: int = 16, seed: int = 0, size: int = 256, columns: int = 4
) -> list[Path]:
    """Render ``count`` random portraits and save the pairs as one JPEG grid.

    Args:
        portrait_dir: folder searched recursively for studio portraits.
        out_path: the contact sheet (JPEG).
        count: number of pairs.
        seed: picks the portraits and the flash parameters.
        size: side of each tile in pixels.
        columns: pairs per row.

    Returns:
        The portraits used, in sheet order.
    """
    paths = sorted(p for p in portrait_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paths))
    renderer = FlashRenderer()
    tiles: list[np.ndarray] = []
    used: list[Path] = []
    for index in order:
        if len(used) == count:
            break
        path = paths[index]
        try:
            studio, face = load_portrait(path, max_side=1024)
        except NoFaceError:
            continue
        crop, crop_face = crop_to_face(studio, face, size)
        flash, _ = renderer.render(crop, crop_face, np.random.default_rng([seed, int(index)]))
        pair = [np.round(img * 255).astype(np.uint8) for img in (crop, flash)]
        _label(pair[0], f"{path.parent.name}/{path.name}")
        _label(pair[1], "flash render")
        tiles.append(np.hstack(pair))
        used.append(path)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    if len(rows) > 1 and rows[-1].shape != rows[0].shape:
        pad = np.zeros_like(rows[0])
        pad[:, : rows[-1].shape[1]] = rows[-1]
        rows[-1] = pad
    out_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.vstack(rows)).save(out_path, quality=90)
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description="Contact sheet of flash renders beside their studio targets.")
    parser.add_argument("portrait_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    used = make_contact_sheet(args.portrait_dir, args.out, count=args.count, seed=args.seed, size=args.size)
    print(f"wrote {args.out} ({len(used)} pairs):")
    for path in used:
        print(f"  {path.relative_to(args.portrait_dir)}")


if __name__ == "__main__":
    main()
