"""MediaPipe's face mesh with irises, as its graphs run it, on MediaPipe's own models (OpenCV DNN).

For one photo (a face's crop, in the product): the short-range face detector finds the most confident
face; a square around it (1.5 times its box, turned level with the eyes) is warped to the mesh model's
192 x 192 input; its 468 points are mapped back; for each eye a square 2.3 times the eye's corner
distance is given to the iris model (the right eye mirrored, as the model expects), whose iris centre
and four rim points become points 468-472 (image-left eye) and 473-477, MediaPipe's refined layout.
The constants are those of MediaPipe's face_detection_short_range, face_landmark_front and
iris_landmark graphs.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from deepflash_core.detection.mediapipe_models import FACE_DETECTION, FACE_LANDMARK, IRIS_LANDMARK, Rect, crop_tensor, run

DETECT_SIDE, MESH_SIDE, IRIS_SIDE = 128, 192, 64
MIN_DETECTION_SCORE = 0.5
NMS_OVERLAP = 0.3
FACE_SCALE, EYE_SCALE = 1.5, 2.3
MIN_FACE_PRESENCE = 0.5
# Eye corners (start, end) the iris crops are turned and sized by, in image order: MediaPipe's left eye first.
EYE_CORNERS = ((33, 133), (362, 263))
MESH_POINTS = 468


def _anchors() -> np.ndarray:
    """The detector's 896 anchor centres: 2 per cell of the 16 x 16 grid, then 6 per cell of the 8 x 8 grid."""
    centres = []
    for cells, per_cell in ((16, 2), (8, 6)):
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
    return np.concatenate(centres)


_ANCHORS = _anchors()


def detect_face(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The most confident face: its box ``(x0, y0, x1, y1)`` and 6 key points ``(6, 2)``, image pixels."""
    height, width = rgb.shape[:2]
    side = max(height, width)  # letterboxed: the photo centred in a square, zero outside
    blob = crop_tensor(rgb, Rect(width / 2, height / 2, side, side), DETECT_SIDE, (-1.0, 1.0), cv2.BORDER_CONSTANT)
    out = run(FACE_DETECTION, blob)
    raw = out["regressors"].reshape(-1, 16) / DETECT_SIDE
    scores = 1.0 / (1.0 + np.exp(-np.clip(out["classificators"], -80, 80)))  # float32 exp overflows past ~88
    keep = np.nonzero(scores >= MIN_DETECTION_SCORE)[0]
    if not len(keep):
        return None
    centres = raw[keep, :2] + _ANCHORS[keep]
    boxes = np.concatenate([centres - raw[keep, 2:4] / 2, centres + raw[keep, 2:4] / 2], axis=1)
    points = raw[keep, 4:].reshape(-1, 6, 2) + _ANCHORS[keep, None, :]
    box, keypoints = _weighted_best(boxes, points, scores[keep])
    # Square letterbox coordinates in [0, 1] -> image pixels.
    offset = np.array([(side - width) / 2, (side - height) / 2], np.float32)
    return box * side - np.tile(offset, 2), keypoints * side - offset


def _weighted_best(boxes: np.ndarray, points: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's weighted non-maximum suppression, first cluster only: the best box and those overlapping it."""
    best = int(np.argmax(scores))
    top_left = np.maximum(boxes[:, :2], boxes[best, :2])
    bottom_right = np.minimum(boxes[:, 2:], boxes[best, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    overlap = inter / np.maximum(area + area[best] - inter, 1e-9)
    members = overlap > NMS_OVERLAP
    members[best] = True
    weights = scores[members] / scores[members].sum()
    return (boxes[members] * weights[:, None]).sum(0), (points[members] * weights[:, None, None]).sum(0)


def _level_square(start: np.ndarray, end: np.ndarray, centre: np.ndarray, size: float, scale: float) -> Rect:
    """A square of side ``scale * size`` about ``centre``, turned so that ``start -> end`` is horizontal."""
    rotation = -math.atan2(-(end[1] - start[1]), end[0] - start[0])
    rotation = rotation - 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    side = size * scale
    return Rect(float(centre[0]), float(centre[1]), side, side, rotation)


def face_mesh(rgb: np.ndarray) -> np.ndarray | None:
    """``(478, 2)`` image-pixel points of the most confident face in a uint8 RGB image, or None."""
    found = detect_face(rgb)
    if found is None:
        return None
    box, keypoints = found
    # Key points 0 and 1 are the eyes; the square's side is the box's longer side.
    roi = _level_square(keypoints[0], keypoints[1], (box[:2] + box[2:]) / 2, float(np.max(box[2:] - box[:2])), FACE_SCALE)
    out = run(FACE_LANDMARK, crop_tensor(rgb, roi, MESH_SIDE, (0.0, 1.0)))
    presence = 1.0 / (1.0 + math.exp(-float(out["conv2d_31"][0])))
    if presence < MIN_FACE_PRESENCE:
        return None
    mesh = roi.to_image(out["conv2d_21"].reshape(MESH_POINTS, 3)[:, :2] / MESH_SIDE)
    irises = [_iris(rgb, mesh[start], mesh[end], mirror=index == 1) for index, (start, end) in enumerate(EYE_CORNERS)]
    return np.concatenate([mesh, *irises]).astype(np.float32)


def _iris(rgb: np.ndarray, start: np.ndarray, end: np.ndarray, mirror: bool) -> np.ndarray:
    """``(5, 2)`` iris centre and rim of the eye between two corners, image pixels."""
    # MediaPipe sizes the square by the corners' bounding box (its longer side) about the box's centre.
    low, high = np.minimum(start, end), np.maximum(start, end)
    roi = _level_square(start, end, (low + high) / 2, float(np.max(high - low)), EYE_SCALE)
    out = run(IRIS_LANDMARK, crop_tensor(rgb, roi, IRIS_SIDE, (0.0, 1.0), mirror=mirror))
    points = out["output_iris"].reshape(5, 3)[:, :2] / IRIS_SIDE
    if mirror:
        points[:, 0] = 1.0 - points[:, 0]
    return roi.to_image(points)
