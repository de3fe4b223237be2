"""The global part of the correction: the photo's own look taken to the requested one, through the subject matte.

It needs no flash detector, so it does the same to any photo: it measures the photo's look with the same
descriptor as the reference (:func:`deepflash_core.look.describe`) and moves the *light* between the two, in
CIELAB:

- lightness: the affine map that takes the photo's black and white levels (pupils, eye whites) to the
  requested ones, ``L' = g·L + o``; then, because eye whites catch a flash more than skin does (and are
  clipped in most flash photos), the face is moved a bounded part of the way left to the requested face's
  lightness: ``FACE_FOLLOW`` of it, at most ``FACE_BAND`` L*, the same for every pixel (the map stays
  increasing, so the lightness order of any two people stays theirs);
- colour: the white moves to the requested white (a shift of a*, b*), and the colours seen from the white are
  scaled by the ratio of the skins' chroma (pale flash skin regains its colour) and turned by their hue
  difference (a yellow-green flash cast), both bounded; chroma past the skin's range rolls off instead of
  clipping;

- modelling: the light falling across the face moves by the difference of the looks' ``key_x``, ``key_y``
  (stops across the face's width and height, bounded): luminance times ``2**(Δkey_x·across + Δkey_y·up)`` in
  the face's own frame, ``across`` and ``up`` held at the head's edges so the body takes the light of the
  head's side;

and applies the result with weight ``strength × matte``, so the backdrop keeps its exact pixels. The skin is
never pulled toward the reference's skin: the same light gives the same map whoever stands in it, so the
lightness order of people corrected toward one look is their order in the photos. The requested look's own
skin numbers only set how far the rendering moves (saturation, hue), never where the skin lands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from deepflash_core.look.descriptor import FaceAxes, Look
from deepflash_core.pixels import PIXEL_SCALE, to_float

# Bounds of each move: the descriptor can be wrong on an odd photo, and a bounded move is still a better one.
GAIN_RANGE = (0.5, 2.0)
FACE_FOLLOW = 0.5
FACE_BAND = 8.0
CHROMA_GAIN_RANGE = (0.5, 3.0)
HUE_LIMIT_DEG = 30.0
# A skin paler than this (C*ab, from the white) has no colour to scale: a greyscale photo stays grey.
MIN_CHROMA = 3.0
# Chroma rolls off above this (C*ab): saturated clothes are not pushed out of gamut.
CHROMA_KNEE = 60.0
# The most the modelling moves (stops across the face), and how far from the eyes the key's ramp runs (face
# widths across, heights up) before it holds.
KEY_LIMIT = 1.5
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
        hue_turn_deg: their turn, degrees.
        key_turn: the change of modelling, ``(Δkey_x, Δkey_y)`` stops.
        axes: the face's frame in the photo (needed when ``key_turn`` is not zero).
    """

    gain: float = 1.0
    offset: float = 0.0
    white_from: tuple[float, float] = (0.0, 0.0)
    white_to: tuple[float, float] = (0.0, 0.0)
    chroma_gain: float = 1.0
    hue_turn_deg: float = 0.0
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

    def apply_lab(self, lab: np.ndarray, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
        """The map applied to ``(h, w, 3)`` float32 CIELAB values whose first pixel is the photo's ``origin``
        ``(x, y)`` (a new array).

        The lightness map and the colours' shift, scale and turn are one affine map of ``(L, a, b)``, applied
        by ``cv2.transform`` in one pass over the interleaved values; only the modelling and the chroma's
        roll-off work on planes.
        """
        turn = math.radians(self.hue_turn_deg)
        cos, sin = self.chroma_gain * math.cos(turn), self.chroma_gain * math.sin(turn)
        (a0, b0), (a1, b1) = self.white_from, self.white_to
        rolls_off = self.chroma_gain > 1.0
        # Colours seen from the new white while they are scaled further, then put back.
        centred = rolls_off or self.shades
        shift_a, shift_b = (0.0, 0.0) if centred else (a1, b1)
        matrix = np.array([[self.gain, 0.0, 0.0, self.offset],
                           [0.0, cos, -sin, shift_a - cos * a0 + sin * b0],
                           [0.0, sin, cos, shift_b - sin * a0 - cos * b0]], np.float32)
        values = np.ascontiguousarray(lab, np.float32)
        image = values.reshape(-1, values.shape[-2] if values.ndim >= 3 else 1, 3)  # what OpenCV takes
        lightness, a, b = cv2.split(cv2.transform(image, matrix))
        np.clip(lightness, 0.0, 100.0, out=lightness)
        lift = None
        if self.shades:
            across, up = self.axes.grid(origin[0], origin[1], lab.shape[1], lab.shape[0])  # type: ignore[union-attr]
            stops = np.clip(across, -KEY_REACH[0], KEY_REACH[0]) * np.float32(self.key_turn[0])
            stops += np.clip(up, -KEY_REACH[1], KEY_REACH[1]) * np.float32(self.key_turn[1])
            # Luminance times 2**stops is L* + 16 times its cube root (and a*, b* alike).
            lift = np.exp2(stops / np.float32(3.0))
            lightness += 16.0
            lightness *= lift
            lightness -= 16.0
            np.clip(lightness, 0.0, 100.0, out=lightness)
        if rolls_off:
            chroma = cv2.magnitude(a, b)
            excess = np.maximum(chroma - np.float32(CHROMA_KNEE), 0.0)
            # 1 up to the knee (x / x), the soft roll-off past it.
            factor = (np.minimum(chroma, np.float32(CHROMA_KNEE)) + excess / (1.0 + excess / CHROMA_SOFTNESS))
            factor /= np.maximum(chroma, 1e-6)
            a, b = a * factor, b * factor
        if lift is not None:
            a, b = a * lift, b * lift
        if centred:
            a, b = a + np.float32(a1), b + np.float32(b1)
        return cv2.merge([lightness, a, b]).reshape(lab.shape)


def plan_transform(own: Look, requested: Look, axes: FaceAxes | None = None) -> LookTransform:
    """The map that takes a photo whose look is ``own`` (complete, measured) to ``requested``.

    Numbers ``requested`` leaves open are the photo's own, so they ask for no move. Without the face's
    ``axes`` the modelling is left as it is.
    """
    target = requested.resolve(own)
    span_from = max(own.white_lightness - own.black_lightness, 1.0)
    span_to = max(target.white_lightness - target.black_lightness, 1.0)
    gain = float(np.clip(span_to / span_from, *GAIN_RANGE))
    offset = 0.5 * (target.white_lightness + target.black_lightness) \
        - gain * 0.5 * (own.white_lightness + own.black_lightness)
    face_left = target.face_lightness - (gain * own.face_lightness + offset)
    offset += float(np.clip(FACE_FOLLOW * face_left, -FACE_BAND, FACE_BAND))
    chroma_gain, turn = 1.0, 0.0
    if own.face_chroma >= MIN_CHROMA and target.face_chroma >= MIN_CHROMA:
        chroma_gain = float(np.clip(target.face_chroma / own.face_chroma, *CHROMA_GAIN_RANGE))
        turn = (target.face_hue - own.face_hue + 180.0) % 360.0 - 180.0
        turn = float(np.clip(turn, -HUE_LIMIT_DEG, HUE_LIMIT_DEG))
    if abs(chroma_gain - 1.0) < 1e-6:
        chroma_gain = 1.0
    key_turn = (float(np.clip(target.key_x - own.key_x, -KEY_LIMIT, KEY_LIMIT)),
                float(np.clip(target.key_y - own.key_y, -KEY_LIMIT, KEY_LIMIT)))
    return LookTransform(gain, offset, (own.white_a, own.white_b), (target.white_a, target.white_b),
                         chroma_gain, turn, key_turn, axes)


def apply_transform(pixels: np.ndarray, output: np.ndarray, transform: LookTransform, matte: np.ndarray,
                    strength: float = 1.0) -> None:
    """Write ``pixels`` mapped by ``transform`` into ``output`` with weight ``w = strength·matte``: ``x + w·(T(x) − x)``.

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
        lab = transform.apply_lab(cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab), origin=(x0, r0))
        mapped = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
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
