"""What the look benchmarks share: held-out people of the collection, their renders, and the figures.

Only test and validation people (``deepflash_train/data/portraits_split.csv``) are used, one photo a person.
A render is the training pairs' own (:func:`deepflash_train.dataset.make_pair`, no augmentation, no
identity pair) at 512²: the flash input and its studio target with a randomised look; ``plain=True`` renders
the flash from the untouched portrait instead, so the target is the person's own studio photo.
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_keys_on import globally_flash_like, share_closed  # noqa: E402  (the probe's one home)

from deepflash_core.detection.faces import LANDMARK_INDICES, Face, detect_faces  # noqa: E402
from deepflash_core.look import Look  # noqa: E402

SIZE = 512


def collection(data: str | None) -> Path:
    """The portraits' folder: ``--data`` or ``$DEEPFLASH_PORTRAITS``."""
    folder = data or os.environ.get("DEEPFLASH_PORTRAITS")
    if not folder or not Path(folder, "manifest.csv").is_file():
        raise SystemExit("Give the portrait collection with --data DIR or DEEPFLASH_PORTRAITS (a folder with manifest.csv).")
    return Path(folder)


def held_out(root: Path, count: int, sets: tuple[str, ...] = ("frl_london_neutral", "frl_canada", "congress_225x275")) -> list[Path]:
    """Up to ``count`` held-out people's photos (test and validation), taken in turn from ``sets``."""
    with open(ROOT / "deepflash_train/data/portraits_split.csv", newline="", encoding="utf-8") as rows:
        entries = [row for row in csv.DictReader(rows) if row["split"] in ("test", "validation") and row["set"] in sets]
    by_set = [sorted(row["file"] for row in entries if row["set"] == name) for name in sets]
    files = [name for group in zip(*by_set) for name in group] + [n for g in by_set for n in g[min(map(len, by_set)):]]
    return [root / name for name in files[:count]]


def read(path: Path) -> tuple[np.ndarray, Face] | None:
    """The photo (uint8 RGB) and its largest face, or None without one."""
    rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    faces = [face for face in detect_faces(rgb) if face.landmarks]
    return (rgb, max(faces, key=lambda f: f.box[2] - f.box[0])) if faces else None


@dataclass
class Render:
    flash: np.ndarray  # uint8 (SIZE, SIZE, 3)
    target: np.ndarray  # uint8, the studio target
    face: Face  # the face on the crop
    hull: np.ndarray  # bool (SIZE, SIZE), the landmark hull


def render(rgb: np.ndarray, face: Face, seed: int, plain: bool = False) -> Render:
    """One held-out render: the training pairs' crop and flash (see the module's description)."""
    from deepflash_train.renderer import FlashRenderer
    from deepflash_train.dataset import (IDENTITY_AUGMENTATION, Augmentation, crop_affine, face_from_points,
                                                 make_pair, transform_points, warp_crop)
    from deepflash_train.landmarks import FaceLandmarks

    points = np.zeros((68, 2), np.float32)
    for name, indices in LANDMARK_INDICES.items():
        points[list(indices)] = face.landmarks[name]
    marks = FaceLandmarks(tuple(float(v) for v in face.box), points)
    augmentation = Augmentation.from_index(IDENTITY_AUGMENTATION)
    rng = np.random.default_rng(seed)
    matrix = crop_affine(marks, SIZE, augmentation)
    crop_points = transform_points(points.astype(np.float64), matrix)
    left, top, right, bottom = face.box
    corners = transform_points(np.array([[left, top], [right, bottom], [left, bottom], [right, top]], np.float64), matrix)
    crop_face = face_from_points(crop_points, (*corners.min(axis=0), *corners.max(axis=0)), (0, 0, SIZE, SIZE))
    if plain:
        studio = warp_crop(rgb, matrix, SIZE).astype(np.float32) / 255.0
        flash = FlashRenderer().render(studio, crop_face, rng)[0]
        hull = cv2.fillConvexPoly(np.zeros((SIZE, SIZE), np.uint8), cv2.convexHull(np.round(crop_points).astype(np.int32)), 1)
    else:
        flash, studio, hull = make_pair(rgb, marks, SIZE, augmentation, FlashRenderer(), rng, identity_pairs=False)[:3]
    return Render(to_uint8(flash), to_uint8(studio), crop_face, np.asarray(hull) > 0.5)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(image, np.float32) * 255), 0, 255).astype(np.uint8)


def flash_like(rgb: np.ndarray) -> np.ndarray:
    """The whole frame made globally flash-like (``bench_keys_on.GLOBAL_FLASH``), uint8."""
    return to_uint8(globally_flash_like(rgb.astype(np.float32) / 255.0))


def hull_of(face: Face, shape: tuple[int, int]) -> np.ndarray:
    points = np.array([p for group in face.landmarks.values() for p in group], np.float32)
    return cv2.fillConvexPoly(np.zeros(shape, np.uint8), cv2.convexHull(np.round(points).astype(np.int32)), 1) > 0


def face_lab(image: np.ndarray, hull: np.ndarray) -> np.ndarray:
    """Mean CIELAB (L*, a*, b*) of a uint8 image over a mask."""
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[hull].mean(axis=0)


def chroma(lab: np.ndarray) -> np.ndarray:
    return np.hypot(lab[..., 1], lab[..., 2])


def texture_change(image: np.ndarray, reference: np.ndarray, hull: np.ndarray, sigma: float = 2.0) -> float:
    """Mean |high-pass L*| difference over the mask: what a correction did to pores, hair and lashes."""
    def high(x: np.ndarray) -> np.ndarray:
        lightness = cv2.cvtColor(x.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[..., 0]
        return lightness - cv2.GaussianBlur(lightness, (0, 0), sigma)

    return float(np.abs(high(image) - high(reference))[hull].mean())


def look_gaps(a: Look, b: Look) -> dict[str, float]:
    """How far two looks lie apart, per kind: face L*, chroma, hue (degrees), modelling (stops), the light's white."""
    hue = abs((a.face_hue - b.face_hue + 180.0) % 360.0 - 180.0)
    return {"L*": abs(a.face_lightness - b.face_lightness), "chroma": abs(a.face_chroma - b.face_chroma), "hue": hue,
            "modelling": float(np.hypot(a.key_x - b.key_x, a.key_y - b.key_y)),
            "white": float(np.linalg.norm(np.subtract((a.white_lightness, a.white_a, a.white_b),
                                                      (b.white_lightness, b.white_a, b.white_b))))}


def closed(before: list[dict[str, float]], after: list[dict[str, float]], kind: str) -> float:
    """Share of the summed distance ``before`` that ``after`` closes, in percent."""
    return 100.0 * (1.0 - sum(g[kind] for g in after) / max(sum(g[kind] for g in before), 1e-9))


def global_part(pixels: np.ndarray, look: str | tuple) -> np.ndarray:
    """The global part of the correction alone (the look stage of the pipeline, no network)."""
    from deepflash_client.options import Options
    from deepflash_core.detection.detect import detect
    from deepflash_core.look.stage import correct_look
    from deepflash_core.reconstruction.blend import find_subject

    options = Options(look=look, red_eye=False)
    detection = detect(pixels, options)
    subject = find_subject(pixels, detection.coarse, detection.faces, options, [])
    output = pixels.copy()
    correct_look(pixels, output, detection.faces, subject, options, [])
    return output


__all__ = ["Render", "chroma", "closed", "collection", "face_lab", "flash_like", "global_part", "held_out", "hull_of",
           "look_gaps", "read", "render", "share_closed", "texture_change"]
