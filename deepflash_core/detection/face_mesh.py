"""Where each eye's iris is: MediaPipe's face mesh and iris models per face crop, the 68 landmarks as fallback.

The mesh and iris models (:mod:`deepflash_core.detection.mesh_models`) run on each face's crop, shrunk to at most
``MESH_SIDE`` pixels, never on the whole frame, in the crop's darkest channel (where a glowing pupil is
dark); their points are mapped back to image pixels. When they find no face in the crop, the eye centres
and an iris radius come from the face's 68-point eye contours instead (iris radius =
``IRIS_PER_EYE_WIDTH`` × eye width, the human average).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from deepflash_core.detection import mesh_models
from deepflash_core.detection.faces import Face
from deepflash_core.pixels import channel_min, to_uint8

# Longest side of the crop the mesh sees: its face model works at 192 px and its iris model on
# 64 px eye patches cut from this copy, so more pixels only cost time.
MESH_SIDE = 640
# An iris is about 11.7 mm across, an eye opening from corner to corner about 28-30 mm.
IRIS_PER_EYE_WIDTH = 0.2
# Pixels per strip when the crop's darkest channel is taken: a strip's three channels stay in cache.
DARKEST_STRIP_PIXELS = 1 << 16
# The mesh's eyelid contours (in order around each eye) and its iris points (centre, then 4 on the rim).
_EYE_CONTOURS = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
)
_IRISES = ((468, 469, 470, 471, 472), (473, 474, 475, 476, 477))

_lock = threading.Lock()  # the models' networks run one input at a time


@dataclass(frozen=True)
class Eye:
    """One eye in image pixels.

    Attributes:
        centre: iris centre ``(x, y)``.
        radius: iris radius.
        opening: ``(N, 2)`` float32 polygon of the eyelids' edges.
        source: ``"mesh"`` (MediaPipe's iris model) or ``"landmarks"`` (68-point contour estimate).
    """

    centre: tuple[float, float]
    radius: float
    opening: np.ndarray
    source: str

    @property
    def width(self) -> float:
        """Corner-to-corner width of the eye opening."""
        xs = self.opening[:, 0]
        ys = self.opening[:, 1]
        corners = self.opening[[int(np.argmin(xs)), int(np.argmax(xs))]]
        return float(max(np.hypot(*(corners[1] - corners[0])), np.ptp(ys), 1.0))


def find_eyes(pixels: np.ndarray, face: Face, use_mesh: bool = True) -> list[Eye]:
    """The eyes of one face: from the face mesh on its crop, else from its 68 landmarks.

    Args:
        pixels: ``(H, W, 3|4)`` uint8, uint16 or float32 image (alpha ignored).
        face: the face, whose crop bounds the mesh's search.
        use_mesh: False skips the mesh and uses the 68 landmarks only.

    Returns:
        Zero to two eyes in image pixels.
    """
    if use_mesh:
        eyes = _mesh_eyes(pixels, face)
        if eyes:
            return eyes
    return landmark_eyes(face)


def landmark_eyes(face: Face) -> list[Eye]:
    """Eyes estimated from the 68-point contours: the contour's centre and the average iris size."""
    eyes = []
    for group in ("left_eye", "right_eye"):
        points = face.landmarks.get(group)
        if not points or len(points) < 6:
            continue
        contour = np.asarray(points, np.float32)
        width = float(np.hypot(*(contour[3] - contour[0])))
        if width < 2:
            continue
        centre = contour.mean(axis=0)
        eyes.append(Eye((float(centre[0]), float(centre[1])), IRIS_PER_EYE_WIDTH * width, contour, "landmarks"))
    return eyes


def _mesh_eyes(pixels: np.ndarray, face: Face) -> list[Eye]:
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = face.crop
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 16 or y1 - y0 < 16:
        return []
    # The mesh sees the crop's darkest channel: a pupil lit red, orange or golden by the flash is dark
    # there, as a normal pupil is; in colour the iris model slides off such a pupil by about a radius.
    # Shrunk as one plane and copied to three channels only at the mesh's size (the three are equal).
    darkest = to_uint8(_darkest_channel(pixels[y0:y1, x0:x1, :3]))
    factor = min(1.0, MESH_SIDE / max(darkest.shape))
    if factor < 1.0:
        size = (max(round(darkest.shape[1] * factor), 1), max(round(darkest.shape[0] * factor), 1))
        darkest = cv2.resize(darkest, size, interpolation=cv2.INTER_AREA)
    with _lock:
        points = mesh_models.face_mesh(np.repeat(darkest[..., None], 3, axis=-1))
    if points is None:
        return []
    # Shrunk crop -> image pixels. MediaPipe's coordinates put a pixel's centre at +0.5, the product's at 0.
    points = points / factor - 0.5 + np.array([x0, y0], np.float32)
    eyes = []
    for contour_ids, iris_ids in zip(_EYE_CONTOURS, _IRISES):
        iris = points[list(iris_ids)]
        radius = float(np.mean(np.hypot(*(iris[1:] - iris[0]).T)))
        eyes.append(Eye((float(iris[0, 0]), float(iris[0, 1])), radius, points[list(contour_ids)], "mesh"))
    return eyes if _inside_box(eyes, face) else []


def _darkest_channel(rgb: np.ndarray) -> np.ndarray:
    """The smallest of each pixel's three channels, ``(h, w)`` in ``rgb``'s dtype.

    A strip of rows at a time, so that a strip's three channels stay in cache. NaN propagates as in ``min``.
    """
    darkest = np.empty(rgb.shape[:2], rgb.dtype)
    step = max(1, DARKEST_STRIP_PIXELS // max(rgb.shape[1], 1))
    for first in range(0, rgb.shape[0], step):
        channel_min(rgb[first : first + step], out=darkest[first : first + step])
    return darkest


def _inside_box(eyes: list[Eye], face: Face) -> bool:
    """The mesh found this face (not a neighbour sharing the crop): its irises lie in the face's box."""
    left, top, right, bottom = face.box
    margin = 0.1 * max(right - left, bottom - top)
    return all(left - margin <= e.centre[0] <= right + margin and top - margin <= e.centre[1] <= bottom + margin for e in eyes)
