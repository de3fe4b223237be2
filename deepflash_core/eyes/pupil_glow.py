"""Where a pupil glows: the lit retina seen through it, red, amber, golden or pale, whole or a ring.

Everything is judged inside one eye, against that eye's own iris and sclera, so exposure, white
balance and a lens in front do not matter:

1. **Lens and cast removed.** The eye's window is brought to a common footing: the black level
   (the darkest pixels of the opening: lashes, a dark pupil; a lens's veiling haze lifts it) is
   taken off, and each channel is divided by the sclera's, so the white of the eye comes out
   neutral grey whatever a tinted lens or the white balance did to it.
2. **Glowing pixels.** In that footing a pixel inside the iris circle glows when it is warm
   (``(R − B) / (R + G + B + 1)``: red and amber both stand out, a neutral catchlight does not),
   clearly brighter in red than the iris edge (where a wide pupil's glow seldom reaches), and either
   red or bright; near-white pixels well inside the iris glow too (an overexposed retina). A dark
   pupil is darker than its iris in every channel; a brown or hazel iris is no brighter in red than
   its own edge.
3. **The pupil's extent.** The glowing pixels connected to the middle of the iris, with the holes
   inside them filled (the catchlight, a ring's dark centre): the pupil as it glows, not a fixed
   disc. When the middle itself is dark (as in every normal eye) only a ring of strong glow with
   iris seen around it counts. The iris is re-centred on the glow found and measured again.

The levels were chosen on renders of validation people (``benchmarks/bench_redeye_kinds.py``): see
``docs/RED_EYE.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from deepflash_core.detection.face_mesh import Eye
from deepflash_core.eyes.eye_masks import enclosing, eye_window, fill_holes, opening_mask
from deepflash_core.pixels import to_float

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
# The iris the glow is compared with, and the sclera, in iris radii from the centre.
IRIS_RING = (0.5, 1.05)
IRIS_EDGE = (0.85, 1.05)
IRIS_EDGE_PERCENTILE = 25
# No iris is lighter in red than this (in the eye's footing): a brighter edge is the glow itself.
LIGHTEST_IRIS = 0.7
SCLERA_FROM = 1.15
# An iris of a smaller radius (pixels) is not judged: JPEG keeps colour at half resolution in 8x8
# blocks, so a pupil of three or four pixels has no colour of its own (its lids and skin bleed in).
SMALLEST_IRIS = 5.0
# The eye's black level: this percentile of the opening's darkest channel.
BLACK_PERCENTILE = 1
# The pupil lies inside this share of the iris radius (the mesh's radius is often a little short);
# a glow must cover its middle (this share).
PUPIL_REACH = 1.15
MIDDLE = 0.3
# ... and at least this share of its centre (this share of the iris radius; a pupil is never smaller).
CENTRE = 0.15
CENTRE_GLOWING = 0.5
# Where the middle does not glow (the mesh's iris beside a glowing pupil), the largest glow centred
# within this (iris radii), covering at least this share of the iris circle and lying this share
# inside the opening clear of the lids, is measured around itself.
ASIDE = 1.2
GLOW_AREA = 0.08
INSIDE = 0.6
# ... on irises of at least this radius (pixels): on smaller ones a light brown iris's lower half,
# its colour smeared by JPEG, passes for a glow beside the pupil.
ASIDE_IRIS = 7.0
# ... and only when the very centre is not a dark pupil (its median luma in the eye's footing above this).
DARK_PUPIL = 0.4
# A glow centred further than the first (iris radii) from the centre is measured again around itself,
# up to the second from the given centre (further out, a warm blob is the eye's corner, not its
# pupil; a 68-point eye contour's centre is only roughly where the iris is).
RECENTRE = (0.1, {"mesh": ASIDE, "landmarks": 1.0})
RECENTRINGS = 5
# Per-pixel glow, in the eye's footing (sclera = 1): warmer than this, at least this red, and
# redder than this or brighter than this. A ring around a dark middle (the middle itself not
# glowing, as in every normal eye) must be warmer, and redder or brighter (``RING``).
WARMTH = 0.06
RED_LEVEL = 0.3
REDDER = 0.10
BRIGHTER = 0.45
RING = (0.12, 0.18, 0.6)  # warmth, and redness or luma
# A ring's pixels lie in this band (iris radii) in at least this share of the directions (of
# ``SECTORS``) in which the band is seen: a crescent goes half way round, a lid line or a corner does not.
RING_BAND = (0.15, 0.9)
RING_COVER = 0.3
# ... and its median red at least this (sclera = 1).
RING_RED = 0.8
SECTORS = 12
# A glow around a middle at least this bright (in the eye's footing) has a pale core.
PALE_CORE = 0.8
PALE_REACH = 0.8
# A glowing pixel's red over the iris edge's (``IRIS_EDGE``); the least share of the iris circle a
# ring glow leaves seen around it, unless its median redness is this (no iris is as red); the least
# share of the middle a glow covers.
OVER_IRIS = 1.15
AROUND_SEEN = 0.1
RED_RING = 0.2
MIDDLE_COVER = 0.5
# The glow's warmth is this percentile over its pixels (its warm part; a pale core is neutral).
STRENGTH_PERCENTILE = 75
# The catchlight: bright, near-neutral pixels (blue at least this share of red: JPEG and blur tint
# its edge by the glow around it), no larger than a disc of this share of the iris's radius.
CATCHLIGHT_LEVEL = 0.55
CATCHLIGHT_BLUE = 0.8
CATCHLIGHT_RADIUS = 0.3
# ... and at least this much brighter (darkest channel, sclera = 1) than what surrounds it: a light
# iris or the sclera beside it is not part of it.
CATCHLIGHT_ABOVE = 0.1


@dataclass(frozen=True)
class PupilGlow:
    """One eye's glowing pupil, in its window of the image.

    Attributes:
        window: ``(x0, y0, x1, y1)`` in image pixels.
        region: bool mask of the glowing pupil (holes filled) over the window.
        catchlight: bool mask of the catchlight over the window (kept by a fix).
        share: glowing pixels over the iris circle's area (0 when none reach the middle).
        strength: warmth of the glowing pixels (75th percentile: a pale core is neutral) above the sclera's.
        level: a natural dark pupil's level in the image's float units (the eye's black level).
        white: the colour of the eye's white in the image (a lens's tint, the white balance), unit luma:
            the colour a catchlight has in this eye.
    """

    window: tuple[int, int, int, int]
    region: np.ndarray
    catchlight: np.ndarray
    share: float
    strength: float
    level: float
    white: tuple[float, float, float] = (1.0, 1.0, 1.0)


def warmth(rgb: np.ndarray) -> np.ndarray:
    """``(R − B) / (R + G + B + 1)``: red and amber glows high, neutral and blue low. ``(…, 3)`` to ``(…)``."""
    return (rgb[..., 0] - rgb[..., 2]) / (rgb.sum(axis=-1) + np.float32(1.0))


def redness(rgb: np.ndarray) -> np.ndarray:
    """``(R − max(G, B)) / (R + G + B + 1)``: red high, amber and brown lower."""
    return (rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2])) / (rgb.sum(axis=-1) + np.float32(1.0))


def eye_footing(rgb: np.ndarray, opening: np.ndarray, sclera: np.ndarray) -> tuple[np.ndarray, float]:
    """The window with the eye's black level taken off and the sclera made neutral; and the black level.

    Args:
        rgb: ``(h, w, 3)`` float window.
        opening: bool mask of the eye opening.
        sclera: bool mask of the white of the eye (fewer than 4 pixels: only the black level is removed).
    """
    footing, black, _ = _footing(rgb, opening, sclera)
    return footing, black


def _footing(rgb: np.ndarray, opening: np.ndarray, sclera: np.ndarray) -> tuple[np.ndarray, float, tuple[float, float, float]]:
    """:func:`eye_footing`, and the eye's white in the image (unit luma)."""
    seen = rgb[opening] if opening.sum() >= 4 else rgb.reshape(-1, 3)
    # A lens's haze is near white: one level for all channels, from the darkest pixels seen.
    black = np.float32(np.percentile(seen.min(axis=-1), BLACK_PERCENTILE))
    lifted = np.maximum(rgb - black, 0.0)
    if sclera.sum() < 4:
        return lifted, float(black), (1.0, 1.0, 1.0)
    white = np.maximum(np.median(lifted[sclera], axis=0), 0.02)
    # A lens's tint or a colour cast scales the channels by a few tens of percent, not more.
    balance = np.clip(white.mean() / white, 0.6, 1.6)
    gains = balance / max(float(white.mean()), 0.35)
    tint = 1.0 / balance
    return (lifted * gains).astype(np.float32), float(black), tuple(float(c) for c in tint / float(tint @ LUMA))


def find_glow(pixels: np.ndarray, eye: Eye) -> PupilGlow | None:
    """The glowing pupil of ``eye`` in ``pixels`` (``(H, W, 3|4)`` uint8, uint16 or float32); None when none is visible.

    The iris is then re-centred on the glow found and the glow measured again:
    the mesh's iris model can mistake a bright pupil for the white of the eye and slide off it.
    """
    glow, blob = _measure(pixels, eye)
    given = eye.centre
    for _ in range(RECENTRINGS):
        if glow is None or blob is None or not RECENTRE[0] <= np.hypot(blob[0] - eye.centre[0], blob[1] - eye.centre[1]) / eye.radius:
            break
        if np.hypot(blob[0] - given[0], blob[1] - given[1]) > RECENTRE[1][eye.source] * eye.radius:
            break
        eye = replace(eye, centre=blob)
        moved, blob = _measure(pixels, eye)
        # Closer to the glow's centre, more of it or a warmer part of it lies in the circle.
        if moved is None or moved.share <= glow.share and (moved.share == 0 or moved.strength <= glow.strength):
            break
        glow = moved
    return glow


def _measure(pixels: np.ndarray, eye: Eye) -> tuple[PupilGlow | None, tuple[float, float] | None]:
    """The glow around ``eye``'s iris centre, and the centre of the glowing area found (None without one)."""
    window = eye_window(pixels.shape, eye, SMALLEST_IRIS)
    if window is None:
        return None, None
    x0, y0, x1, y1 = window
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    distance = np.hypot(xs - eye.centre[0], ys - eye.centre[1])
    opening = opening_mask(window, eye.opening, 0)
    near = opening_mask(window, eye.opening, 1)
    iris = near & (distance <= PUPIL_REACH * eye.radius)
    raw = to_float(pixels[y0:y1, x0:x1, :3])
    sclera = opening & (distance > SCLERA_FROM * eye.radius)
    rgb, black, white = _footing(raw, opening, sclera)
    warm, red, luma = warmth(rgb), redness(rgb), rgb @ LUMA
    catchlight = _catchlight(rgb, warm, iris, eye.radius)
    # The iris's edge, its darker side: a wide pupil's glow (and its blur) seldom reaches it.
    edge = opening & ~catchlight & (distance > IRIS_EDGE[0] * eye.radius) & (distance <= IRIS_EDGE[1] * eye.radius)
    iris_red = min(float(np.percentile(rgb[..., 0][edge], IRIS_EDGE_PERCENTILE)) if edge.sum() >= 3 else 0.0, LIGHTEST_IRIS)
    candidate = near & ~catchlight & (warm >= WARMTH) & (rgb[..., 0] >= max(RED_LEVEL, OVER_IRIS * iris_red))
    glowing = candidate & ((red >= REDDER) | (luma >= BRIGHTER))
    # An overexposed retina: near-white and larger than a catchlight, well inside the iris (no iris
    # is as light as the white of the eye).
    glowing |= near & ~catchlight & (luma >= PALE_CORE) & (distance <= PALE_REACH * eye.radius)
    empty = PupilGlow(window, np.zeros_like(glowing), catchlight, 0.0, 0.0, black, white)
    if not candidate.any() and not glowing.any():  # as in most normal eyes: nothing warm or pale
        return empty, None
    middle = iris & (distance <= MIDDLE * eye.radius)
    _, labels = cv2.connectedComponents(glowing.astype(np.uint8), connectivity=8)
    blob = None
    central = np.unique(labels[glowing & middle])
    whole = np.isin(labels, central[central > 0])
    region = whole & iris
    # The very centre glows itself (a light iris around a small dark pupil reaches the middle too).
    centre = iris & ~catchlight & (distance <= max(CENTRE * eye.radius, 1.0))
    if centre.any() and (glowing & centre).sum() < CENTRE_GLOWING * centre.sum():
        region = np.zeros_like(region)
    if region.any():  # the glow's centre, the part of it past the iris circle included
        ry, rx = np.nonzero(whole)
        blob = (float(rx.mean() + x0), float(ry.mean() + y0))
    elif not centre.any() or np.median(luma[centre]) > DARK_PUPIL:
        # The mesh's iris beside a glowing pupil (its centre not on a dark pupil, where the mesh is
        # right and a lit iris around it is no glow): the largest glow near it, measured around itself.
        blob = _largest_glow(glowing, labels, distance, eye.radius, opening, (x0, y0))
    if not region.any():  # a glow around a pale, overexposed core (as neutral as the sclera)
        wrapping = np.isin(labels, enclosing(glowing, middle))
        hole = fill_holes(wrapping) & ~wrapping & middle
        if hole.any() and np.median(luma[hole]) >= PALE_CORE:
            region = wrapping & iris
    ringed = not region.any()
    filled = fill_holes(region) & iris
    if ringed:  # a ring or a crescent around a dark middle: only a strong glow, going around the centre
        ring = candidate & (warm >= RING[0]) & ((red >= RING[1]) | (luma >= RING[2])) & iris & (distance <= RING_BAND[1] * eye.radius)
        region, filled = _ring(ring, near & ~catchlight, xs - eye.centre[0], ys - eye.centre[1], distance, eye.radius)
        # A lit retina is bright in red; a red-brown iris around a dark pupil, lit by a warm studio, is not.
        if region.any() and np.median(rgb[..., 0][region]) < RING_RED:
            region, filled = np.zeros_like(region), np.zeros_like(region)
    # The glow covers the middle of the pupil (a lit lid line or the eye's corner only touch it).
    if not region.any() or (filled & middle).sum() < MIDDLE_COVER * max(middle.sum(), 1):
        return empty, blob
    around = opening & ~filled & ~catchlight & (distance > IRIS_RING[0] * eye.radius) & (distance <= IRIS_RING[1] * eye.radius)
    # A ring (as a brown iris around a dark pupil would look) must show an iris around it, unless
    # it is red as no iris is.
    if ringed and around.sum() < AROUND_SEEN * np.pi * eye.radius**2 and np.median(red[region]) < RED_RING:
        return empty, blob
    base = float(np.median(warm[sclera])) if sclera.sum() >= 4 else 0.0
    share = float((filled if ringed else region).sum()) / (np.pi * eye.radius**2)
    # The warm part of the glow: a pale core or a catchlight grown by blur is neutral, the glow around it is not.
    strength = float(np.percentile(warm[region & ~catchlight], STRENGTH_PERCENTILE)) if (region & ~catchlight).any() else 0.0
    return PupilGlow(window, filled, catchlight, share, strength - base, black, white), blob


def _largest_glow(glowing: np.ndarray, labels: np.ndarray, distance: np.ndarray, radius: float, opening: np.ndarray,
                  origin: tuple[int, int]) -> tuple[float, float] | None:
    """The centre (image pixels) of the largest glowing area centred within ``ASIDE`` iris radii,
    at least ``GLOW_AREA`` of the iris circle and inside the opening, clear of the lids (warm skin
    of a lid or the eye's corner lies on them); None without one or on an iris under ``ASIDE_IRIS``."""
    count = int(labels.max())
    if count == 0 or radius < ASIDE_IRIS:
        return None
    areas = np.bincount(labels[glowing], minlength=count + 1)
    k = int(np.argmax(areas[1:])) + 1
    ys, xs = np.nonzero(labels == k)
    inside = cv2.erode(opening.astype(np.uint8), np.ones((3, 3), np.uint8))[ys, xs].mean()
    if areas[k] < GLOW_AREA * np.pi * radius**2 or distance[int(ys.mean() + 0.5), int(xs.mean() + 0.5)] > ASIDE * radius or inside < INSIDE:
        return None
    return float(xs.mean() + origin[0]), float(ys.mean() + origin[1])


def _ring(ring: np.ndarray, seen: np.ndarray, dx: np.ndarray, dy: np.ndarray, distance: np.ndarray,
          radius: float) -> tuple[np.ndarray, np.ndarray]:
    """A ring glow's pixels and the pupil it bounds: the disc out to the ring's outer edge, its dark
    centre included. Both empty unless the ring's pixels lie around the centre (at least
    ``RING_COVER`` of the directions in which the eye opening shows the pupil's band)."""
    band = seen & (distance >= RING_BAND[0] * radius) & (distance <= RING_BAND[1] * radius)
    if not (ring & band).any():
        return np.zeros_like(ring), np.zeros_like(ring)
    sector = ((np.arctan2(dy[band], dx[band]) + np.pi) * (SECTORS / (2 * np.pi))).astype(np.int32) % SECTORS
    visible = np.bincount(sector, minlength=SECTORS) > 0
    lit = np.bincount(sector[ring[band]], minlength=SECTORS) > 0
    if not visible.any() or lit.sum() < RING_COVER * visible.sum():
        return np.zeros_like(ring), np.zeros_like(ring)
    disc = seen & (distance <= np.percentile(distance[ring], 98) + 0.5)
    return ring & disc, disc


def _catchlight(rgb: np.ndarray, warm: np.ndarray, iris: np.ndarray, radius: float) -> np.ndarray:
    """Bright, neutral spots on the iris no larger than a catchlight (a pale glow is larger and warm)."""
    lowest = rgb.min(axis=-1)
    bright = iris & (lowest >= CATCHLIGHT_LEVEL) & (rgb[..., 2] >= CATCHLIGHT_BLUE * rgb[..., 0])
    if not bright.any():
        return bright
    # Brighter than what surrounds it: the opening by a square wider than a catchlight, around the
    # bright pixels only (a square opens in two 1-D passes).
    size = 2 * int(np.ceil(CATCHLIGHT_RADIUS * radius)) + 3
    ys, xs = np.nonzero(bright)
    y0, x0 = max(int(ys.min()) - size, 0), max(int(xs.min()) - size, 0)
    box = (slice(y0, int(ys.max()) + size + 1), slice(x0, int(xs.max()) + size + 1))
    spot = np.zeros_like(lowest)
    spot[box] = lowest[box] - cv2.morphologyEx(lowest[box], cv2.MORPH_OPEN, np.ones((size, size), np.uint8))
    bright &= spot >= CATCHLIGHT_ABOVE
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright.astype(np.uint8), connectivity=8)
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] <= max(np.pi * (CATCHLIGHT_RADIUS * radius) ** 2, 4.0))
    return np.isin(labels, small[small > 0]) & bright
