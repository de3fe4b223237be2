"""Randomised parameters of one synthetic flash photograph.

Every quantity the renderer varies is a field of :class:`FlashParams` with its
sampling range in the field's metadata; :meth:`FlashParams.sample` draws them
in field order from a ``numpy`` generator, so a seed reproduces a render.
Lengths are in centimetres of the real scene or in face widths (the distance
between the two jaw ends of the 68-point landmarks), never in pixels, so the
same parameters give the same look at any resolution.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Probability that a render shows red-eye (pupils lit by the retina's reflection).
RED_EYE_PROBABILITY = 0.15
# Probability that glasses, when the portrait has them, mirror the flash into the lens.
GLARE_PROBABILITY = 0.6


# A held-out render size: the shift test renders some crops this large and then scales them to the
# model's input, so resolution-dependent effects (noise, sharpening, JPEG blocks) differ from training.
SHIFT_RENDER_SIZE = 2000
# Share of shift-test crops rendered at SHIFT_RENDER_SIZE (the rest at the evaluation size).
SHIFT_LARGE_FRACTION = 0.25

# The parts of a flash photo that can be switched off one at a time (``FlashParams.without``), to
# measure which of them a model's correction reacts to. Each names a ``with_*`` field of FlashParams.
FLASH_COMPONENTS = ("falloff", "speculars", "shadows", "clipping", "colour", "noise")


def check_components(names: tuple[str, ...] | list[str]) -> None:
    """Raise ValueError unless every name is one of :data:`FLASH_COMPONENTS`."""
    unknown = sorted(set(names) - set(FLASH_COMPONENTS))
    if unknown:
        raise ValueError(f"unknown flash components {unknown}; known: {', '.join(FLASH_COMPONENTS)}")


def ranged(low: float, high: float, *, log: bool = False, integer: bool = False,
             shift: tuple[float, float] | None = None) -> Any:
    """A dataclass field whose metadata holds its sampling range.

    ``shift`` is a range that training never draws from: the shift test samples it instead, so a
    model is also measured on renders outside what it was trained on.
    """
    return field(metadata={"range": (low, high), "log": log, "integer": integer, "shift": shift})


def sample_fields(cls: type, rng: np.random.Generator, shift: bool = False) -> dict[str, Any]:
    """Draw every field of a dataclass declared with :func:`_uniform`, in declaration order.

    With ``shift``, fields that declare a shift range are drawn from it instead (same number of
    draws either way, so the other fields keep their values for a seed).
    """
    values: dict[str, Any] = {}
    for f in _ranged_fields(cls):
        low, high = f.metadata["shift"] if shift and f.metadata["shift"] else f.metadata["range"]
        if f.metadata["integer"]:
            values[f.name] = int(rng.integers(low, high + 1))
        elif f.metadata["log"]:
            values[f.name] = float(math.exp(rng.uniform(math.log(low), math.log(high))))
        else:
            values[f.name] = float(rng.uniform(low, high))
    return values


def declared_ranges(cls: type, shift: bool = False) -> dict[str, tuple[float, float]]:
    """Training ranges (or, with ``shift``, the shift test's ranges where declared) of a dataclass."""
    return {f.name: tuple(f.metadata["shift"] if shift and f.metadata["shift"] else f.metadata["range"])
            for f in _ranged_fields(cls)}


def _ranged_fields(cls: type) -> list[dataclasses.Field]:
    """The fields declared with :func:`ranged` (others are set by the caller)."""
    return [f for f in dataclasses.fields(cls) if "range" in f.metadata]


@dataclass(frozen=True)
class FlashParams:
    """One draw of everything that varies between flash photographs.

    Attributes:
        face_width_cm: real width of the face between the jaw ends, 13–15.5 cm; sets the
            scale between pixels and centimetres.
        distance_cm: lens to nose tip, 30–70 cm (arm's length selfie to a close portrait).
        flash_offset_cm: baseline between lens and flash LED, 0.5–2 cm (shift test: 2.5–4 cm,
            wider shadow outlines).
        flash_angle_deg: direction of the flash from the lens in the image plane, 0–360°
            (0 = right, 90 = down); sets which side the thin shadows fall on.
        flash_size_cm: diameter of the LED's emitting area, 0.1–0.5 cm; sets the penumbra
            (shift test: 0.01–0.05 cm, hard shadows).
        beam: the LED's beam falloff exponent (irradiance × cosⁿ of the angle off its axis)
            with the lens vignetting folded in, 0–3.
        background_cm: nose tip to the backdrop, 15–200 cm (log-uniform): a near wall
            shows the dark outline shadow, a far one goes almost black.
        head_depth: depth semi-axis of the head ellipsoid over its half width, 0.85–1.15.
        nose_height: nose tip protrusion above the head ellipsoid, 0.12–0.22 face widths.
        relief: scale of brow, eye-socket, cheekbone, lip and chin relief, 0.6–1.4.
        ambient: room light kept from the studio shading, relative to the flash on the
            face, 0.05–0.3 (a room is rarely dark enough for the flash to be the only light).
        light_noise: amplitude of a smooth random variation of the flash's intensity
            over the frame (uneven LED beam, diffuser), 0–0.15.
        subsurface: red-channel blur of the diffuse light (skin subsurface scattering),
            0.002–0.012 face widths; green uses 0.5x and blue 0.3x of it.
        specular: strength of the skin's specular reflection, 0.1–0.5.
        shininess: Blinn-Phong exponent of that reflection, 20–120 (log-uniform).
        oil_forehead: oiliness of the forehead (T-zone), 0.2–1.
        oil_nose: oiliness of the nose bridge and tip, 0.3–1.
        oil_cheeks: oiliness of the cheekbones, 0.1–0.8.
        oil_chin: oiliness of the chin, 0.1–0.8.
        oil_lips: wetness of the lips, 0.1–0.8.
        oil_base: specular level of all other skin, 0.05–0.3.
        pores: modulation of the specular by pore texture, 0.3–1.
        catchlight: brightness of the flash's reflection on each cornea, 0.5–1.5.
        red_eye: pupil reddening, 0 (none, 85 % of renders) or 0.5–1.
        glare: brightness of the flash mirrored in eyeglass lenses, 0 (none, 40 % of
            renders) or 0.5–2; shown only on portraits where glasses are detected.
        glare_dx: horizontal place of that reflection from each eye's centre, mirrored
            between the lenses, -0.5–0.5 eye widths (+ = toward the nose).
        glare_dy: its vertical place, -0.7–0.3 eye widths (- = up).
        glare_size: its long radius, 0.04–0.15 eye widths (a small, sharp spot).
        exposure: auto-exposure target, mean linear luminance of the skin, 0.36–0.54
            (a close bright face metered high, highlights near clipping).
        highlight_knee: where the highlight shoulder starts (linear), 0.8–0.97.
        wb_cold: white balance error of the flash photo, -0.12–0.16: red gain ``1 - wb_cold``,
            blue gain ``1 + wb_cold`` (positive: a cold LED balanced only partly; negative: a
            warm-balanced phone). Shift test: -0.28 – -0.14, warmer than training.
        wb_tint: green-magenta error, gains ``1 ± wb_tint`` on green, -0.03–0.03.
        saturation: colour saturation kept in linear RGB (pale flash skin), 0.2–0.45 (real flash
            faces carry about 0.4 of their studio chroma).
        colour_mix: scale of a random 3x3 colour-matrix perturbation, 0–0.05.
        cast_green: green gain applied after the pallor (luminance kept), 1.1–1.45: the yellow-green
            cast of phone flash photos (real flash faces sit near a* 0, b* 15 where their studio
            versions sit near a* 30, b* 32).
        contrast: tone-curve S-shape strength, -0.1–0.35.
        shot_noise: photon noise variance per unit of linear signal, 3e-5–1e-3 (log-uniform;
            a flash-lit close face needs little gain).
        read_noise: signal-independent noise variance, 1e-6–5e-5 (log-uniform).
        sharpen: unsharp-mask amount of the phone's processing, 0–1.2.
        sharpen_sigma_px: unsharp-mask radius, 0.6–1.5 px.
        jpeg_quality: JPEG quality, 60–95.
        with_falloff: the flash's inverse-square and beam falloff and its uneven beam (off: every
            surface gets the light a face-on surface at the nose distance gets, times its cosine).
        with_speculars: skin shine, catchlights and eyeglass glare.
        with_shadows: the thin hard shadows of the lens-flash baseline.
        with_clipping: the sensor's clipping and the hue wash near it (off: highlights roll off
            below white keeping their hue).
        with_colour: the flash's white balance, pallor, colour mixing and cast (off: the scene's colours).
        with_noise: sensor noise, sharpening and JPEG.
    """

    face_width_cm: float = ranged(13.0, 15.5)
    distance_cm: float = ranged(30.0, 70.0)
    flash_offset_cm: float = ranged(0.5, 2.0, shift=(2.5, 4.0))
    flash_angle_deg: float = ranged(0.0, 360.0)
    flash_size_cm: float = ranged(0.1, 0.5, shift=(0.01, 0.05))
    beam: float = ranged(0.0, 3.0)
    background_cm: float = ranged(15.0, 200.0, log=True)
    head_depth: float = ranged(0.85, 1.15)
    nose_height: float = ranged(0.12, 0.22)
    relief: float = ranged(0.6, 1.4)
    ambient: float = ranged(0.05, 0.3)
    light_noise: float = ranged(0.0, 0.15)
    subsurface: float = ranged(0.002, 0.012)
    specular: float = ranged(0.1, 0.5)
    shininess: float = ranged(20.0, 120.0, log=True)
    oil_forehead: float = ranged(0.2, 1.0)
    oil_nose: float = ranged(0.3, 1.0)
    oil_cheeks: float = ranged(0.1, 0.8)
    oil_chin: float = ranged(0.1, 0.8)
    oil_lips: float = ranged(0.1, 0.8)
    oil_base: float = ranged(0.05, 0.3)
    pores: float = ranged(0.3, 1.0)
    catchlight: float = ranged(0.5, 1.5)
    red_eye: float = ranged(0.5, 1.0)
    glare: float = ranged(0.5, 2.0)
    glare_dx: float = ranged(-0.5, 0.5)
    glare_dy: float = ranged(-0.7, 0.3)
    glare_size: float = ranged(0.04, 0.15)
    exposure: float = ranged(0.36, 0.54)
    highlight_knee: float = ranged(0.8, 0.97)
    wb_cold: float = ranged(-0.12, 0.16, shift=(-0.28, -0.14))
    wb_tint: float = ranged(-0.03, 0.03)
    saturation: float = ranged(0.2, 0.45)
    colour_mix: float = ranged(0.0, 0.05)
    cast_green: float = ranged(1.1, 1.45)
    contrast: float = ranged(-0.1, 0.35)
    shot_noise: float = ranged(3e-5, 1e-3, log=True)
    read_noise: float = ranged(1e-6, 5e-5, log=True)
    sharpen: float = ranged(0.0, 1.2)
    sharpen_sigma_px: float = ranged(0.6, 1.5)
    jpeg_quality: int = ranged(60, 95, integer=True)
    with_falloff: bool = True
    with_speculars: bool = True
    with_shadows: bool = True
    with_clipping: bool = True
    with_colour: bool = True
    with_noise: bool = True

    @classmethod
    def sample(cls, rng: np.random.Generator, shift: bool = False) -> FlashParams:
        """Draw every field from its range, in declaration order.

        Args:
            rng: the generator; the same seed gives the same parameters.
            shift: draw from the shift test's ranges where a field declares one.

        Returns:
            A new parameter set.
        """
        values = sample_fields(cls, rng, shift)
        # Red-eye is an event, not a level: most flash photos do not show it.
        if rng.random() >= RED_EYE_PROBABILITY:
            values["red_eye"] = 0.0
        if rng.random() >= GLARE_PROBABILITY:
            values["glare"] = 0.0
        return cls(**values)

    @classmethod
    def ranges(cls, shift: bool = False) -> dict[str, tuple[float, float]]:
        """The sampling range of every field (red_eye and glare may also be 0)."""
        return declared_ranges(cls, shift)

    def without(self, *components: str) -> FlashParams:
        """The same draw with the named parts of :data:`FLASH_COMPONENTS` switched off.

        Raises:
            ValueError: a name that is not a component.
        """
        check_components(components)
        return dataclasses.replace(self, **{f"with_{name}": False for name in components})

    @property
    def wb_gains(self) -> tuple[float, float, float]:
        """Red, green and blue gains of the flash photo's white balance."""
        return 1.0 - self.wb_cold, 1.0 + self.wb_tint, 1.0 + self.wb_cold

    def as_dict(self) -> dict[str, float]:
        """The parameters as a plain dict (for logs and model cards)."""
        return dataclasses.asdict(self)
