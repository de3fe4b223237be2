"""How closely this checkout's subject matte and iris centres follow another version's.

Run once with the version to compare against (``PYTHONPATH=OLD_CHECKOUT``, its environment) to save its
outputs, then with this one to compare:

    PYTHONPATH=/path/to/old python benchmarks/matte_mesh_agreement.py --save old.npz
    python benchmarks/matte_mesh_agreement.py --compare old.npz

Photos: the bundled examples and 50 portraits of the collection (``--portraits``, 13 of each of its four
sets, in name order, taken until 50). Figures: the mean absolute difference of the coarse matte and of the
refined full-resolution matte (0-1 scale), and the distance between iris centres, in pixels and in eye widths.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # after PYTHONPATH: the version to save can be another checkout

from deepflash_core.detection.face_mesh import find_eyes  # noqa: E402
from deepflash_core.detection.faces import detect_faces  # noqa: E402
from deepflash_core.imageio import load_photo  # noqa: E402
from deepflash_core.matte.refine import refine, segment  # noqa: E402
from deepflash_train.config import portraits_root  # noqa: E402

PER_SET, TOTAL = 13, 50


def photos(portraits: Path) -> list[Path]:
    chosen = sorted((ROOT / "deepflash_app" / "examples").glob("*.jpg"))
    picked: list[Path] = []
    for folder in sorted(p for p in portraits.iterdir() if p.is_dir()):
        picked += sorted(folder.glob("*.jpg"))[:PER_SET]
    return chosen + picked[:TOTAL]


def outputs(path: Path) -> dict[str, np.ndarray]:
    pixels = load_photo(path).pixels
    coarse = segment(pixels)
    faces = detect_faces(pixels)
    eyes = [find_eyes(pixels, face) for face in faces[:1]]
    centres = [e.centre for e in eyes[0]] if eyes and all(e.source == "mesh" for e in eyes[0]) else []
    widths = [e.width for e in eyes[0]] if centres else []
    return {"coarse": coarse.values, "matte": refine(coarse, pixels),
            "irises": np.array(centres, np.float64).reshape(-1, 2), "widths": np.array(widths, np.float64)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--portraits", "--data", type=Path, help="the studio portrait collection (default: $DEEPFLASH_PORTRAITS)")
    args = parser.parse_args()
    args.portraits = portraits_root(args.portraits)
    found = {p.relative_to(p.parent.parent).as_posix(): outputs(p) for p in photos(args.portraits)}
    if args.save:
        np.savez_compressed(args.save, **{f"{name}|{key}": value for name, out in found.items() for key, value in out.items()})
        print(f"saved {len(found)} photos to {args.save}")
    if not args.compare:
        return
    old = np.load(args.compare)
    rows = []
    for name, out in found.items():
        coarse_old, matte_old = old[f"{name}|coarse"], old[f"{name}|matte"]
        irises_old, widths_old = old[f"{name}|irises"], old[f"{name}|widths"]
        coarse_diff = float(np.abs(out["coarse"] - coarse_old).mean()) if coarse_old.shape == out["coarse"].shape else float("nan")
        matte_diff = float(np.abs(out["matte"] - matte_old).mean())
        if len(irises_old) == 2 and len(out["irises"]) == 2:
            distance = np.hypot(*(out["irises"] - irises_old).T)
            iris = (float(distance.max()), float((distance / widths_old).max()))
        else:
            iris = (float("nan"), float("nan"))
        rows.append((name, coarse_diff, matte_diff, *iris, len(irises_old), len(out["irises"])))
        print(f"{name:45s} coarse {coarse_diff:.1e}  matte {matte_diff:.1e}  iris {iris[0]:6.2f} px {iris[1]:.3f} eye widths"
              f"  (irises before/now {len(irises_old)}/{len(out['irises'])})")
    table = np.array([r[1:5] for r in rows], np.float64)
    print(f"\n{len(rows)} photos; mean (max) over photos:")
    for column, label in enumerate(("coarse matte |diff|", "refined matte |diff|", "iris centre px", "iris centre / eye width")):
        values = table[:, column][~np.isnan(table[:, column])]
        print(f"  {label:24s} {values.mean():.2e} ({values.max():.2e})  over {len(values)} photos")
    lost = sum(1 for r in rows if r[5] == 2 and r[6] != 2)
    gained = sum(1 for r in rows if r[5] != 2 and r[6] == 2)
    print(f"  mesh irises found before but not now: {lost}; now but not before: {gained}")


if __name__ == "__main__":
    main()
