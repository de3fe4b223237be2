"""Face boxes and 68 landmarks of every portrait, detected once and cached as JSON.

Detection (dlib's HOG detector and 68-point shape predictor, as loaded by ``faces``)
costs ~0.1–1 s per image; the dataset needs the landmarks every time it renders,
so they are computed once per data folder and kept under ``cache/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

# Large photos are detected on a copy no bigger than this; the 68-point predictor then
# runs on the full image so the landmarks keep full precision.
DETECTION_MAX_SIDE = 640
# Faces smaller than ~80 px are missed by the HOG detector; small images are upsampled once.
SMALL_IMAGE_SIDE = 400
CACHE_VERSION = 1


@dataclass(frozen=True)
class FaceLandmarks:
    """One detected face.

    Attributes:
        box: ``(left, top, right, bottom)`` in image pixels.
        landmarks: ``(68, 2)`` float32 array of ``(x, y)`` points in dlib's 68-point order.
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray

    @property
    def centre(self) -> tuple[float, float]:
        """Centre of the face box ``(x, y)``."""
        left, top, right, bottom = self.box
        return (left + right) / 2.0, (top + bottom) / 2.0


def detect_landmarks(rgb: np.ndarray) -> list[FaceLandmarks]:
    """Detect every face in an ``(H, W, 3)`` uint8 RGB image, largest first."""
    import dlib

    from deepflash_core.detection.faces import face_models

    detector, predictor = face_models()

    height, width = rgb.shape[:2]
    scale = min(1.0, DETECTION_MAX_SIDE / max(height, width))
    small = rgb
    if scale < 1.0:
        small = np.asarray(Image.fromarray(rgb).resize((round(width * scale), round(height * scale)), Image.BILINEAR))
    upsample = 1 if max(small.shape[:2]) <= SMALL_IMAGE_SIDE else 0
    rects = detector(small, upsample)
    faces = []
    for rect in rects:
        full = dlib.rectangle(
            round(rect.left() / scale), round(rect.top() / scale), round(rect.right() / scale), round(rect.bottom() / scale)
        )
        shape = predictor(rgb, full)
        points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float32)
        box = (float(full.left()), float(full.top()), float(full.right()), float(full.bottom()))
        faces.append(FaceLandmarks(box=box, landmarks=points))
    faces.sort(key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)
    return faces


def build_landmark_cache(root: Path, files: list[str], cache_path: Path, progress: bool = True) -> dict:
    """Detect the largest face of every file (relative to ``root``) and write them to ``cache_path``.

    Files already in an existing cache are kept, so an interrupted build resumes.

    Returns:
        The cache: ``{"version", "entries": {file: {"width", "height", "box", "landmarks"} or None}}``.
    """
    cache = load_landmark_cache(cache_path) if cache_path.exists() else {"version": CACHE_VERSION, "entries": {}}
    entries: dict = cache["entries"]
    todo = [f for f in files if f not in entries]
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(tqdm(todo, desc="landmarks", disable=not progress)):
        with Image.open(root / name) as image:
            rgb = np.asarray(image.convert("RGB"))
        faces = detect_landmarks(rgb)
        entries[name] = None
        if faces:
            entries[name] = {
                "width": rgb.shape[1],
                "height": rgb.shape[0],
                "box": list(faces[0].box),
                "landmarks": np.round(faces[0].landmarks, 2).tolist(),
            }
        if index % 50 == 49:
            _write_json(cache, cache_path)
    _write_json(cache, cache_path)
    return cache


def load_landmark_cache(cache_path: Path) -> dict:
    """Read a cache written by :func:`build_landmark_cache`."""
    with open(cache_path, encoding="utf-8") as handle:
        cache = json.load(handle)
    if cache.get("version") != CACHE_VERSION:
        return {"version": CACHE_VERSION, "entries": {}}
    return cache


def entry_to_face(entry: dict) -> FaceLandmarks:
    """Turn one cache entry back into a :class:`FaceLandmarks`."""
    return FaceLandmarks(box=tuple(entry["box"]), landmarks=np.asarray(entry["landmarks"], dtype=np.float32))


def _write_json(cache: dict, path: Path) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(cache, handle)
    temporary.replace(path)
