"""Screen-sized 8-bit copies of a photo for the page, and the detected faces drawn on one.

The page shows previews, never the full-resolution result: encoding two 12 MP PNGs for the
before/after slider would cost seconds and tens of megabytes per request. The full-resolution file
is offered separately as a download. Previews are written here rather than by Gradio: its PNG
encoder takes ~0.8 s per 1600 px preview on this CPU, a JPEG ~0.03 s, and only a photo with
transparency needs PNG (written with light compression).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from deepflash_core.pixels import to_uint8

Box = tuple[int, int, int, int]

PREVIEW_SIDE = 1600
PREVIEW_JPEG_QUALITY = 90
"""Longest side, in pixels, of the images shown on the page."""

_FACE_COLOUR = (255, 196, 0)  # amber reads on skin, hair and studio backdrops alike


def to_display_u8(pixels: np.ndarray) -> np.ndarray:
    """8-bit copy of ``(H, W, C)`` uint8/uint16/float32 pixels (float taken as [0, 1])."""
    return to_uint8(pixels)


def preview_scale(height: int, width: int, side: int = PREVIEW_SIDE) -> float:
    """Factor (at most 1) that fits ``height × width`` within ``side × side``."""
    return min(1.0, side / max(height, width))


def make_preview(pixels: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    """Downscaled 8-bit copy (alpha kept) whose longest side is at most ``side``."""
    display = to_display_u8(pixels)
    scale = preview_scale(*display.shape[:2], side=side)
    if scale == 1.0:
        return np.ascontiguousarray(display)
    size = (max(1, round(display.shape[1] * scale)), max(1, round(display.shape[0] * scale)))
    return cv2.resize(display, size, interpolation=cv2.INTER_AREA)


def draw_faces(preview: np.ndarray, boxes: Sequence[Box], scale: float) -> np.ndarray:
    """RGB copy of ``preview`` with each face's box (given in full-image pixels) and its number drawn on.

    Args:
        preview: ``(h, w, 3|4)`` uint8 preview; alpha is dropped (boxes must show on transparent areas).
        boxes: ``(left, top, right, bottom)`` per face, in full-resolution pixels.
        scale: preview pixels per full-resolution pixel.
    """
    canvas = np.ascontiguousarray(preview[..., :3]).copy()
    thickness = max(2, round(max(canvas.shape[:2]) / 300))
    for number, (left, top, right, bottom) in enumerate(boxes, start=1):
        p0 = (round(left * scale), round(top * scale))
        p1 = (round(right * scale) - 1, round(bottom * scale) - 1)
        cv2.rectangle(canvas, p0, p1, _FACE_COLOUR, thickness, lineType=cv2.LINE_AA)
        font_scale = max(0.5, (p1[1] - p0[1]) / 160)
        label_origin = (p0[0], max(p0[1] - 2 * thickness, round(22 * font_scale)))
        cv2.putText(canvas, str(number), label_origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, _FACE_COLOUR,
                    thickness, lineType=cv2.LINE_AA)
    return canvas


def write_preview(preview: np.ndarray, stem: Path) -> Path:
    """Save an 8-bit RGB(A) preview as ``stem``.jpg, or ``stem``.png when it has alpha; returns the path."""
    if preview.shape[2] == 4:
        path = stem.with_suffix(".png")
        encoded = cv2.imencode(".png", cv2.cvtColor(preview, cv2.COLOR_RGBA2BGRA), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    else:
        path = stem.with_suffix(".jpg")
        encoded = cv2.imencode(".jpg", cv2.cvtColor(preview, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_JPEG_QUALITY])
    ok, data = encoded
    if not ok:
        raise OSError(f"cannot encode the preview {path.name}")
    path.write_bytes(data.tobytes())
    return path
