"""Face modelling and colour of the synthetic pairs: flash vs target, in CIELAB over the face.

    python benchmarks/bench_face_shading.py --data PORTRAITS [--count 64] [--size 256] [--landmarks FILE]

For ``count`` renders of validation people (one unaugmented crop each, flash seed fixed), prints, over
the landmark hull, CIELAB figures of the flash input and of the studio target beside real phone-flash /
studio pairs (``REAL_PAIRS``): the standard deviation of L* (the face's modelling: about equal in real
pairs, 16.0 / 15.4), mean L*, a*, b* and chroma, the share of clipped pixels (L* > 95) and the ratio of
the mean chroma (real 0.40). A renderer whose targets are flatter than its inputs teaches "flash →
flatten"; one whose flash is more contrasted than real flash teaches a cue real photos lack.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# Real phone-flash / studio pairs (17 pairs outside the repo; CIELAB means over the face hull): flash, studio.
REAL_PAIRS = {"L* std": (16.0, 15.4), "L*": (70.5, 52.8), "a*": (-0.5, 29.9), "b*": (15.3, 31.9),
              "clipped %": (7.0, 0.1), "chroma ratio": 0.40}
# A face pixel counts as clipped above this L*.
CLIPPED_L = 95.0


def face_lab_figures(image: np.ndarray, hull: np.ndarray) -> dict[str, float]:
    """L* std, mean L*, a*, b*, chroma C* and the clipped share (%) of an sRGB image in [0, 1] over a face mask."""
    from skimage.color import rgb2lab

    lab = rgb2lab(np.clip(image, 0.0, 1.0))[hull]
    return {"L* std": float(lab[:, 0].std()), "L*": float(lab[:, 0].mean()), "a*": float(lab[:, 1].mean()),
            "b*": float(lab[:, 2].mean()), "C*": float(np.hypot(lab[:, 1], lab[:, 2]).mean()),
            "clipped %": 100.0 * float((lab[:, 0] > CLIPPED_L).mean())}


@click.command()
@click.option("--data", "root", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--landmarks", default="cache/landmarks_portraits.json", type=click.Path(path_type=Path))
@click.option("--count", default=64, show_default=True)
@click.option("--size", default=256, show_default=True)
@click.option("--seed", default=11, show_default=True)
def main(root: Path, landmarks: Path, count: int, size: int, seed: int) -> None:
    import torch

    from deepflash_train.renderer import FlashRenderer
    from deepflash_train.dataset import (IDENTITY_AUGMENTATION, Augmentation, PortraitStore, SyntheticPairs,
                                                 crop_affine, transform_points)
    from deepflash_train.landmarks import load_landmark_cache
    from deepflash_train.split import files_in, read_split

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
        flash_figures, studio_figures = face_lab_figures(flash, hull), face_lab_figures(studio, hull)
        rows.append((flash_figures, studio_figures, flash_figures["C*"] / max(studio_figures["C*"], 1e-6)))
    print(f"{len(rows)} renders of validation people at {size}², flash seed {seed}, face = landmark hull")
    print("| face | flash | target | real flash | real studio |")
    print("|---|---|---|---|---|")
    for name in ("L* std", "L*", "a*", "b*", "C*", "clipped %"):
        flash_mean = float(np.mean([r[0][name] for r in rows]))
        studio_mean = float(np.mean([r[1][name] for r in rows]))
        real = REAL_PAIRS.get(name, ("–", "–"))
        print(f"| {name} | {flash_mean:.1f} | {studio_mean:.1f} | {real[0]} | {real[1]} |")
    print(f"| chroma ratio flash / target | {float(np.mean([r[2] for r in rows])):.2f} | | "
          f"{REAL_PAIRS['chroma ratio']:.2f} | |")


if __name__ == "__main__":
    main()
