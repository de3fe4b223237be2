"""Red-eye removal: a glowing pupil becomes a dark, natural one; every other pixel stays as it was.

Red-eye is the flash lighting the retina through the pupil. Real phone photos show it red, orange,
golden or with a pale centre, whole or as a ring, behind eyeglass lenses and on small far eyes.
:mod:`deepflash_core.eyes.pupil_glow` finds the glowing pupil of each eye, judged against that eye's
own iris and sclera with the lens tint and haze taken off first. An eye is corrected when its
glowing pupil covers at least ``GLOW_SHARE`` of the iris circle and its warm part is at least
``GLOW_STRENGTH`` warmer than the sclera (:func:`is_glowing`); any other eye is not touched at all
(bit-identical).

The fix replaces the whole glowing area (its holes filled: a ring's dark centre, the catchlight; a
ring's out to its outer edge) by a dark neutral pupil keeping the texture of the pixel's smallest
channel, at the eye's own black level; the natural catchlight (a small spot brighter than what
surrounds it) keeps its brightness, only the glow's tint on it goes; the edge is grown by a pixel
and feathered into the iris so no warm ring is left. It runs on the native pixels, uint8,
uint16 or float32, RGB or RGBA (alpha never changes).

Both thresholds were chosen on renders of validation people (``benchmarks/bench_redeye_kinds.py``):
see ``docs/RED_EYE.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deepflash_core.detection.face_mesh import Eye
from deepflash_core.pixels import from_float, to_float
from deepflash_core.eyes.pupil_glow import LUMA, PupilGlow, find_glow, warmth

# The least share of the iris circle a glowing pupil covers (a pupil of ~0.3 iris radii), and the
# least its warm part's warmth (``PupilGlow.strength``) exceeds the sclera's.
GLOW_SHARE = 0.08
GLOW_STRENGTH = 0.03
RED_EYE_THRESHOLD = GLOW_STRENGTH
# The fixed pupil: a dark neutral at most this far above the eye's black level, with this much of
# the pixel's smallest channel kept as texture.
DARK_LEVEL = 0.04
# A pupil is never lighter than this (an eye with no dark pixel at all: its black level is the glow's).
BLACKEST = 0.08
TEXTURE = 0.25
# Feathering of the fixed area's edge into the iris, in pixels (a Gaussian's sigma).
FEATHER = 0.7
# A catchlight warmer than the eye's white by the first (warmth) is made neutral, wholly from the second.
CATCHLIGHT_TINT = (0.01, 0.03)
# At most this many fixes of one eye (each one on what still glows after the last).
FIX_PASSES = 3


@dataclass(frozen=True)
class EyeOutcome:
    """What was decided for one eye: how warm and how large its glowing pupil is, whether it was corrected."""

    eye: Eye
    score: float
    corrected: bool
    glow_share: float = 0.0


def is_glowing(glow: PupilGlow | None, threshold: float = GLOW_STRENGTH) -> bool:
    """Whether a pupil's glow is large and warm enough to be red-eye."""
    return glow is not None and glow.share >= GLOW_SHARE and glow.strength >= threshold


def dark_pupil(rgb: np.ndarray, level: float) -> np.ndarray:
    """The natural pupil under a glowing one: a dark neutral near ``level`` keeping some texture."""
    level = min(level, BLACKEST)
    texture = TEXTURE * rgb.min(axis=-1)
    value = np.minimum(texture, TEXTURE * 0.5) + level + DARK_LEVEL * 0.5
    return np.repeat(np.minimum(value, level + DARK_LEVEL)[..., None], 3, axis=-1)


def fix_weight(glow: PupilGlow) -> tuple[np.ndarray, np.ndarray]:
    """How much each window pixel is replaced, in [0, 1] (the glowing area grown by a pixel and
    feathered, its catchlight included), and how much of that is the catchlight, kept at its own
    brightness but neutral (JPEG's half-resolution colour tints a small highlight by the glow around it)."""
    square = np.ones((3, 3), np.uint8)
    grown = cv2.dilate(glow.region.astype(np.uint8), square)
    # A catchlight on the glow's edge is taken in too (its tint goes; it lies inside the iris circle).
    grown = (grown.astype(bool) | glow.catchlight & cv2.dilate(grown, square).astype(bool)).astype(np.float32)
    weight = np.maximum(cv2.GaussianBlur(grown, (0, 0), FEATHER) * grown, glow.region)
    keep = np.clip(2.0 * cv2.GaussianBlur(glow.catchlight.astype(np.float32), (0, 0), 0.5), 0.0, 1.0)
    return weight.astype(np.float32), np.maximum(keep, glow.catchlight).astype(np.float32) * (weight > 0)


def correct_eye(pixels: np.ndarray, eye: Eye, threshold: float = RED_EYE_THRESHOLD) -> EyeOutcome:
    """Replace one eye's glowing pupil in place; an eye that does not glow is not touched.

    Args:
        pixels: ``(H, W, 3|4)`` uint8, uint16 or float32 in [0, 1]; alpha is never touched.
        eye: the eye, in ``pixels``' coordinates.
        threshold: the least warmth of the glow over the iris ring's that is corrected.

    Returns:
        The eye's glow strength and share, and whether it was corrected.
    """
    glow = find_glow(pixels, eye)
    score, share = (glow.strength, glow.share) if glow is not None else (0.0, 0.0)
    if not is_glowing(glow, threshold):
        return EyeOutcome(eye, score, False, share)
    level = glow.level
    # A glow wider than the iris circle it was looked for in (a short radius, a rough centre) is
    # still glowing past the first fix: what is left is found and fixed again.
    for _ in range(FIX_PASSES):
        _replace(pixels, glow, min(level, glow.level))
        glow = find_glow(pixels, eye)
        if not is_glowing(glow, threshold):
            break
    return EyeOutcome(eye, score, True, share)


def _replace(pixels: np.ndarray, glow: PupilGlow, level: float) -> None:
    """Replace the glowing area by a dark pupil, in place."""
    x0, y0, x1, y1 = glow.window
    region = pixels[y0:y1, x0:x1, :3]
    rgb = to_float(region)
    weight, keep = (w[..., None] for w in fix_weight(glow))
    # The catchlight keeps its brightness; only as much of its colour as is warmer than the eye's
    # white (the glow's tint, through blur and JPEG) goes: one the colour of the white stays as it is.
    white = np.array(glow.white, np.float32)
    neutral = (rgb @ LUMA)[..., None] * white
    tinted = np.clip((warmth(rgb / white) - CATCHLIGHT_TINT[0]) / (CATCHLIGHT_TINT[1] - CATCHLIGHT_TINT[0]), 0.0, 1.0)[..., None]
    fixed = rgb + weight * (1.0 - keep) * (dark_pupil(rgb, level) - rgb) + weight * keep * tinted * (neutral - rgb)
    changed = np.broadcast_to(weight > 0, region.shape)
    region[changed] = from_float(fixed, pixels.dtype)[changed]


def remove_red_eye(pixels: np.ndarray, eyes: list[Eye], threshold: float = RED_EYE_THRESHOLD) -> tuple[np.ndarray, list[EyeOutcome]]:
    """A copy of ``pixels`` with every glowing pupil among ``eyes`` corrected, and each eye's outcome."""
    output = pixels.copy()
    return output, [correct_eye(output, eye, threshold) for eye in eyes]
