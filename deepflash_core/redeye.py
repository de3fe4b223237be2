"""Red-eye removal: a red pupil becomes a dark, natural one; every other pixel stays as it was.

Per eye (from :mod:`deepflash_core.face_mesh`): the *pupil disc* is the iris circle, the largest a
pupil can open, cut to the eye opening between the lids. Red-eye is the pupil itself turning red, so
the eye's redness score is taken on the pupil: the mean redness ``(R − max(G, B)) / (R + G + B + 1.5)``
over a pupil-sized disc (``SCORE_RADIUS`` × the iris radius) at the mesh's iris centre (for the rough
68-point fallback, the reddest such disc nearby, ``SEARCH``), the catchlight left out, minus the median
redness of the eye opening outside the iris (sclera and corners), so a pink-lit eye or reddish lids
do not read as red pupils. A second test looks at how dark the pupil is: a normal pupil is darker than
its iris in every channel, also in a red-brown iris; a red one is not dark in red. An eye is red when
its score is at least ``RED_EYE_THRESHOLD`` and the darkest small disc at its pupil keeps at least
``DARK_PUPIL`` of the red of the iris ring around it (:func:`pupil_red_share`). Any other eye is not
touched at all (bit-identical). On a red eye, each disc pixel moves toward a dark neutral (``DARKEN`` ×
its smaller of green and blue, which keeps the pupil's texture) with a weight that grows with the
pixel's own redness, fades out over the disc's rim and spares the catchlight (bright, unsaturated
pixels).

Both thresholds were chosen on a development set of renders of the synthetic flash studio
(``benchmarks/bench_redeye.py --seed``): see ``docs/RED_EYE.md`` for the sweeps (share of red eyes
detected against share of normal eyes flagged) and the figures at the chosen values.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deepflash_core.face_mesh import Eye
from deepflash_core.pixels import from_float, to_float

RED_EYE_THRESHOLD = 0.032
# A pupil whose darkest part keeps less than this share of its iris ring's red is a normal, dark one.
DARK_PUPIL = 0.5
# The pupil-darkness test, in iris radii: a small (daylight) pupil's radius, how far from the
# scored disc's centre it is looked for, and the iris ring it is compared with.
DARK_PUPIL_RADIUS = 0.3
DARK_PUPIL_SEARCH = 0.3
IRIS_RING = (0.6, 0.95)
# The score is taken over a disc of this fraction of the iris radius: a pupil, whatever its size.
SCORE_RADIUS = 0.4
# The scored disc may sit this far (in iris radii) from the given iris centre. The mesh's iris
# centre is where the pupil is: the disc stays there (on its nearest pixel), so a red-brown iris
# around a dark pupil is not scored. A 68-point eye contour's centre is only roughly where the
# iris is: there the reddest disc nearby stands in for the pupil.
SEARCH = {"mesh": 0.0, "landmarks": 0.8}
# Redness floors: the score's makes a dark red-brown iris under a warm cast score low, the
# per-pixel weight's only keeps noise in a black pupil from counting as red.
SCORE_FLOOR = 1.5
PIXEL_FLOOR = 0.1
# Below this the pixel's own redness gives it no correction, above the second it gets the full one.
PIXEL_REDNESS = (0.04, 0.14)
# A pupil's dark level relative to the red pupil's green/blue.
DARKEN = 0.6
# The catchlight: pixels whose smallest channel rises between these levels are increasingly kept.
CATCHLIGHT = (0.45, 0.7)
# The correction fades to 0 over this fraction of the disc's radius (at least one pixel).
RIM = 0.2


@dataclass(frozen=True)
class EyeOutcome:
    """What was decided for one eye: its redness score, its pupil's red share and whether it was corrected."""

    eye: Eye
    score: float
    corrected: bool
    pupil_red_share: float = 0.0


def redness(rgb: np.ndarray, floor: float = PIXEL_FLOOR) -> np.ndarray:
    """Per-pixel redness of float RGB in [0, 1]: ``max(0, R − max(G, B)) / (R + G + B + floor)``.

    The floor keeps dark pixels from reading as red: 0.1 only damps noise in a black pupil;
    ``SCORE_FLOOR`` makes the measure grow with how bright the red is. ``(…, 3)`` in, ``(…)`` out.
    """
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.maximum(r - np.maximum(g, b), 0.0) / (r + g + b + np.float32(floor))


def locate_pupil(pixels: np.ndarray, eye: Eye) -> tuple[Eye, float]:
    """The eye re-centred on its pupil-sized scored disc, and its redness score.

    The disc is the reddest within ``SEARCH[eye.source]`` × the iris radius of the given centre
    (for the mesh, the pixel nearest to its iris centre).

    Returns:
        ``(eye, score)``; the eye unchanged and score 0 when too little of the pupil is open.
    """
    search = SEARCH[eye.source]
    reach = eye.radius * (1.0 + search)
    window = _window(pixels.shape, eye, reach)
    if window is None:
        return eye, 0.0
    x0, y0, x1, y1 = window
    distance, opening = _geometry(window, eye)
    rgb = to_float(pixels[y0:y1, x0:x1, :3])
    # The catchlight is white in red and normal eyes alike: it would only dilute the pupil's red.
    mean = _disc_means(redness(rgb, SCORE_FLOOR), opening & ~_catchlight(rgb), SCORE_RADIUS * eye.radius)
    mean[distance > max(search * eye.radius, 0.75)] = np.nan
    if np.isnan(mean).all():
        return eye, 0.0
    best = np.unravel_index(int(np.nanargmax(mean)), mean.shape)
    outside = _surroundings(pixels, eye)
    score = float(mean[best] - (np.median(outside) if outside.size else 0.0))
    moved = Eye((float(x0 + best[1]), float(y0 + best[0])), eye.radius, eye.opening, eye.source)
    return moved, score


def eye_score(pixels: np.ndarray, eye: Eye) -> float:
    """The eye's redness score (see the module docstring); 0 when too little of the pupil is open."""
    return locate_pupil(pixels, eye)[1]


def pupil_red_share(pixels: np.ndarray, eye: Eye) -> float:
    """How much of its iris's red the pupil keeps where it is darkest: low for a normal pupil.

    The mean red of the darkest disc of ``DARK_PUPIL_RADIUS`` iris radii within ``DARK_PUPIL_SEARCH``
    iris radii of ``eye``'s centre, over the median red of the iris ring (``IRIS_RING``), both inside
    the eye opening and without the catchlight. A normal pupil is darker than its iris in every
    channel, also in a red-brown iris; a red pupil is the retina lit by the flash, about as bright
    in red as the iris or brighter. 0 when the ring or the pupil is hidden: with no iris to compare
    with, nothing says the pupil is red.
    """
    window = _window(pixels.shape, eye, eye.radius)
    if window is None:
        return 0.0
    x0, y0, x1, y1 = window
    distance, _ = _geometry(window, eye)
    rgb = to_float(pixels[y0:y1, x0:x1, :3])
    seen = _opening_mask(window, eye.opening, grow=0) & ~_catchlight(rgb)
    ring = seen & (distance > IRIS_RING[0] * eye.radius) & (distance <= IRIS_RING[1] * eye.radius)
    darkest = _disc_means(rgb[..., 0], seen, DARK_PUPIL_RADIUS * eye.radius)[distance <= DARK_PUPIL_SEARCH * eye.radius]
    if ring.sum() < 3 or np.isnan(darkest).all():
        return 0.0
    return float(np.nanmin(darkest) / max(float(np.median(rgb[..., 0][ring])), 1e-3))


def assess_eye(pixels: np.ndarray, eye: Eye) -> tuple[Eye, float, float]:
    """The eye centred on its scored pupil disc, its redness score and its pupil's red share."""
    located, score = locate_pupil(pixels, eye)
    return located, score, pupil_red_share(pixels, located)


def pupil_weight(rgb: np.ndarray, distance: np.ndarray, opening: np.ndarray, radius: float) -> np.ndarray:
    """How much each pixel of a red eye's window is corrected, in [0, 1]; 0 outside the pupil disc."""
    rim = max(RIM * radius, 1.0)
    disc = np.clip((radius - distance) / rim, 0.0, 1.0)
    lo, hi = PIXEL_REDNESS
    red = _smoothstep((redness(rgb) - lo) / (hi - lo))
    catch = _smoothstep((rgb.min(axis=-1) - CATCHLIGHT[0]) / (CATCHLIGHT[1] - CATCHLIGHT[0]))
    return (disc * opening * red * (1.0 - catch)).astype(np.float32)


def dark_pupil(rgb: np.ndarray) -> np.ndarray:
    """The natural pupil under a red one: a dark neutral keeping the texture of green and blue."""
    level = DARKEN * np.minimum(rgb[..., 1], rgb[..., 2])
    return np.repeat(level[..., None], 3, axis=-1)


def correct_eye(pixels: np.ndarray, eye: Eye, threshold: float = RED_EYE_THRESHOLD) -> EyeOutcome:
    """Replace the red of one eye's pupil in place; an eye that is not red is not touched.

    Args:
        pixels: ``(H, W, 3|4)`` uint8, uint16 or float32 in [0, 1]; alpha is never touched.
        eye: the eye, in ``pixels``' coordinates.
        threshold: the redness score from which the pupil is corrected (when it is not dark).

    Returns:
        The eye's score and pupil red share, and whether it was corrected.
    """
    eye, score, share = assess_eye(pixels, eye)
    window = _window(pixels.shape, eye, eye.radius + 1.0)
    if score < threshold or share < DARK_PUPIL or window is None:
        return EyeOutcome(eye, score, False, share)
    x0, y0, x1, y1 = window
    region = pixels[y0:y1, x0:x1, :3]
    rgb = to_float(region)
    distance, opening = _geometry(window, eye)
    weight = pupil_weight(rgb, distance, opening.astype(np.float32), eye.radius)[..., None]
    fixed = rgb + weight * (dark_pupil(rgb) - rgb)
    changed = np.broadcast_to(weight > 0, region.shape)
    region[changed] = from_float(fixed, pixels.dtype)[changed]
    return EyeOutcome(eye, score, True, share)


def remove_red_eye(pixels: np.ndarray, eyes: list[Eye], threshold: float = RED_EYE_THRESHOLD) -> tuple[np.ndarray, list[EyeOutcome]]:
    """A copy of ``pixels`` with every red pupil among ``eyes`` corrected, and each eye's outcome."""
    output = pixels.copy()
    return output, [correct_eye(output, eye, threshold) for eye in eyes]


def _window(shape: tuple[int, ...], eye: Eye, r: float) -> tuple[int, int, int, int] | None:
    """The bounding box of a disc of radius ``r`` around the iris centre, clipped, or None when empty."""
    height, width = shape[:2]
    cx, cy = eye.centre
    x0, y0 = max(int(np.floor(cx - r)), 0), max(int(np.floor(cy - r)), 0)
    x1, y1 = min(int(np.ceil(cx + r)) + 1, width), min(int(np.ceil(cy + r)) + 1, height)
    if x1 - x0 < 1 or y1 - y0 < 1 or eye.radius < 0.5:
        return None
    return x0, y0, x1, y1


def _geometry(window: tuple[int, int, int, int], eye: Eye) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each window pixel from the iris centre, and the eye opening as a bool mask."""
    x0, y0, x1, y1 = window
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    distance = np.hypot(xs - eye.centre[0], ys - eye.centre[1])
    return distance, _opening_mask(window, eye.opening)


def _opening_mask(window: tuple[int, int, int, int], polygon: np.ndarray, grow: int = 1) -> np.ndarray:
    """The eyelid polygon rasterised over the window, grown by ``grow`` pixels (the lids' edge pixels)."""
    x0, y0, x1, y1 = window
    mask = np.zeros((y1 - y0 + 2 * grow, x1 - x0 + 2 * grow), np.uint8)
    shifted = np.round((polygon - np.array([x0 - grow, y0 - grow])) * 16).astype(np.int32)
    cv2.fillPoly(mask, [shifted], 1, shift=4)
    if grow:
        mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))[grow:-grow, grow:-grow]
    return mask.astype(bool)


def _surroundings(pixels: np.ndarray, eye: Eye) -> np.ndarray:
    """Redness of the eye opening outside the iris (sclera and corners)."""
    xs, ys = eye.opening[:, 0], eye.opening[:, 1]
    height, width = pixels.shape[:2]
    x0, y0 = max(int(xs.min()), 0), max(int(ys.min()), 0)
    x1, y1 = min(int(np.ceil(xs.max())) + 1, width), min(int(np.ceil(ys.max())) + 1, height)
    if x1 <= x0 or y1 <= y0:
        return np.zeros(0, np.float32)
    window = (x0, y0, x1, y1)
    distance, _ = _geometry(window, eye)
    mask = _opening_mask(window, eye.opening, grow=0) & (distance > 1.2 * eye.radius)
    return redness(to_float(pixels[y0:y1, x0:x1, :3]), SCORE_FLOOR)[mask]


def _catchlight(rgb: np.ndarray) -> np.ndarray:
    """Bright, white pixels: the flash mirrored on the cornea (an overexposed red pupil stays red)."""
    return (rgb.min(axis=-1) >= CATCHLIGHT[0]) & (redness(rgb) < PIXEL_REDNESS[0])


def _disc_means(values: np.ndarray, mask: np.ndarray, radius: float) -> np.ndarray:
    """Mean of ``values`` over the ``mask`` pixels of a disc around each pixel; NaN with fewer than 3."""
    k = max(radius, 1.0)
    kernel = (np.hypot(*np.mgrid[-int(k) : int(k) + 1, -int(k) : int(k) + 1]) <= k).astype(np.float32)
    area = cv2.filter2D(mask.astype(np.float32), -1, kernel, borderType=cv2.BORDER_CONSTANT)
    total = cv2.filter2D((values * mask).astype(np.float32), -1, kernel, borderType=cv2.BORDER_CONSTANT)
    return np.where(area >= 3, total / np.maximum(area, 1.0), np.nan)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
