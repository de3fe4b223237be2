"""Masks of one eye's window: the window itself, the eyelid opening, filled holes, enclosing shapes."""

from __future__ import annotations

import cv2
import numpy as np

from deepflash_core.detection.face_mesh import Eye


def eye_window(shape: tuple[int, ...], eye: Eye, smallest: float) -> tuple[int, int, int, int] | None:
    """The box around the eye opening and the iris circle, clipped to the image; None when too small
    (an iris radius under ``smallest`` pixels)."""
    height, width = shape[:2]
    cx, cy = eye.centre
    r = 1.2 * eye.radius + 1.0
    x0 = max(int(np.floor(min(cx - r, eye.opening[:, 0].min()))), 0)
    y0 = max(int(np.floor(min(cy - r, eye.opening[:, 1].min()))), 0)
    x1 = min(int(np.ceil(max(cx + r, eye.opening[:, 0].max()))) + 1, width)
    y1 = min(int(np.ceil(max(cy + r, eye.opening[:, 1].max()))) + 1, height)
    if x1 - x0 < 3 or y1 - y0 < 3 or eye.radius < smallest:
        return None
    return x0, y0, x1, y1


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with every hole inside it filled (a ring's dark centre, a catchlight)."""
    padded = np.pad(mask.astype(np.uint8), 1)
    outside = padded.copy()
    cv2.floodFill(outside, None, (0, 0), 1)
    return (padded.astype(bool) | (outside == 0))[1:-1, 1:-1]


def enclosing(ring: np.ndarray, middle: np.ndarray) -> np.ndarray:
    """Labels of the components of ``ring`` whose filled shape covers part of ``middle``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ring.astype(np.uint8), connectivity=8)
    ys, xs = np.nonzero(middle)
    if not len(ys):
        return np.zeros(0, np.int32)
    # Only a component whose box holds part of the middle can enclose it.
    x, y, w, h = (stats[:, i] for i in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
    around = (x <= xs.max()) & (x + w > xs.min()) & (y <= ys.max()) & (y + h > ys.min())
    return np.array([k for k in range(1, count) if around[k] and (fill_holes(labels == k) & middle).any()], np.int32)


def opening_mask(window: tuple[int, int, int, int], polygon: np.ndarray, grow: int) -> np.ndarray:
    """The eyelid polygon rasterised over the window, grown by ``grow`` pixels (the lids' edge pixels)."""
    x0, y0, x1, y1 = window
    mask = np.zeros((y1 - y0 + 2 * grow, x1 - x0 + 2 * grow), np.uint8)
    shifted = np.round((polygon - np.array([x0 - grow, y0 - grow])) * 16).astype(np.int32)
    cv2.fillPoly(mask, [shifted], 1, shift=4)
    if grow:
        mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))[grow:-grow, grow:-grow]
    return mask.astype(bool)
