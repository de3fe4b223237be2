"""Face detection: every face's box, 68 landmarks and a square crop around the head.

Detection runs on a downscaled copy (the HOG detector's cost grows with pixels:
~1.2 s at 12 MP, ~0.13 s at 0.3 MP on one CPU core) and boxes and landmarks are
mapped back to the full image. Only when nothing is found is the search repeated
at a larger scale. Detections whose landmarks do not look like a face (eyes not
level with each other and above the mouth, features outside the box) are dropped.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deepflash_client.errors import WeightsError

Box = tuple[int, int, int, int]
Point = tuple[float, float]

# Pixel area of the copy the detector first searches; then of the retry when nothing was found.
DETECT_AREA = 300_000
RETRY_AREA = 1_200_000
# The crop is a square this many times the detector box's larger side, centred a little above
# the box centre: the HOG box spans eyebrows to chin, the crop must hold hair, forehead and chin.
CROP_SCALE = 2.0
CROP_SHIFT_UP = 0.12
# A damaged environment (DeepFlash installed without its dependencies) says what is missing and what to run.
_MISSING = ("Face detection needs {what}, which is not installed in this Python; "
            "run ./install.sh in the DeepFlash folder, or pip install it again with its dependencies.")
# Faces smaller than this fraction of the largest face's eye distance are dropped (reflections in
# glasses or mirrors, tiny background faces the flash barely reached).
MIN_RELATIVE_SIZE = 0.2

# The 68 iBUG landmark indices of each group, in the order (and with the shared lip corners)
# face_recognition gives them, so the landmarks and everything computed from them stay the same.
LANDMARK_INDICES: dict[str, tuple[int, ...]] = {
    "chin": tuple(range(0, 17)),
    "left_eyebrow": tuple(range(17, 22)),
    "right_eyebrow": tuple(range(22, 27)),
    "nose_bridge": tuple(range(27, 31)),
    "nose_tip": tuple(range(31, 36)),
    "left_eye": tuple(range(36, 42)),
    "right_eye": tuple(range(42, 48)),
    "top_lip": (*range(48, 55), 64, 63, 62, 61, 60),
    "bottom_lip": (*range(54, 60), 48, 60, 67, 66, 65, 64),
}
LANDMARK_GROUPS: tuple[str, ...] = tuple(LANDMARK_INDICES)


@dataclass(frozen=True)
class Face:
    """One face in image pixel coordinates.

    Attributes:
        box: detector box ``(left, top, right, bottom)``, right/bottom exclusive.
        landmarks: face_recognition's 68-point groups, name -> list of ``(x, y)``; empty for
            :func:`whole_image_face`.
        crop: square ``(x0, y0, x1, y1)`` holding hair, forehead and chin; may extend past
            the image border (the pipeline pads by reflection there).
    """

    box: Box
    landmarks: dict[str, list[Point]] = field(default_factory=dict)
    crop: Box = (0, 0, 0, 0)

    @property
    def crop_size(self) -> int:
        """Side of the square crop in pixels."""
        return self.crop[2] - self.crop[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the server and the web page)."""
        return {
            "box": list(self.box),
            "crop": list(self.crop),
            "landmarks": {name: [[round(x, 2), round(y, 2)] for x, y in points] for name, points in self.landmarks.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Face:
        """The face :meth:`to_dict` gave (boxes rounded to whole pixels; a missing crop is the box)."""
        box = _whole_box(data["box"])
        landmarks = {str(name): [(float(x), float(y)) for x, y in points]
                     for name, points in data.get("landmarks", {}).items()}
        return cls(box=box, landmarks=landmarks, crop=_whole_box(data.get("crop", box)))


def _whole_box(values: Any) -> Box:
    left, top, right, bottom = (int(round(v)) for v in values)
    return left, top, right, bottom


def whole_image_face(height: int, width: int) -> Face:
    """A pseudo-face covering the whole frame, for the explicit whole-image mode.

    The crop is the square centred on the frame whose side is the frame's larger side, so the
    network sees the whole photo undistorted (the short side is padded by reflection).
    """
    side = max(height, width)
    x0 = (width - side) // 2
    y0 = (height - side) // 2
    return Face(box=(0, 0, width, height), landmarks={}, crop=(x0, y0, x0 + side, y0 + side))


def detect_faces(rgb: np.ndarray, min_relative_size: float = MIN_RELATIVE_SIZE) -> list[Face]:
    """Find every face in an RGB image.

    Args:
        rgb: ``(H, W, 3)`` image (``(H, W, 4)`` is accepted, alpha ignored); uint8, or uint16 /
            float32 in [0, 1], which are converted after downscaling.
        min_relative_size: drop faces whose eye distance is below this fraction of the largest
            face's (0 keeps every face).

    Returns:
        Faces sorted left to right, boxes, landmarks and crops in ``rgb``'s pixel coordinates.
    """
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    faces: list[Face] = []
    tried: set[tuple[int, int]] = set()
    for area, upsample in _search_scales(height * width):
        factor = _shrink_factor(height, width, area)
        if (factor, upsample) in tried:
            continue
        tried.add((factor, upsample))
        faces = _detect_at(_detector_copy(rgb, factor), upsample, factor)
        if faces:
            break
    faces = _drop_small(faces, min_relative_size)
    return sorted(faces, key=lambda face: (face.box[0], face.box[1]))


def _search_scales(pixels: int) -> list[tuple[int, int]]:
    """(detector area, dlib upsample count) to try in turn until a face is found."""
    scales = [(DETECT_AREA, 0)]
    if pixels > DETECT_AREA:
        scales.append((RETRY_AREA, 0))
    if pixels <= RETRY_AREA:
        # A small image: let dlib double it once to find faces under its 80-pixel window.
        scales.append((RETRY_AREA, 1))
    return scales


def _shrink_factor(height: int, width: int, area: int) -> int:
    """The whole factor that brings ``height`` x ``width`` down to about ``area`` pixels (at least 1)."""
    return max(1, math.isqrt(height * width // area))


def _detector_copy(rgb: np.ndarray, factor: int) -> np.ndarray:
    """A C-contiguous uint8 RGB copy (what dlib requires) shrunk by a whole ``factor``.

    Area averaging by a whole factor takes OpenCV's fast path (a third of a fractional resize at
    12 MP) and maps back exactly. The at most ``factor - 1`` rows and columns left out at the right
    and bottom hold no face.
    """
    colour = rgb[..., :3]
    height, width = colour.shape[:2]
    if factor > 1:
        kept = np.ascontiguousarray(colour[: height - height % factor, : width - width % factor])
        colour = cv2.resize(kept, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    if colour.dtype == np.uint16:
        colour = (colour >> 8).astype(np.uint8)
    elif colour.dtype != np.uint8:
        colour = (np.clip(colour, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(colour)


PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"

_models: tuple[Any, Any] | None = None
_load_lock = threading.Lock()


def face_models() -> tuple[Any, Any]:
    """The HOG detector and the 68-point predictor, loaded once per process (the server's workers share them).

    Only the models the product uses are loaded. A thread would not hide their loading behind the torch
    import, which holds the interpreter lock: a cold ``deepflash process`` detects its first photo in a
    child process instead (:mod:`deepflash_core.detection.child`).
    """
    global _models
    with _load_lock:
        if _models is None:
            try:
                import dlib
            except ImportError:
                raise WeightsError(_MISSING.format(what="dlib (the dlib-bin package)")) from None
            _models = (_hog_detector(), dlib.shape_predictor(str(_model_folder() / PREDICTOR_FILE)))
    return _models


def _hog_detector() -> Any:
    """dlib's frontal face detector, read from a cached copy when there is one.

    dlib decodes its built-in detector from a compressed text form on every start (a third of a second);
    the same detector saved in dlib's binary form loads in a millisecond. The copy is keyed by dlib's
    version and made on first use; where it cannot be written, the built-in one is used.
    """
    import dlib

    cache = _cache_folder() / f"frontal_face_detector-dlib-{dlib.__version__}.svm"
    if cache.is_file():
        try:
            return dlib.fhog_object_detector(str(cache))
        except RuntimeError:  # damaged: made again below
            pass
    detector = dlib.get_frontal_face_detector()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f".{cache.name}.{os.getpid()}")
        detector.save(str(partial))
        os.replace(partial, cache)
    except (OSError, RuntimeError):
        pass
    return detector


def _cache_folder() -> Path:
    home = Path.home()
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "deepflash"


def _model_folder() -> Path:
    """face_recognition_models' model folder, found without importing the package (it imports pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise WeightsError(_MISSING.format(what="face_recognition_models (its model files)"))
    return Path(spec.origin).parent / "models"


def _detect_at(small: np.ndarray, upsample: int, factor: int) -> list[Face]:
    """Detect on ``small`` and map boxes and landmarks back to the image ``factor`` times larger."""
    detector, predictor = face_models()  # first: it says what is missing when dlib is
    import dlib

    height, width = small.shape[:2]
    sx = sy = factor
    faces = []
    for found in detector(small, upsample):
        # The box clipped to the image, as face_recognition reports it; landmarks are fitted in it.
        left, top, right, bottom = max(found.left(), 0), max(found.top(), 0), min(found.right(), width), min(found.bottom(), height)
        shape = predictor(small, dlib.rectangle(left, top, right, bottom))
        points = [(part.x, part.y) for part in shape.parts()]
        landmarks = {name: [points[i] for i in indices] for name, indices in LANDMARK_INDICES.items()}
        if not landmarks_look_like_a_face(landmarks, (left, top, right, bottom)):
            continue
        # Landmarks are pixel indices: map pixel centres, not corners.
        mapped = {
            name: [((x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5) for x, y in landmarks[name]] for name in LANDMARK_GROUPS
        }
        box = (round(left * sx), round(top * sy), round(right * sx), round(bottom * sy))
        faces.append(Face(box=box, landmarks=mapped, crop=crop_for_box(box)))
    return faces


def crop_for_box(box: Box) -> Box:
    """The square crop around a detector box, enlarged to hold hair, forehead and chin."""
    left, top, right, bottom = box
    side = round(CROP_SCALE * max(right - left, bottom - top))
    centre_x = (left + right) / 2
    centre_y = (top + bottom) / 2 - CROP_SHIFT_UP * side
    x0 = math.floor(centre_x - side / 2)
    y0 = math.floor(centre_y - side / 2)
    return (x0, y0, x0 + side, y0 + side)


def landmarks_look_like_a_face(landmarks: dict[str, list[tuple[float, float]]], box: Box) -> bool:
    """Reject detections whose 68 landmarks do not have a face's layout.

    The shape predictor always returns 68 points, even on wallpaper; on a real face the eyes
    are apart by a sensible fraction of the box, the mouth sits below the eye line at a
    sensible distance, and the points lie in and around the box.
    """
    points = np.array([p for name in LANDMARK_GROUPS for p in landmarks.get(name, [])], dtype=np.float64)
    # The lip groups share points, so the nine groups hold 72 points for the 68 landmarks.
    if points.ndim != 2 or points.shape[0] < 68:
        return False
    left, top, right, bottom = box
    box_size = max(right - left, bottom - top, 1)
    left_eye = np.mean(landmarks["left_eye"], axis=0)
    right_eye = np.mean(landmarks["right_eye"], axis=0)
    mouth = np.mean(landmarks["top_lip"] + landmarks["bottom_lip"], axis=0)
    eye_axis = right_eye - left_eye
    eye_distance = float(np.hypot(*eye_axis))
    if not 0.2 * box_size <= eye_distance <= 0.8 * box_size:
        return False
    # "Down" in the face frame: the eye axis turned by 90 degrees (image y grows downwards).
    down = np.array([-eye_axis[1], eye_axis[0]]) / eye_distance
    to_mouth = mouth - (left_eye + right_eye) / 2
    mouth_drop = float(to_mouth @ down)
    mouth_sideways = abs(float(to_mouth @ eye_axis)) / eye_distance
    if not 0.6 * eye_distance <= mouth_drop <= 1.8 * eye_distance or mouth_sideways > 0.5 * eye_distance:
        return False
    # Most of the points lie within the box enlarged by a half on each side.
    margin = 0.5 * box_size
    inside = (
        (points[:, 0] >= left - margin)
        & (points[:, 0] <= right + margin)
        & (points[:, 1] >= top - margin)
        & (points[:, 1] <= bottom + margin)
    )
    return bool(inside.mean() >= 0.9)


def eye_distance(face: Face) -> float:
    """Distance between the eye centres, or the box width when there are no landmarks."""
    if not face.landmarks:
        return float(face.box[2] - face.box[0])
    left_eye = np.mean(face.landmarks["left_eye"], axis=0)
    right_eye = np.mean(face.landmarks["right_eye"], axis=0)
    return float(np.hypot(*(right_eye - left_eye)))


def _drop_small(faces: list[Face], min_relative_size: float) -> list[Face]:
    if len(faces) < 2 or min_relative_size <= 0:
        return faces
    largest = max(eye_distance(face) for face in faces)
    return [face for face in faces if eye_distance(face) >= min_relative_size * largest]
