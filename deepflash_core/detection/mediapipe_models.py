"""MediaPipe's TensorFlow Lite models, shipped in ``mediapipe_models/`` and run with OpenCV's DNN module.

The selfie segmentation, face detection, face mesh and iris models are MediaPipe's own files
(Apache-2.0; ``mediapipe_models/NOTICE`` says where they come from). OpenCV, which the product needs
anyway, reads them (``cv2.dnn.readNetFromTFLite``, including the segmentation model's custom transposed
convolution), so no MediaPipe package, no download and nothing Python-version specific is needed.

MediaPipe's graphs feed each model a crop of the photo warped into the model's input square: a
rectangle (centre, size, rotation) whose corners map onto the square's corners, sampled bilinearly,
scaled to the model's value range. :func:`crop_tensor` does the same warp, so the models see what they
saw inside MediaPipe.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepflash_client.errors import WeightsError

MODELS = Path(__file__).resolve().parent / "mediapipe_models"
SELFIE_SEGMENTATION = "selfie_segmentation.tflite"
FACE_DETECTION = "face_detection_short_range.tflite"
FACE_LANDMARK = "face_landmark.tflite"
IRIS_LANDMARK = "iris_landmark.tflite"

_nets: dict[str, cv2.dnn.Net] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Rect:
    """A rotated rectangle in image pixels: centre, size and clockwise rotation (radians, y pointing down)."""

    x: float
    y: float
    width: float
    height: float
    rotation: float = 0.0

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """``(N, 2)`` points given in [0, 1] across the rectangle -> image pixels."""
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        dx, dy = (points[:, 0] - 0.5) * self.width, (points[:, 1] - 0.5) * self.height
        return np.stack([self.x + cos * dx - sin * dy, self.y + sin * dx + cos * dy], axis=1)


def net(name: str) -> cv2.dnn.Net:
    """The model file ``name`` loaded once per process (callers serialise their runs with their own lock).

    Raises:
        WeightsError: the file is missing or OpenCV cannot read it.
    """
    with _lock:
        if name not in _nets:
            path = MODELS / name
            try:
                _nets[name] = cv2.dnn.readNetFromTFLite(str(path))
            except cv2.error as error:
                raise WeightsError(f"Cannot load the model {path}: {str(error).strip().splitlines()[-1]}") from None
        return _nets[name]


def crop_tensor(rgb: np.ndarray, rect: Rect, side: int, value_range: tuple[float, float],
                border: int = cv2.BORDER_REPLICATE, mirror: bool = False) -> np.ndarray:
    """``rect`` of the uint8 RGB image warped to a ``(1, 3, side, side)`` float32 blob in ``value_range``.

    ``mirror`` flips the crop left to right (MediaPipe's iris model is given right eyes mirrored).
    """
    cos, sin = math.cos(rect.rotation), math.sin(rect.rotation)
    scale_x, scale_y = rect.width / side, rect.height / side
    # Output pixel (u, v) samples the image at rect's centre + R (u * scale_x - w/2, v * scale_y - h/2).
    matrix = np.array([
        [cos * scale_x, -sin * scale_y, rect.x - cos * rect.width / 2 + sin * rect.height / 2],
        [sin * scale_x, cos * scale_y, rect.y - sin * rect.width / 2 - cos * rect.height / 2],
    ], np.float64)
    if mirror:  # pixel u of the crop becomes pixel side - 1 - u, as an image flip does
        matrix[:, 2] += matrix[:, 0] * (side - 1)
        matrix[:, 0] = -matrix[:, 0]
    crop = cv2.warpAffine(rgb, matrix, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=border)
    low, high = value_range
    blob = crop.astype(np.float32) * np.float32((high - low) / 255.0) + np.float32(low)
    return np.ascontiguousarray(blob.transpose(2, 0, 1)[None])


def run(name: str, blob: np.ndarray) -> dict[str, np.ndarray]:
    """The model's outputs for one input blob, flattened, by output layer name."""
    model = net(name)
    model.setInput(blob)
    names = model.getUnconnectedOutLayersNames()
    return {layer: out.reshape(-1) for layer, out in zip(names, model.forward(names))}
