"""Face modelling and colour of the synthetic pairs: flash vs target, in CIELAB over the face.

    python benchmarks/bench_face_shading.py --data PORTRAITS [--count 64] [--size 256] [--landmarks FILE]

For ``count`` renders of validation people (one unaugmented crop each, flash seed fixed), prints
the standard deviation of L* over the landmark hull (the face's modelling) of the flash input and
of the studio target, and the ratio of their mean chroma C*. Real phone-flash / studio pairs
measure about 14.0 / 14.7 (L* std) and 0.40 (chroma ratio): a renderer whose targets are flatter
than its inputs teaches "flash → flatten".
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def face_lab_figures(image: np.ndarray, hull: np.ndarray) -> tuple[float, float]:
    """(L* std, mean chroma C*) of an sRGB image in [0, 1] over a boolean face mask."""
    from skimage.color import rgb2lab

    lab = rgb2lab(np.clip(image, 0.0, 1.0))[hull]
    return float(lab[:, 0].std()), float(np.hypot(lab[:, 1], lab[:, 2]).mean())


@click.command()
@click.option("--data", "root", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--landmarks", default="cache/landmarks_portraits.json", type=click.Path(path_type=Path))
@click.option("--count", default=64, show_default=True)
@click.option("--size", default=256, show_default=True)
@click.option("--seed", default=11, show_default=True)
def main(root: Path, landmarks: Path, count: int, size: int, seed: int) -> None:
    import torch

    from deepflash_core.synthetic import FlashRenderer
    from deepflash_core.training.dataset import (IDENTITY_AUGMENTATION, Augmentation, PortraitStore, SyntheticPairs,
                                                 crop_affine, transform_points)
    from deepflash_core.training.landmarks import load_landmark_cache
    from deepflash_core.training.split import files_in, read_split

    torch.set_num_threads(1)
    cache = load_landmark_cache(landmarks)["entries"]
    files = [f for f in files_in(read_split(), "validation") if cache.get(f)][:count]
    store = PortraitStore(root, files, cache, size)
    options = {"augment": False}
    if "identity_pairs" in inspect.signature(SyntheticPairs).parameters:
        options["identity_pairs"] = False
    pairs = SyntheticPairs(store, FlashRenderer(), size, seed=seed, **options)
    import cv2

    rows = []
    for index in range(len(pairs)):
        item = pairs[index]
        if "face" in item:
            hull = item["face"][0].numpy() > 0.5
        else:
            _, face = store.get(index)
            points = transform_points(face.landmarks.astype(np.float64),
                                      crop_affine(face, size, Augmentation.from_index(IDENTITY_AUGMENTATION)))
            mask = np.zeros((size, size), np.uint8)  # the renderer before face masks: same hull, drawn here
            cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 1)
            hull = mask > 0
        flash = item["flash"].permute(1, 2, 0).numpy()
        studio = item["studio"].permute(1, 2, 0).numpy()
        (flash_std, flash_c), (studio_std, studio_c) = face_lab_figures(flash, hull), face_lab_figures(studio, hull)
        rows.append((flash_std, studio_std, flash_c / max(studio_c, 1e-6), flash_c, studio_c))
    table = np.array(rows)
    flash_std, studio_std, ratio, flash_c, studio_c = table.mean(axis=0)
    print(f"{len(rows)} renders of validation people at {size}², flash seed {seed}, face = landmark hull")
    print(f"face L* std      flash {flash_std:5.1f}   target {studio_std:5.1f}   (real pairs: 14.0 / 14.7)")
    print(f"face chroma C*   flash {flash_c:5.1f}   target {studio_c:5.1f}")
    print(f"chroma ratio     flash / target {ratio:.2f}   (real pairs: 0.40)")


if __name__ == "__main__":
    main()
