"""Randomised studio targets: the look of the target photo varies so a model cannot learn one collection's.

Before the flash is rendered, the studio portrait gets a new backdrop through the subject matte
(flat, graded or room-like, dark to bright, any hue), a global exposure, white balance and
saturation. After the render context is built, a soft key light on the head proxy gives the
target the modelling a studio light stage would: the flash input stays flat-lit, the target
does not, so pairs teach "flash → studio light", not "flash → flatten". Some pairs are identity
pairs (the target in, the target out), so a photo without flash cues is left alone.

All ranges are declared once, in :class:`StudioLook`, with the shift test's held-out ranges
beside them (:func:`deepflash_train.renderer.params.sample_fields`).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from deepflash_train.renderer.params import declared_ranges, ranged, sample_fields
from deepflash_train.renderer.shading import linear_to_srgb, luminance, srgb_to_linear

if TYPE_CHECKING:
    from deepflash_train.renderer.renderer import RenderContext

# Share of training pairs whose input is the target itself (no flash cue: nothing to change).
IDENTITY_PROBABILITY = 0.12
# Share of pairs that keep the portrait's own backdrop.
KEEP_BACKDROP_PROBABILITY = 0.2
BACKDROP_KINDS = ("flat", "gradient", "room")
# Head shape of the key light's proxy: the middle of FlashParams' ranges.
_KEY_HEAD = {"head_depth": 1.0, "nose_height": 0.17, "relief": 1.0}


@dataclass(frozen=True)
class StudioLook:
    """One draw of the target's look.

    Attributes:
        backdrop_kind: index into ``BACKDROP_KINDS``.
        backdrop_value: HSV value of the backdrop colour (sRGB), 0.08–0.92 (shift test: 0.01–0.05, near black).
        backdrop_hue: its hue, 0–360°.
        backdrop_saturation: its HSV saturation, 0–0.45 (shift test: 0.6–0.95, saturated, e.g. green screens).
        backdrop_texture: amplitude of the gradient or room-like texture, 0–0.4.
        exposure_stops: global exposure of the target, -0.5–0.4 stops.
        wb_red: red gain of the target's white balance, 0.9–1.1 (luminance kept).
        wb_blue: blue gain, 0.9–1.1.
        saturation: colour saturation of the target, 1.0–1.6 (studio skin carries about 2.5× the
            chroma of the same skin under a phone flash).
        key_strength: share of the face's light that comes from the key light, 0.55–0.9 (the
            rest is even fill: key-to-fill ratios of about 2:1 to 10:1).
        key_azimuth_deg: key light's angle from the camera axis, 30–70°.
        key_side: which side the key light stands on (< 0.5 left), 0–1.
        key_elevation_deg: key light's height above the eyes, 10–40°.
        key_wrap: softness of the key's terminator (wrap lighting), 0–0.5.
        keep_backdrop: keep the portrait's own backdrop (``KEEP_BACKDROP_PROBABILITY``).
        identity: the pair's input is its target (``IDENTITY_PROBABILITY``).
    """

    backdrop_kind: int = ranged(0, len(BACKDROP_KINDS) - 1, integer=True)
    backdrop_value: float = ranged(0.08, 0.92, shift=(0.01, 0.05))
    backdrop_hue: float = ranged(0.0, 360.0)
    backdrop_saturation: float = ranged(0.0, 0.45, shift=(0.6, 0.95))
    backdrop_texture: float = ranged(0.0, 0.4)
    exposure_stops: float = ranged(-0.5, 0.4)
    wb_red: float = ranged(0.9, 1.1)
    wb_blue: float = ranged(0.9, 1.1)
    saturation: float = ranged(1.0, 1.6)
    key_strength: float = ranged(0.55, 0.9)
    key_azimuth_deg: float = ranged(30.0, 70.0)
    key_side: float = ranged(0.0, 1.0)
    key_elevation_deg: float = ranged(10.0, 40.0)
    key_wrap: float = ranged(0.0, 0.5)
    keep_backdrop: bool = False
    identity: bool = False

    @classmethod
    def sample(cls, rng: np.random.Generator, shift: bool = False) -> StudioLook:
        """Draw a look; the shift test never keeps the backdrop and has no identity pairs."""
        values = sample_fields(cls, rng, shift)
        keep, identity = rng.random(), rng.random()
        values["keep_backdrop"] = not shift and keep < KEEP_BACKDROP_PROBABILITY
        values["identity"] = not shift and identity < IDENTITY_PROBABILITY
        return cls(**values)

    @classmethod
    def ranges(cls, shift: bool = False) -> dict[str, tuple[float, float]]:
        return declared_ranges(cls, shift)


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, cells: int) -> np.ndarray:
    lattice = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(lattice, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def backdrop(shape: tuple[int, int], look: StudioLook, rng: np.random.Generator) -> np.ndarray:
    """An (H, W, 3) sRGB backdrop: flat with a slight falloff, a gradient, or an out-of-focus room."""
    h, w = shape
    colour = np.array(colorsys.hsv_to_rgb(look.backdrop_hue / 360.0, look.backdrop_saturation, look.backdrop_value),
                      np.float32)
    kind = BACKDROP_KINDS[look.backdrop_kind]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = x / max(w - 1, 1) - 0.5, y / max(h - 1, 1) - 0.5
    if kind == "flat":
        light = 1.0 - 0.3 * look.backdrop_texture * (x * x + y * y)
        image = colour * light[..., None]
    elif kind == "gradient":
        angle = rng.uniform(0.0, 2.0 * math.pi)
        ramp = math.cos(angle) * x + math.sin(angle) * y
        image = colour * (1.0 + 1.5 * look.backdrop_texture * ramp)[..., None]
    else:
        # Out-of-focus room: blotches of other colours (walls, furniture, windows) over a base.
        image = np.repeat(colour[None, None], h, 0).repeat(w, 1)
        for _ in range(3):
            other = np.array(colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0, 0.5), rng.uniform(0.05, 0.95)),
                             np.float32)
            weight = np.clip(_smooth_field(shape, rng, 3) - 0.3, 0.0, 1.0) * look.backdrop_texture * 2.0
            image = image * (1.0 - weight[..., None]) + other * weight[..., None]
        image *= (1.0 + 0.5 * look.backdrop_texture * _smooth_field(shape, rng, 6))[..., None]
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def restyle(studio: np.ndarray, matte: np.ndarray, look: StudioLook, rng: np.random.Generator) -> np.ndarray:
    """The studio photo with ``look``'s backdrop (through ``matte``), exposure, white balance and saturation."""
    image = studio
    if not look.keep_backdrop:
        alpha = np.clip(matte, 0.0, 1.0)[..., None].astype(np.float32)
        image = alpha * image + (1.0 - alpha) * backdrop(studio.shape[:2], look, rng)
    linear = srgb_to_linear(np.clip(image, 0.0, 1.0))
    gains = np.array([look.wb_red, 1.0, look.wb_blue], np.float32)
    gains /= float(luminance(gains[None, None])[0, 0])
    linear = linear * gains * np.float32(2.0 ** look.exposure_stops)
    grey = luminance(linear)[..., None]
    linear = grey + np.float32(look.saturation) * (linear - grey)
    return linear_to_srgb(np.clip(linear, 0.0, 1.0)).astype(np.float32)


def key_light(studio: np.ndarray, ctx: RenderContext, look: StudioLook) -> np.ndarray:
    """``studio`` with a soft key light added on the head proxy (the mean face brightness is kept).

    The key's Lambert term (with wrap) on the proxy's normals, divided by its mean over the head,
    scales the person's light by ``1 + key_strength · (term − 1)``; the backdrop is untouched.
    """
    parts = ctx.parts
    _, n = parts.surface(**_KEY_HEAD)
    azimuth = math.radians(look.key_azimuth_deg) * (-1.0 if look.key_side < 0.5 else 1.0)
    elevation = math.radians(look.key_elevation_deg)
    # Normals are x right, y down, z toward the camera.
    direction = np.array([math.sin(azimuth) * math.cos(elevation), -math.sin(elevation),
                          math.cos(azimuth) * math.cos(elevation)], np.float32)
    term = np.clip((n @ direction + look.key_wrap) / (1.0 + look.key_wrap), 0.0, 1.0)
    head = parts.head_mask
    mean = float((term * head).sum() / max(float(head.sum()), 1e-6))
    factor = 1.0 + look.key_strength * (term / max(mean, 1e-3) - 1.0)
    factor = 1.0 + parts.subject * (np.clip(factor, 0.2, 2.0) - 1.0)
    factor = cv2.resize(factor.astype(np.float32), (studio.shape[1], studio.shape[0]), interpolation=cv2.INTER_LINEAR)
    linear = srgb_to_linear(np.clip(studio, 0.0, 1.0)) * factor[..., None]
    return linear_to_srgb(np.clip(linear, 0.0, 1.0)).astype(np.float32)
