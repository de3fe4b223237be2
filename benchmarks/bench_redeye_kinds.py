"""Red-eye as real flash photos show it: share fixed per kind, normal eyes touched, on held-out people.

    python benchmarks/bench_redeye_kinds.py --split test --seed 14 --real 300 --sheet docs/red_eye_kinds.jpg
    python benchmarks/bench_redeye_kinds.py --split validation --seed 41 --real 400 --real-split train   # development set
    python benchmarks/bench_redeye_kinds.py --split test --seed 14 --shift --real 0                      # the shift ranges
    python benchmarks/bench_redeye_kinds.py --cost 8905883          # eye stage at 12 MP: that revision's red-eye against this one

Each portrait of the split (``deepflash_train/data/portraits_split.csv``; the thresholds were chosen on
``validation`` people, figures are reported on ``test`` people) is cut to a 512 px face crop and
rendered once by the flash studio without red-eye; the face mesh on the studio crop gives the irises.
Then every kind of :mod:`deepflash_train.renderer.red_eye` is drawn over that render twice with the
same draw: with the glow and without it (the same lens, squeeze, blur and JPEG over normal eyes). The
eye stage runs on both (eyes from the mesh on the render; the far eye of ``far_eye`` as the render
hands it, off by its mesh error).

A glowing pupil is *fixed* when, over the pixels where the renderer's glow map is at least one half,
the 90th percentile of warmth (sRGB R − B) and of luma after the stage are at most those of the same
eye drawn without the glow, plus 0.06 (a dark pupil left in place of the glow, no warm ring, no
pale core left). Normal eyes are *touched* when the stage changes any of their pixels. Real
portraits of the collection (``--real-split``, as they are: studio light, no red-eye) are run
through the stage too: eyes changed, pixels changed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a source checkout

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from deepflash_client.errors import NoFaceError  # noqa: E402
from deepflash_core.detection.face_mesh import find_eyes  # noqa: E402
from deepflash_core.detection.faces import detect_faces  # noqa: E402
from deepflash_core.eyes import redeye  # noqa: E402
from deepflash_core.eyes.glare import reduce_glare  # noqa: E402
from deepflash_core.eyes.stage import fix_eyes, fix_face_eyes, wears_glasses  # noqa: E402
from deepflash_train.renderer import FlashRenderer  # noqa: E402
from deepflash_train.renderer.params import FlashParams  # noqa: E402
from deepflash_train.renderer.portraits import crop_to_face, load_portrait  # noqa: E402
from deepflash_train.renderer.red_eye import KINDS, draw_red_eye  # noqa: E402
from deepflash_train.split import files_in, read_split  # noqa: E402
from deepflash_train.config import portraits_root  # noqa: E402

# How much warmer or brighter than the same eye without glow a fixed pupil may stay (sRGB).
FIXED_MARGIN = 0.06


def to_u8(rgb: np.ndarray) -> np.ndarray:
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def glow_stats(rgb: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """90th percentiles of warmth (R − B) and luma over ``mask`` of a uint8 image."""
    pixels = rgb[mask].astype(np.float32) / 255
    warm = pixels[:, 0] - pixels[:, 2]
    luma = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    return float(np.percentile(warm, 90)), float(np.percentile(luma, 90))


def eye_masks(glow: np.ndarray, eyes) -> list[np.ndarray]:
    """Each eye's share of the glow map (pixels at least half lit, near that eye)."""
    ys, xs = np.mgrid[: glow.shape[0], : glow.shape[1]]
    return [(glow >= 0.5) & (np.hypot(xs - e.centre[0], ys - e.centre[1]) <= 1.6 * e.radius) for e in eyes]


def stage_eyes(image: np.ndarray, face, render):
    """The eyes the stage is handed: the mesh on the render; the far eye as the render says (unsure)."""
    eyes = find_eyes(image, face)
    if render.far is None or len(eyes) != len(render.eyes):
        return eyes
    far = render.eyes[render.far]
    nearest = min(range(len(eyes)), key=lambda i: np.hypot(eyes[i].centre[0] - far.centre[0], eyes[i].centre[1] - far.centre[1]))
    eyes[nearest] = far
    return eyes


def run_stage(image: np.ndarray, face, render) -> tuple[np.ndarray, list]:
    output = image.copy()
    report = fix_face_eyes(output, stage_eyes(image, face, render), wears_glasses(image, face))
    return output, report.outcomes


def crop_pair(before: np.ndarray, after: np.ndarray, eye, label: str) -> np.ndarray:
    """Before | after crops of one eye, 120 px tall, with the kind's name."""
    half = max(int(2.2 * eye.radius), 8)
    x, y = int(eye.centre[0]), int(eye.centre[1])
    box = (slice(max(y - half, 0), y + half), slice(max(x - 2 * half, 0), x + 2 * half))
    tiles = [cv2.resize(img[box], (240, 120), interpolation=cv2.INTER_CUBIC) for img in (before, after)]
    pair = np.concatenate([tiles[0], np.full((120, 4, 3), 255, np.uint8), tiles[1]], axis=1)
    cv2.putText(pair, label, (4, 114), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portraits", "--data", type=Path, help="the studio portrait collection (default: $DEEPFLASH_PORTRAITS)")
    parser.add_argument("--split", default="test", help="people whose portraits are rendered")
    parser.add_argument("--count", type=int, default=0, help="at most this many portraits (0: all of the split)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--shift", action="store_true", help="draw the red-eye parameters from their shift ranges")
    parser.add_argument("--real", type=int, default=300, help="real portraits checked as they are")
    parser.add_argument("--real-split", default="test,validation,train:400", help="splits the real portraits come from, in this order")
    parser.add_argument("--sheet", type=Path, default=None, help="write before/after crops of every kind here")
    parser.add_argument("--cost", metavar="REV", help="only time the eye stage at 12 MP with REV's redeye.py against this tree's")
    args = parser.parse_args()
    args.portraits = portraits_root(args.portraits)
    if args.cost:
        return print_cost(args.cost, sorted((args.portraits / "frl_london_neutral").glob("*.jpg"))[0])
    entries = read_split()
    paths = [args.portraits / f for f in files_in(entries, args.split)]
    paths = paths[: args.count] if args.count else paths
    renderer = FlashRenderer()
    fixed = {k: [] for k in KINDS}
    touched = {k: 0 for k in KINDS}
    normal_eyes = {k: 0 for k in KINDS}
    sheet: dict[str, np.ndarray] = {}
    misses: list[str] = []
    for index, path in enumerate(paths):
        try:
            studio, face = load_portrait(path, max_side=1024)
        except NoFaceError:
            continue
        crop, crop_face = crop_to_face(studio, face, 512)
        eyes = find_eyes(to_u8(crop), crop_face)
        if len(eyes) != 2 or any(e.source != "mesh" for e in eyes):
            continue
        rng = np.random.default_rng([args.seed, index])
        params = FlashParams.sample(rng)
        params = type(params)(**{**params.as_dict(), "red_eye": 0.0, "glare": 0.0})
        clean = renderer.render_prepared(renderer.prepare(crop, crop_face), rng, params)[0]
        for kind in KINDS:
            draws = [draw_red_eye(clean, eyes, kind, np.random.default_rng([args.seed, index, KINDS.index(kind)]), glow=g, shift=args.shift) for g in (True, False)]
            red, normal = (to_u8(d.image) for d in draws)
            after, _ = run_stage(red, crop_face, draws[0])
            normal_after, outcomes = run_stage(normal, crop_face, draws[1])
            normal_eyes[kind] += len(outcomes)
            touched[kind] += sum(o.corrected for o in outcomes)
            for i, mask in enumerate(eye_masks(draws[0].glow, draws[0].eyes)):
                if draws[0].far is not None and i != draws[0].far or mask.sum() < 3:
                    continue  # far_eye: only the far eye is scored (the near one is the red kind's)
                w0, l0 = glow_stats(normal, mask)
                w1, l1 = glow_stats(after, mask)
                ok = w1 <= w0 + FIXED_MARGIN and l1 <= l0 + FIXED_MARGIN
                fixed[kind].append(ok)
                if not ok:
                    misses.append(f"{kind} {path.name} eye {i}: warmth {w1:.2f} vs {w0:.2f}, luma {l1:.2f} vs {l0:.2f}")
                if kind not in sheet and ok and (draws[0].far is None or i == draws[0].far):
                    sheet[kind] = crop_pair(red, after, draws[0].eyes[i], kind)
        if (index + 1) % 20 == 0:
            print(f"  {index + 1}/{len(paths)} portraits", flush=True)
    real_eyes = real_changed = real_pixels = 0
    # "train:400" is the train split from its 401st portrait on (the first 400 were looked at in development).
    parts = [(p.split(":")[0], int(p.split(":")[1]) if ":" in p else 0) for p in args.real_split.split(",")]
    real_paths = [args.portraits / f for name, skip in parts for f in files_in(entries, name)[skip:]][: args.real]
    for path in real_paths:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        try:
            _, face = load_portrait(path)
        except NoFaceError:
            continue
        result = fix_eyes(rgb, face)
        real_eyes += len(result.outcomes)
        real_changed += sum(o.corrected for o in result.outcomes)
        real_pixels += int(np.any(result.pixels != rgb, axis=-1).sum())
    print(f"{args.split} people, seed {args.seed}{', shift ranges' if args.shift else ''}: {len(paths)} portraits")
    print("| kind | glowing pupils fixed | normal eyes touched |")
    print("|---|---|---|")
    for kind in KINDS:
        share = 100 * np.mean(fixed[kind]) if fixed[kind] else float("nan")
        print(f"| {kind} | {sum(fixed[kind])} of {len(fixed[kind])} = {share:.1f} % | {touched[kind]} of {normal_eyes[kind]} |")
    print(f"real portraits ({args.real_split}, first {len(real_paths)}): eyes changed {real_changed} of {real_eyes}, pixels changed {real_pixels}")
    for line in misses[:40]:
        print("  missed:", line)
    if args.sheet and sheet:
        rows = [sheet[k] for k in KINDS if k in sheet]
        Image.fromarray(np.concatenate(rows, axis=0)).save(args.sheet, quality=90)
        print(f"wrote {args.sheet}")


def revision_redeye(revision: str) -> types.ModuleType:
    """REV's ``deepflash_core/eyes/redeye.py`` as a module, on REV's ``pupil_glow.py``."""
    modules = {}
    for name in ("pupil_glow", "redeye"):
        module = types.ModuleType(f"{name}_{revision}")
        sys.modules[module.__name__] = module  # its dataclasses look their module up
        source = subprocess.check_output(["git", "show", f"{revision}:deepflash_core/eyes/{name}.py"], text=True)
        exec(source.replace("deepflash_core.eyes.pupil_glow", modules.get("pupil_glow", "deepflash_core.eyes.pupil_glow")), module.__dict__)
        modules[name] = module.__name__
    return sys.modules[modules["redeye"]]


def print_cost(revision: str, path: Path) -> None:
    """CPU seconds of the eye stage for one face in a 4000x3000 frame, REV's red-eye and this tree's alternating."""
    old = revision_redeye(revision)
    studio = np.asarray(Image.open(path).convert("RGB"))
    studio = cv2.resize(studio, (round(studio.shape[1] * 3000 / studio.shape[0]), 3000), interpolation=cv2.INTER_CUBIC)
    frame = np.zeros((3000, 4000, 3), np.uint8)
    frame[:, 500 : 500 + studio.shape[1]] = studio[:, :3500]
    face = detect_faces(frame)[0]
    times: dict[str, list[float]] = {"before": [], "after": [], "red-eye before": [], "red-eye after": []}
    for _ in range(7):
        for name, module in (("before", old), ("after", redeye)):
            start = time.process_time()
            output, eyes = frame.copy(), find_eyes(frame, face)
            located = time.process_time()
            for eye in eyes:
                module.correct_eye(output, eye)
            times[f"red-eye {name}"].append(time.process_time() - located)
            for eye in eyes if wears_glasses(frame, face) else []:
                reduce_glare(output, eye)
            times[name].append(time.process_time() - start)
    before, after = np.median(times["before"]), np.median(times["after"])
    print(f"eye stage per face at 4000x3000 (mesh, red-eye, glare; CPU s, median of 7, alternating): "
          f"{revision} {before:.3f}, this tree {after:.3f}, ratio {after / before:.2f}; red-eye part alone "
          f"{1000 * np.median(times['red-eye before']):.1f} ms and {1000 * np.median(times['red-eye after']):.1f} ms; "
          f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    start = time.time()
    main()
    print(f"took {time.time() - start:.0f} s")
