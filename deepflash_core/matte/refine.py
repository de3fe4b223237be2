"""The subject matte: where the person (face, hair, neck, shoulders) is, as weights in [0, 1].

MediaPipe's selfie segmentation model (Apache-2.0, shipped in ``deepflash_core/detection/mediapipe_models/`` and
run with OpenCV, so nothing is downloaded at run time) finds the person on a downscaled copy of the photo. Its mask is
soft and coarse (the model sees 256 x 256 pixels), so it is refined at full resolution with the
project's guided upsampler: in every small window the matte is fitted as an affine function of the
photo's colour, and that fit is applied to the full-resolution pixels, so the matte's edge follows
the photo's own edges (hair against the backdrop) instead of the model's blur. The refined values are
then stretched so that the backdrop's tail becomes exact zeros and the body exact ones.

The model's part (:mod:`deepflash_core.detection.segmentation`) needs no torch, so it can run before torch is
imported or in another process; the refinement here does.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from deepflash_core.detection.segmentation import CoarseMatte, segment
from deepflash_core.encoding.bilateral import one_cpu_thread
from deepflash_core.pixels import PIXEL_SCALE
from deepflash_core.reconstruction import upsample

__all__ = ["CoarseMatte", "head_mask", "refine", "segment", "subject_matte", "to_uint8"]

# Longer side of the grid on which the coarse matte is fitted to the photo's colours before the fit is
# applied at full resolution: the model's own resolution. The fit's cost grows with the grid's area.
REFINE_SIDE = 256
REFINE_RADIUS = 2
REFINE_EPS = 1e-3
# Tiles of at least this many grid pixels, and full-resolution pixels, a side are either settled (exactly
# 0 or 1: filled) or fitted at full resolution; smaller tiles follow the outline more closely, at more steps.
REFINE_TILE = 8
REFINE_TILE_PIXELS = 96
CONTRAST = 4.0
# Refined values at or below LOW become exactly 0 (backdrop), at or above HIGH exactly 1 (person).
LOW, HIGH = 0.1, 0.9
# The landmark head mask (no person found): hull grown by this factor about its centre, brow points
# copied up by this many face heights (forehead, hair), edge feathered by this many face heights.
HEAD_GROWTH = 1.15
HAIR_RISE = 0.6
HEAD_FEATHER = 0.08


def refine(coarse: CoarseMatte, pixels: np.ndarray, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The matte over ``region`` (``x0, y0, x1, y1`` inside the photo; the whole frame when None) at full resolution.

    Returns:
        ``(y1 - y0, x1 - x0)`` float32: exact 0 on the backdrop, exact 1 well inside the person, edges
        that follow the photo's edges.
    """
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = region if region is not None else (0, 0, width, height)
    colour = pixels[y0:y1, x0:x1, :3]
    rows, columns = y1 - y0, x1 - x0
    factor = min(1.0, REFINE_SIDE / max(rows, columns))
    grid_width, grid_height = max(1, round(columns * factor)), max(1, round(rows * factor))
    low = coarse.sample((x0, y0, x1, y1), grid_width, grid_height)
    # Steepen the model's soft band first: the fit keeps local means, so a soft band in gives a soft band out.
    steep = np.clip((low - np.float32(0.5)) * np.float32(CONTRAST) + np.float32(0.5), 0.0, 1.0)
    # The fit is linear in what it fits, so stretching the tails ((m - LOW) / (HIGH - LOW)) before it costs
    # nothing at full resolution: only the clip to [0, 1] is left for after.
    low = (steep - np.float32(LOW)) * np.float32(1.0 / (HIGH - LOW))
    if region is None and coarse.photo is not None:
        scale, source = 255.0, coarse.photo
    else:
        scale, source = PIXEL_SCALE[pixels.dtype], colour
    guide_low = cv2.resize(source, (grid_width, grid_height), interpolation=cv2.INTER_AREA).astype(np.float32) / np.float32(scale)
    if colour.dtype == np.float32:
        colour = np.clip(np.nan_to_num(colour), 0.0, 1.0)
        guide_low = np.clip(np.nan_to_num(guide_low), 0.0, 1.0)
    with one_cpu_thread(torch.device("cpu")):  # a 256-px grid: a second thread only adds its overhead
        coefficients = upsample.fit_linear_model(
            torch.from_numpy(low)[None, None],
            torch.from_numpy(np.ascontiguousarray(guide_low)).permute(2, 0, 1)[None],
            REFINE_RADIUS,
            REFINE_EPS,
        )[0].numpy()
    coefficients[:3] /= np.float32(PIXEL_SCALE[colour.dtype])  # slopes for the photo's own pixel values
    return _apply_by_tiles(coefficients, _settled(steep), colour)


def _settled(steep: np.ndarray) -> np.ndarray:
    """Per grid pixel, 0 or 1 where the refined matte is certain to be exactly that, else 2.

    A fitted coefficient depends on the grid within two window radii (the fit's windows, then their
    average); where all of that is at the tail (backdrop or body, ``LOW`` / ``HIGH`` away from the
    clip), the fit is the constant tail value and the clipped matte exactly 0 or 1, whatever the photo.
    """
    size = 4 * REFINE_RADIUS + 1
    kernel = np.ones((size, size), np.uint8)
    # Erosion treats pixels past the border as set: the box filters there average only inside pixels.
    backdrop = cv2.erode((steep <= 0.0).astype(np.uint8), kernel).astype(bool)
    body = cv2.erode((steep >= 1.0).astype(np.uint8), kernel).astype(bool)
    return np.where(backdrop, 0, np.where(body, 1, 2)).astype(np.uint8)


def _sample_grid(full: int, grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps (half-pixel centres, edge replicated) of ``full`` pixels on a ``grid``: first, second, weight."""
    position = np.maximum((np.arange(full, dtype=np.float32) + np.float32(0.5)) * np.float32(grid / full) - np.float32(0.5), 0)
    first = np.minimum(np.floor(position).astype(np.int64), grid - 1)
    return first, np.minimum(first + 1, grid - 1), (position - first).astype(np.float32)


def _apply_by_tiles(coefficients: np.ndarray, settled: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``clip(A · I + b)`` at full resolution, computed only on tiles where the matte is not settled.

    Most of a portrait is backdrop or body, exactly 0 or 1: those tiles are filled, row band by row band,
    and the fit (bilinear coefficients times the photo's colour) runs only on tiles along the person's
    outline, the same arithmetic as the guided upsampler's full-frame pass.
    """
    rows, columns = colour.shape[:2]
    grid_rows, grid_columns = settled.shape
    y_first, y_second, y_weight = _sample_grid(rows, grid_rows)
    x_first, x_second, x_weight = _sample_grid(columns, grid_columns)
    # A full-resolution pixel reads two grid rows and columns: a tile's state spans its taps.
    pad = np.pad(settled, ((0, 1), (0, 1)), mode="edge")
    high = np.maximum(np.maximum(pad[:-1, :-1], pad[1:, :-1]), np.maximum(pad[:-1, 1:], pad[1:, 1:]))
    low = np.minimum(np.minimum(pad[:-1, :-1], pad[1:, :-1]), np.minimum(pad[:-1, 1:], pad[1:, 1:]))
    tile = max(REFINE_TILE, int(np.ceil(REFINE_TILE_PIXELS * max(grid_rows / rows, grid_columns / columns))))
    starts_y, starts_x = np.arange(0, grid_rows, tile), np.arange(0, grid_columns, tile)
    tile_high = np.maximum.reduceat(np.maximum.reduceat(high, starts_y, axis=0), starts_x, axis=1)
    tile_low = np.minimum.reduceat(np.minimum.reduceat(low, starts_y, axis=0), starts_x, axis=1)
    row_edges = np.append(np.searchsorted(y_first, starts_y), rows)
    column_edges = np.append(np.searchsorted(x_first, starts_x), columns)
    matte = np.empty((rows, columns), np.float32)
    for ty in range(len(starts_y)):
        r0, r1 = row_edges[ty], row_edges[ty + 1]
        if r0 == r1:
            continue
        ones = (tile_low[ty] == 1).astype(np.float32)  # settled tiles: all 1 or all 0
        matte[r0:r1] = np.repeat(ones, np.diff(column_edges))[None, :]
        for tx in np.nonzero(tile_high[ty] > 1)[0]:
            c0, c1 = column_edges[tx], column_edges[tx + 1]
            if c0 == c1:
                continue
            gy0, gx0 = y_first[r0], x_first[c0]
            block = coefficients[:, gy0 : y_second[r1 - 1] + 1, gx0 : x_second[c1 - 1] + 1]
            # Bilinear resampling of the small coefficient block as two products with tap matrices.
            planes = _taps(y_first[r0:r1] - gy0, y_second[r0:r1] - gy0, y_weight[r0:r1], block.shape[1]) @ block
            planes = planes @ _taps(x_first[c0:c1] - gx0, x_second[c0:c1] - gx0, x_weight[c0:c1], block.shape[2]).T
            guide = colour[r0:r1, c0:c1].astype(np.float32)
            fit = planes[3] + planes[0] * guide[..., 0] + planes[1] * guide[..., 1] + planes[2] * guide[..., 2]
            np.clip(fit, 0.0, 1.0, out=matte[r0:r1, c0:c1])
    return matte


def _taps(first: np.ndarray, second: np.ndarray, weight: np.ndarray, size: int) -> np.ndarray:
    """``(n, size)`` matrix of linear interpolation: row ``i`` weighs ``first[i]`` and ``second[i]``."""
    matrix = np.zeros((len(first), size), np.float32)
    index = np.arange(len(first))
    matrix[index, first] = 1.0 - weight
    matrix[index, second] += weight
    return matrix


def subject_matte(pixels: np.ndarray) -> np.ndarray:
    """The person's matte over the whole photo, ``(H, W)`` float32 in [0, 1] (all 0 when nobody is there)."""
    return refine(segment(pixels), pixels)


def head_mask(landmarks: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
    """A soft head mask over ``region`` from a face's landmarks, for a face the segmentation model missed.

    The landmarks' hull spans eyebrows to chin; it is grown about its centre and its brow points are
    copied upwards by most of a face height so that forehead and hair are inside, then feathered.

    Args:
        landmarks: ``(N, 2)`` full-resolution ``(x, y)`` points of one face.
        region: ``(x0, y0, x1, y1)`` inside the photo.

    Returns:
        ``(y1 - y0, x1 - x0)`` float32 in [0, 1], exact 0 far from the head.
    """
    x0, y0, x1, y1 = region
    rows, columns = y1 - y0, x1 - x0
    centre = landmarks.mean(axis=0)
    height = float(np.ptp(landmarks[:, 1])) or 1.0
    above = landmarks[landmarks[:, 1] < centre[1]] - np.array([0.0, HAIR_RISE * height])
    points = np.concatenate([landmarks, above])
    points = centre + HEAD_GROWTH * (points - centre)
    factor = min(1.0, REFINE_SIDE / max(rows, columns))
    grid = (max(1, round(columns * factor)), max(1, round(rows * factor)))
    mask = np.zeros((grid[1], grid[0]), np.float32)
    hull = cv2.convexHull(((points - (x0, y0)) * factor).astype(np.float32))
    cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 1.0, lineType=cv2.LINE_AA)
    sigma = max(1.0, HEAD_FEATHER * height * factor)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    mask = cv2.resize(mask, (columns, rows), interpolation=cv2.INTER_LINEAR)
    mask[mask < 1e-3] = 0.0  # the Gaussian's far tail: exactly nothing
    return mask


def to_uint8(matte: np.ndarray) -> np.ndarray:
    """A float matte in [0, 1] as 0-255 uint8 (what front ends show or use as a layer mask).

    0 and 255 mean exactly 0 and exactly 1: a pixel the correction touches never shows as 0.
    """
    levels = np.clip(np.round(matte * np.float32(255.0)), 1, 254).astype(np.uint8)
    levels[matte <= 0.0] = 0
    levels[matte >= 1.0] = 255
    return levels
