"""The global part of the correction: the photo's own look taken to the requested one, through the subject matte.

It needs no flash detector, so it does the same to any photo: it measures the photo's look with the same
descriptor as the reference (:func:`deepflash_core.look.describe`) and moves the *light* between the two, in
CIELAB:

- lightness: an affine map of L*: through the photo's black and white levels (pupils, eye whites or
  teeth) to the requested ones; where the photo's white is clipped (most flash photos: a lower bound only),
  an exposure through the black level alone. Then the face is moved ``FACE_FOLLOW`` of the way left to the
  requested face's lightness, at most ``FACE_BAND`` L*, the same for every pixel: the anchors are small and
  noisy, the face is large; the small share keeps each person's own skin (the map stays increasing, so the
  lightness order of any two people stays theirs);
- colour: the white moves to the requested white (a shift of a*, b*), and the colours seen from the white are
  scaled by the ratio of the skins' chroma (pale flash skin regains its colour) and turned by their hue
  difference (a yellow-green flash cast), both bounded and both the skin's: they fade with a colour's hue
  distance from the skin's (clothes keep their hue and saturation) and from the skin's lightness up to the
  white's (white hair, a white shirt, teeth are not turned to the skin's colour: at a flash's pallor they are
  as pale as the skin, only lighter); chroma past the skin's range rolls off instead of clipping;
- modelling: the light falling across the face moves by the difference of the looks' ``key_x``, ``key_y``
  (stops across the face's width and height, bounded): luminance times ``2**(Δkey_x·across + Δkey_y·up)`` in
  the face's own frame, ``across`` and ``up`` held at the head's edges so the body takes the light of the
  head's side;

and applies the result with weight ``strength × matte``, so the backdrop keeps its exact pixels. Lightness is
taken from the light (anchors that do not depend on the skin), so people corrected toward one look keep their
order of skin lightness; the skin's chroma and hue are the rendering's, so they do follow the requested look's
(bounded): docs/LOOK.md measures what that costs each skin tone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from deepflash_core.look.axes import FaceAxes
from deepflash_core.look.values import Look
from deepflash_core.pixels import PIXEL_SCALE, to_float

# Bounds of each move: the descriptor can be wrong on an odd photo, and a bounded move is still a better one.
GAIN_RANGE = (0.5, 2.0)
FACE_FOLLOW = 0.3
FACE_BAND = 10.0
# A white at or above this L* is clipped: only a lower bound of the light's level.
WHITE_CLIPPED = 95.0
CHROMA_GAIN_RANGE = (0.5, 3.0)
HUE_LIMIT_DEG = 75.0
# How fast the hue turn and the chroma scaling fade with a colour's distance from the skin's hue (Gaussian
# widths, degrees): the scaling reaches further, skin's own hues spread wider than the turn should.
HUE_WIDTH_DEG = 40.0
CHROMA_HUE_WIDTH_DEG = 60.0
# The skin's colour move fades out between the skin's median L* and the white's, which sits at least this far above.
WHITE_ABOVE_SKIN = 12.0
# A skin paler than this (C*ab, from the white) has no colour to scale: a greyscale photo stays grey.
MIN_CHROMA = 3.0
# A white reference more coloured than this (C*ab) is not a white: the eye whites were not found.
WHITE_MAX_CHROMA = 12.0
# Chroma rolls off above this (C*ab): saturated clothes are not pushed out of gamut.
CHROMA_KNEE = 60.0
# The most the modelling moves (stops across the face), and how far from the eyes the key's ramp runs (face
# widths across, heights up) before it holds.
KEY_LIMIT = 2.5
KEY_REACH = (0.6, 0.8)
CHROMA_SOFTNESS = 40.0
# Rows per strip when the map is applied at full resolution: bounded float temporaries.
STRIP_PIXELS = 1 << 19


@dataclass(frozen=True)
class LookTransform:
    """The global map from one look to another, in CIELAB (see the module's description).

    Attributes:
        gain, offset: ``L' = gain·L + offset``.
        white_from, white_to: the whites' ``(a*, b*)``; colours are seen from the first and put back from the second.
        chroma_gain: scale of the colours seen from the white.
        hue_turn_deg: their turn at the skin's hue, degrees (fading with the distance of a colour's hue from it).
        skin_hue_deg: the skin's hue seen from the white (``white_from``).
        skin_lightness, white_lightness: the photo's skin and white L* (before the map): the skin's colour move
            (turn and scaling) is full up to the first and gone at the second.
        key_turn: the change of modelling, ``(Δkey_x, Δkey_y)`` stops.
        axes: the face's frame in the photo (needed when ``key_turn`` is not zero).
    """

    gain: float = 1.0
    offset: float = 0.0
    white_from: tuple[float, float] = (0.0, 0.0)
    white_to: tuple[float, float] = (0.0, 0.0)
    chroma_gain: float = 1.0
    hue_turn_deg: float = 0.0
    skin_hue_deg: float = 0.0
    skin_lightness: float = 50.0
    white_lightness: float = 100.0
    key_turn: tuple[float, float] = (0.0, 0.0)
    axes: FaceAxes | None = None

    @property
    def is_identity(self) -> bool:
        return (abs(self.gain - 1) < 1e-3 and abs(self.offset) < 0.05 and self.chroma_gain == 1.0
                and abs(self.hue_turn_deg) < 0.05 and np.allclose(self.white_from, self.white_to, atol=0.05)
                and not self.shades)

    @property
    def shades(self) -> bool:
        return self.axes is not None and max(map(abs, self.key_turn)) >= 0.01

    def _hue_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """For each whole degree of hue (seen from the white): its turn (radians) and the share of the chroma
        scaling it gets."""
        distance = (np.arange(360, dtype=np.float32) - np.float32(self.skin_hue_deg) + 180.0) % 360.0 - 180.0
        turn = np.radians(self.hue_turn_deg) * np.exp(-0.5 * (distance / HUE_WIDTH_DEG) ** 2)
        scaled = np.exp(-0.5 * (distance / CHROMA_HUE_WIDTH_DEG) ** 2)
        return turn.astype(np.float32), scaled.astype(np.float32)

    def _lightness_share(self, lightness: np.ndarray) -> np.ndarray:
        """The share of the skin's colour move at each L* (before the map): 1 up to the skin's, 0 from the white's on."""
        top = max(self.white_lightness, self.skin_lightness + WHITE_ABOVE_SKIN)
        share = np.clip((np.float32(top) - lightness) / np.float32(top - self.skin_lightness), 0.0, 1.0)
        return share * share * (3.0 - 2.0 * share)

    def apply_lab(self, lab: np.ndarray, origin: tuple[float, float] = (0, 0), step: float = 1.0) -> np.ndarray:
        """The map applied to ``(h, w, 3)`` float32 CIELAB values whose first pixel covers the photo from
        ``origin`` ``(x, y)``, each ``step`` photo pixels wide (a new array)."""
        out = np.empty_like(lab)
        np.multiply(lab[..., 0], np.float32(self.gain), out=out[..., 0])
        out[..., 0] += np.float32(self.offset)
        np.clip(out[..., 0], 0.0, 100.0, out=out[..., 0])
        lift = None
        if self.shades:
            across, up = self.axes.grid(origin[0], origin[1], lab.shape[1], lab.shape[0], step)  # type: ignore[union-attr]
            stops = np.clip(across, -KEY_REACH[0], KEY_REACH[0]) * np.float32(self.key_turn[0])
            stops += np.clip(up, -KEY_REACH[1], KEY_REACH[1]) * np.float32(self.key_turn[1])
            # Luminance times 2**stops is L* + 16 times its cube root (and a*, b* alike).
            lift = np.exp2(stops / np.float32(3.0))
            out[..., 0] += 16.0
            out[..., 0] *= lift
            out[..., 0] -= 16.0
            np.clip(out[..., 0], 0.0, 100.0, out=out[..., 0])
        a = lab[..., 1] - np.float32(self.white_from[0])
        b = lab[..., 2] - np.float32(self.white_from[1])
        if abs(self.hue_turn_deg) >= 0.05 or self.chroma_gain != 1.0:
            # Both are the skin's: full at the skin's hue and lightness, fading with the distance from them.
            hue = cv2.phase(np.ascontiguousarray(a), np.ascontiguousarray(b), angleInDegrees=True)
            index = np.round(hue).astype(np.int32) % 360
            turns, scaled = self._hue_tables()
            share = self._lightness_share(lab[..., 0])
            if abs(self.hue_turn_deg) >= 0.05:
                turn = turns[index] * share
                cos, sin = np.cos(turn), np.sin(turn)
                a, b = cos * a - sin * b, sin * a + cos * b
            if self.chroma_gain != 1.0:
                gain = scaled[index] * share
                gain *= np.float32(self.chroma_gain - 1.0)
                gain += 1.0
                a, b = a * gain, b * gain
        if self.chroma_gain > 1.0:
            chroma = np.hypot(a, b)
            excess = np.maximum(chroma - np.float32(CHROMA_KNEE), 0.0)
            factor = np.where(excess > 0, (CHROMA_KNEE + excess / (1.0 + excess / CHROMA_SOFTNESS))
                              / np.maximum(chroma, 1e-6), 1.0).astype(np.float32)
            a, b = a * factor, b * factor
        if lift is not None:
            a, b = a * lift, b * lift
        out[..., 1] = a + np.float32(self.white_to[0])
        out[..., 2] = b + np.float32(self.white_to[1])
        return out


def plan_transform(own: Look, requested: Look, axes: FaceAxes | None = None) -> LookTransform:
    """The map that takes a photo whose look is ``own`` (complete, measured) to ``requested``.

    Numbers ``requested`` leaves open are the photo's own, so they ask for no move. Without the face's
    ``axes`` the modelling is left as it is.
    """
    target = requested.resolve(own)
    gain, offset = _lightness_map(own, target)
    face_left = target.face_lightness - (gain * own.face_lightness + offset)
    offset += float(np.clip(FACE_FOLLOW * face_left, -FACE_BAND, FACE_BAND))
    chroma_gain, turn = 1.0, 0.0
    white_from, white_to = (own.white_a, own.white_b), (target.white_a, target.white_b)
    if np.hypot(*white_from) > WHITE_MAX_CHROMA:
        # No light is that coloured at the eye whites: the reference read was skin (glasses, a small face).
        # Measured from it, every colour would be pushed away from the skin's hue (brown hair turned teal), so
        # the photo keeps its colour and only its lightness and modelling move.
        white_to = white_from
    elif own.face_chroma >= MIN_CHROMA and target.face_chroma >= MIN_CHROMA:
        chroma_gain = float(np.clip(target.face_chroma / own.face_chroma, *CHROMA_GAIN_RANGE))
        turn = (target.face_hue - own.face_hue + 180.0) % 360.0 - 180.0
        turn = float(np.clip(turn, -HUE_LIMIT_DEG, HUE_LIMIT_DEG))
    if abs(chroma_gain - 1.0) < 1e-6:
        chroma_gain = 1.0
    key_turn = (float(np.clip(target.key_x - own.key_x, -KEY_LIMIT, KEY_LIMIT)),
                float(np.clip(target.key_y - own.key_y, -KEY_LIMIT, KEY_LIMIT)))
    return LookTransform(gain, offset, white_from, white_to, chroma_gain, turn, own.face_hue, own.face_lightness,
                         own.white_lightness, key_turn, axes)


def mapped_rgb(rgb: np.ndarray, transform: LookTransform, origin: tuple[float, float] = (0, 0),
               step: float = 1.0) -> np.ndarray:
    """float32 sRGB ``(h, w, 3)`` in [0, 1] mapped by ``transform`` (placed in the photo as in :meth:`LookTransform.apply_lab`)."""
    lab = transform.apply_lab(cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab), origin, step)
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0.0, 1.0)


def _lightness_map(own: Look, target: Look) -> tuple[float, float]:
    """``(gain, offset)`` of ``L' = gain·L + offset`` taking ``own``'s levels to ``target``'s.

    Through both anchors (black and white) when the photo's white is measured; when it is clipped (a lower
    bound only, as in most flash photos) through the black level alone, as an exposure: luminance scales by
    the ratio of the blacks' luminances, which in L* is a gain about L* = -16 (true black).
    """
    if own.white_lightness < WHITE_CLIPPED:
        span_from = max(own.white_lightness - own.black_lightness, 1.0)
        span_to = max(target.white_lightness - target.black_lightness, 1.0)
        gain = float(np.clip(span_to / span_from, *GAIN_RANGE))
        return gain, 0.5 * (target.white_lightness + target.black_lightness) \
            - gain * 0.5 * (own.white_lightness + own.black_lightness)
    gain = float(np.clip((target.black_lightness + 16.0) / (own.black_lightness + 16.0), *GAIN_RANGE))
    return gain, 16.0 * gain - 16.0


def apply_transform(pixels: np.ndarray, output: np.ndarray, transform: LookTransform, matte: np.ndarray,
                    strength: float = 1.0) -> None:
    """Write ``pixels`` mapped by ``transform`` into ``output`` with weight ``w = strength·matte``: ``x + w·(T(x) − x)``,
    pixel by pixel at full resolution (the exact map; the pipeline applies it through its upsampler instead).

    Args:
        pixels: ``(H, W, 3|4)`` uint8, uint16 or float32 photo (alpha is never touched).
        output: same shape and dtype; only pixels with ``matte > 0`` are written, so elsewhere it keeps what
            it holds (the exact input, where it is a copy of it).
        transform: the map.
        matte: ``(H, W)`` float32 in [0, 1], the subject matte.
        strength: scales the whole move.
    """
    if transform.is_identity or strength <= 0:
        return
    weight = matte
    rows = np.flatnonzero(weight.max(axis=1) > 0)
    if rows.size == 0:
        return
    columns = np.flatnonzero(weight.max(axis=0) > 0)
    x0, x1 = int(columns[0]), int(columns[-1]) + 1
    step = max(1, STRIP_PIXELS // max(x1 - x0, 1))
    scale = PIXEL_SCALE[pixels.dtype]
    for r0 in range(int(rows[0]), int(rows[-1]) + 1, step):
        r1 = min(int(rows[-1]) + 1, r0 + step)
        strip = weight[r0:r1, x0:x1]
        if not strip.any():
            continue
        rgb = to_float(pixels[r0:r1, x0:x1, :3])
        mapped = mapped_rgb(rgb, transform, origin=(x0, r0))
        mapped -= rgb
        mapped *= strip[..., None] * np.float32(strength)
        mapped += rgb
        target = output[r0:r1, x0:x1, :3]
        if output.dtype == np.float32:
            np.clip(mapped, 0.0, 1.0, out=mapped)
            target[...] = np.where(strip[..., None] > 0, mapped, target)
        else:
            values = np.clip(np.round(mapped * np.float32(scale)), 0, scale).astype(output.dtype)
            target[...] = np.where(strip[..., None] > 0, values, target)
