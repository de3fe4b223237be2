"""The coarse subject matte: MediaPipe's selfie segmentation model on a downscaled copy of the photo.

This is the part of the matte computed from the photo alone, without torch, so that it can run before
(or beside) the network's start-up; :mod:`deepflash_core.matte.refine` refines it at full resolution.

The *general* model (256 x 256 input) is used, not the *landscape* one (144 x 256): portraits are mostly
upright or square, which the landscape model squeezes to 144 rows, a coarser outline of the hair for a
saving of a few milliseconds on a step that is not the pipeline's bottleneck.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from deepflash_client.errors import InvalidOptionError
from deepflash_core.detection.mediapipe_models import SELFIE_SEGMENTATION, Rect, crop_tensor, run
from deepflash_core.pixels import PIXEL_SCALE

# The copy the segmentation model is given has a longer side of at least this (its graph resizes it to 256 x 256).
SEGMENT_SIDE = 512
# A person is "found" when this fraction of the frame has a coarse matte above one half.
MIN_PERSON_FRACTION = 0.002
# The general model's input square.
MODEL_SIDE = 256

_model_lock = threading.Lock()


class CoarseMatte:
    """The segmentation model's matte over the whole frame, at the resolution it was computed.

    Attributes:
        values: ``(h, w)`` float32 in [0, 1] covering the ``height x width`` frame from its top left corner.
        height, width: the full frame's size in pixels.
        step: full-resolution pixels per matte pixel (``width / w`` unless given).
        photo: the ``(h, w, 3)`` uint8 copy of the photo the model saw, if kept (it makes the refinement's
            low-resolution guide for the whole frame without another pass over the full-resolution pixels).
    """

    def __init__(self, values: np.ndarray, height: int, width: int, step: float | None = None,
                 photo: np.ndarray | None = None) -> None:
        self.values = values
        self.height = height
        self.width = width
        self.step = float(step) if step is not None else width / values.shape[1]
        self.photo = photo

    @property
    def found(self) -> bool:
        """Whether the model saw a person anywhere in the frame."""
        return bool((self.values > 0.5).mean() >= MIN_PERSON_FRACTION)

    def coverage(self, points: np.ndarray) -> float:
        """Mean coarse matte at full-resolution ``(x, y)`` points (e.g. a face's landmarks)."""
        columns = np.clip(((points[:, 0] + 0.5) / self.step).astype(int), 0, self.values.shape[1] - 1)
        rows = np.clip(((points[:, 1] + 0.5) / self.step).astype(int), 0, self.values.shape[0] - 1)
        return float(self.values[rows, columns].mean()) if len(points) else 0.0

    def sample(self, region: tuple[int, int, int, int], grid_width: int, grid_height: int) -> np.ndarray:
        """The coarse matte resampled bilinearly at the centres of a grid laid over ``region`` (full pixels)."""
        x0, y0, x1, y1 = region
        xs = (x0 + (np.arange(grid_width, dtype=np.float32) + 0.5) * ((x1 - x0) / grid_width)) / self.step - 0.5
        ys = (y0 + (np.arange(grid_height, dtype=np.float32) + 0.5) * ((y1 - y0) / grid_height)) / self.step - 0.5
        map_x = np.broadcast_to(xs[None, :], (grid_height, grid_width)).astype(np.float32)
        map_y = np.broadcast_to(ys[:, None], (grid_height, grid_width)).astype(np.float32)
        return cv2.remap(self.values, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def segment(pixels: np.ndarray) -> CoarseMatte:
    """Run the segmentation model on a downscaled copy of ``pixels`` (H x W x 3|4, uint8/uint16/float32)."""
    _check(pixels)
    height, width = pixels.shape[:2]
    # Shrink by a whole factor (OpenCV's fast path for area averaging, and an exact map back); the model
    # resizes what it gets to its own input, so anything from SEGMENT_SIDE to twice that will do.
    step = max(1, max(height, width) // SEGMENT_SIDE)
    colour = pixels[: height - height % step, : width - width % step, :3]
    if colour.dtype == np.float32:
        colour = np.clip(np.nan_to_num(colour), 0.0, 1.0)
    if colour.strides[1] != 3 * colour.itemsize or colour.strides[2] != colour.itemsize:
        colour = np.ascontiguousarray(colour)  # RGBA: OpenCV needs packed pixels (any row stride will do)
    small = cv2.resize(colour, (colour.shape[1] // step, colour.shape[0] // step),
                       interpolation=cv2.INTER_AREA) if step > 1 else np.ascontiguousarray(colour)
    if small.dtype != np.uint8:
        small = np.round(np.clip(small.astype(np.float32) * (255.0 / PIXEL_SCALE[pixels.dtype]), 0, 255)).astype(np.uint8)
    small = np.ascontiguousarray(small)
    rows, columns = small.shape[:2]
    # MediaPipe's graph: the whole copy stretched onto the model's square, its mask stretched back.
    blob = crop_tensor(small, Rect(columns / 2, rows / 2, columns, rows), MODEL_SIDE, (0.0, 1.0), cv2.BORDER_CONSTANT)
    with _model_lock:  # the network runs one input at a time
        (mask,) = run(SELFIE_SEGMENTATION, blob).values()
    values = cv2.resize(mask.reshape(MODEL_SIDE, MODEL_SIDE), (columns, rows), interpolation=cv2.INTER_LINEAR)
    return CoarseMatte(np.clip(values, 0.0, 1.0), height, width, step, small)


def _check(pixels: np.ndarray) -> None:
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.dtype not in PIXEL_SCALE:
        shape = getattr(pixels, "shape", type(pixels).__name__)
        dtype = getattr(pixels, "dtype", "")
        raise InvalidOptionError(f"The matte needs (height, width, 3 or 4) uint8, uint16 or float32 pixels, got {shape} {dtype}.")
