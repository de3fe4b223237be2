"""The flash mirrored in an eyeglass lens: found on the lens area, inpainted only when that is honest.

The lens area is an ellipse around each eye from its landmarks (a lens reaches above the eye
and out past its corners). Bright skin, a lit brow bone or a glint on the frame look much like
glare, so a spot counts only when everything about it says "the flash's mirror image":

- near white: every pixel's smallest channel at least ``GLARE_LEVEL``, its channels within
  ``GLARE_CHROMA`` of each other, and a core at nearly full scale (``GLARE_PEAK``): the flash is
  the brightest thing a lens can mirror;
- wholly inside the lens area (a bright patch reaching past it is skin beyond the frame);
- compact (a glint along a frame's rim is a streak) and small (at most a disc of ``MAX_CANDIDATE``
  eye widths: a larger bright area is lit skin, not a mirrored flash);
- ``GLARE_CONTRAST`` brighter than the ring of lens just around it (skin shine fades out slowly);
- clear of the eye opening: there the white of the eye and the catchlight look the same as glare.

The flash mirrors once in a lens, so only the largest such spot per lens counts. It is inpainted
from the lens around it (Telea's method) when no larger than a disc of ``MAX_SPOT`` eye widths and
a few pixels clear of the eye; otherwise it is left as it is, with a note, because filling it would
invent the eye or the face behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deepflash_core.detection.face_mesh import Eye
from deepflash_core.pixels import from_float, to_float

GLARE_LEVEL = 0.85
# The spot's brightest pixel, at least: nearly full scale (the flash outshines anything else a lens
# mirrors; a JPEG's rounding keeps a clipped core a little below 1).
GLARE_PEAK = 0.94
# A spot stands out of the lens around it: its mean lightness above the median of a 2-pixel ring.
GLARE_CONTRAST = 0.35
GLARE_CHROMA = 0.1
# Largest spot inpainted, as the radius of a disc of the same area, in eye widths.
MAX_SPOT = 0.12
# Largest bright spot that can be glare at all (larger ones are left without a note), same measure.
MAX_CANDIDATE = 0.2
# The lens area around an eye, in eye widths: semi-axes along and across the eye, and its centre's
# shift up from the eye's centre (lenses sit higher than the eye opening's centre). Kept inside the
# frame of ordinary glasses: past it are the temple and the nose, where skin and the frame shine.
LENS_AXES = (0.65, 0.6)
LENS_SHIFT_UP = 0.15
# Smallest spot worth a look, in pixels (single clipped pixels are noise or skin texture).
MIN_SPOT_PIXELS = 4
# A spot is at most this many times longer than wide.
MAX_ASPECT = 3.0
# The spot's anti-aliased halo is inpainted with it.
HALO_PX = 2


@dataclass(frozen=True)
class GlareOutcome:
    """The glare found on one lens: inpainted (1) or left as it was (1), or none (both 0)."""

    inpainted: int
    left: int


def lens_window(shape: tuple[int, ...], eye: Eye) -> tuple[int, int, int, int]:
    """Bounding box ``(x0, y0, x1, y1)`` of the eye's lens area, clipped to the image."""
    cx, cy = _lens_centre(eye)
    reach = max(LENS_AXES) * eye.width + HALO_PX + 4
    height, width = shape[:2]
    return (max(int(cx - reach), 0), max(int(cy - reach), 0), min(int(cx + reach) + 1, width), min(int(cy + reach) + 1, height))


def glare_spot(rgb: np.ndarray, eye: Eye, window: tuple[int, int, int, int]) -> np.ndarray | None:
    """Boolean mask (over ``window``) of the flash's glare on the eye's lens, or None.

    Args:
        rgb: the window's pixels, float32 RGB in [0, 1].
        eye: the eye, in image pixels.
        window: where ``rgb`` lies in the image.
    """
    x0, y0, x1, y1 = window
    lens = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cx, cy = _lens_centre(eye)
    axes = (max(round(LENS_AXES[0] * eye.width), 1), max(round(LENS_AXES[1] * eye.width), 1))
    cv2.ellipse(lens, (round(cx - x0), round(cy - y0)), axes, _eye_angle(eye), 0, 360, 1, -1)
    # Per pixel over its three channels, elementwise: numpy reduces along a length-3 axis ~10x slower.
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lightness = np.minimum(np.minimum(red, green), blue)
    chroma = np.maximum(np.maximum(red, green), blue) - lightness
    # Found over the whole window, then kept only when wholly on the lens: a bright patch cut at the
    # lens's edge would otherwise pass as a spot on it.
    bright = (lightness >= GLARE_LEVEL) & (chroma <= GLARE_CHROMA)
    count, labels = cv2.connectedComponents(bright.astype(np.uint8), connectivity=8)
    off_lens = (lens == 0) | _opening(window, eye, grow=1)
    largest = np.pi * (MAX_CANDIDATE * eye.width) ** 2
    best, best_size = None, MIN_SPOT_PIXELS - 1
    for label in range(1, count):
        spot = labels == label
        size = int(spot.sum())
        if not best_size < size <= largest or (spot & off_lens).any() or not _compact(spot):
            continue
        ring = cv2.dilate(spot.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~spot
        values = lightness[spot]
        if values.max() >= GLARE_PEAK and values.mean() - np.median(lightness[ring]) >= GLARE_CONTRAST:
            best, best_size = spot, size
    return best


def _compact(spot: np.ndarray) -> bool:
    """A spot, not a streak: a glint along a frame's rim or a lid's edge is long and thin."""
    points = np.argwhere(spot).astype(np.float32)
    (_, _), (a, b), _ = cv2.minAreaRect(points)
    long, short = max(a, b) + 1.0, min(a, b) + 1.0
    return long <= MAX_ASPECT * short and spot.sum() >= 0.5 * long * short


def _opening(window: tuple[int, int, int, int], eye: Eye, grow: int) -> np.ndarray:
    """The eye opening over the window, grown by ``grow`` pixels, as a bool mask."""
    x0, y0, x1, y1 = window
    opening = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(opening, [np.round(eye.opening - (x0, y0)).astype(np.int32)], 1)
    return cv2.dilate(opening, np.ones((2 * grow + 1,) * 2, np.uint8)).astype(bool)


def reduce_glare(image: np.ndarray, eye: Eye) -> GlareOutcome:
    """Inpaint the glare on one eye's lens in place when it is small and off the eye.

    Only the pixels of an inpainted spot (and its ``HALO_PX`` halo) change; alpha never does.
    """
    window = lens_window(image.shape, eye)
    x0, y0, x1, y1 = window
    if x1 - x0 < 3 or y1 - y0 < 3:
        return GlareOutcome(0, 0)
    region = image[y0:y1, x0:x1, :3]
    rgb = to_float(region)
    spot = glare_spot(rgb, eye, window)
    if spot is None:
        return GlareOutcome(0, 0)
    near_eye = _opening(window, eye, grow=HALO_PX + 1)
    if spot.sum() > np.pi * (MAX_SPOT * eye.width) ** 2 or (spot & near_eye).any():
        return GlareOutcome(0, 1)
    holes = cv2.dilate(spot.astype(np.uint8), np.ones((2 * HALO_PX + 1,) * 2, np.uint8))
    radius = max(3.0, MAX_SPOT * eye.width)
    # 16 bits per channel: OpenCV's float32 inpainting returns garbage, and 8 bits would band 16-bit photos.
    deep = np.round(rgb * 65535.0).astype(np.uint16)
    filled = np.stack([cv2.inpaint(np.ascontiguousarray(deep[..., c]), holes, radius, cv2.INPAINT_TELEA) for c in range(3)], axis=-1)
    filled = from_float(filled.astype(np.float32) / np.float32(65535.0), image.dtype)
    mask = holes.astype(bool)
    region[mask] = filled[mask]
    return GlareOutcome(1, 0)


def _lens_centre(eye: Eye) -> tuple[float, float]:
    cx, cy = eye.opening.mean(axis=0)
    angle = np.radians(_eye_angle(eye))
    up = LENS_SHIFT_UP * eye.width
    return float(cx + up * np.sin(angle)), float(cy - up * np.cos(angle))


def _eye_angle(eye: Eye) -> float:
    """Tilt of the eye's corner-to-corner axis, in degrees."""
    xs = eye.opening[:, 0]
    a, b = eye.opening[int(np.argmin(xs))], eye.opening[int(np.argmax(xs))]
    return float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))
