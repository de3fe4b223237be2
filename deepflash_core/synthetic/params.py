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


def _uniform(low: float, high: float, *, log: bool = False, integer: bool = False) -> Any:
    """A dataclass field whose metadata holds its sampling range."""
    return field(metadata={"range": (low, high), "log": log, "integer": integer})


@dataclass(frozen=True)
class FlashParams:
    """One draw of everything that varies between flash photographs.

    Attributes:
        face_width_cm: real width of the face between the jaw ends, 13–15.5 cm; sets the
            scale between pixels and centimetres.
        distance_cm: lens to nose tip, 25–60 cm (arm's length selfie to a close portrait).
        flash_offset_cm: baseline between lens and flash LED, 0.5–2 cm.
        flash_angle_deg: direction of the flash from the lens in the image plane, 0–360°
            (0 = right, 90 = down); sets which side the thin shadows fall on.
        flash_size_cm: diameter of the LED's emitting area, 0.1–0.5 cm; sets the penumbra.
        beam: the LED's beam falloff exponent (irradiance × cosⁿ of the angle off its axis)
            with the lens vignetting folded in, 0–6.
        background_cm: nose tip to the backdrop, 15–200 cm (log-uniform): a near wall
            shows the dark outline shadow, a far one goes almost black.
        head_depth: depth semi-axis of the head ellipsoid over its half width, 0.85–1.15.
        nose_height: nose tip protrusion above the head ellipsoid, 0.12–0.22 face widths.
        relief: scale of brow, eye-socket, cheekbone, lip and chin relief, 0.6–1.4.
        ambient: room light kept from the studio shading, relative to the flash on the
            face, 0–0.15.
        light_noise: amplitude of a smooth random variation of the flash's intensity
            over the frame (uneven LED beam, diffuser), 0–0.15.
        subsurface: red-channel blur of the diffuse light (skin subsurface scattering),
            0.002–0.012 face widths; green uses 0.5x and blue 0.3x of it.
        specular: strength of the skin's specular reflection, 0.15–0.8.
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
        exposure: auto-exposure target, mean linear luminance of the skin, 0.30–0.50
            (a close bright face metered high, highlights near clipping).
        highlight_knee: where the highlight shoulder starts (linear), 0.75–0.95.
        wb_red: red gain of the cold LED white balance, 0.84–0.97.
        wb_blue: blue gain of the cold LED white balance, 1.02–1.16.
        saturation: colour saturation kept in linear RGB (pale flash skin), 0.65–0.95.
        colour_mix: scale of a random 3x3 colour-matrix perturbation, 0–0.05.
        contrast: tone-curve S-shape strength, -0.1–0.35.
        shot_noise: photon noise variance per unit of linear signal, 3e-5–1e-3 (log-uniform;
            a flash-lit close face needs little gain).
        read_noise: signal-independent noise variance, 1e-6–5e-5 (log-uniform).
        sharpen: unsharp-mask amount of the phone's processing, 0–1.2.
        sharpen_sigma_px: unsharp-mask radius, 0.6–1.5 px.
        jpeg_quality: JPEG quality, 60–95.
    """

    face_width_cm: float = _uniform(13.0, 15.5)
    distance_cm: float = _uniform(25.0, 60.0)
    flash_offset_cm: float = _uniform(0.5, 2.0)
    flash_angle_deg: float = _uniform(0.0, 360.0)
    flash_size_cm: float = _uniform(0.1, 0.5)
    beam: float = _uniform(0.0, 6.0)
    background_cm: float = _uniform(15.0, 200.0, log=True)
    head_depth: float = _uniform(0.85, 1.15)
    nose_height: float = _uniform(0.12, 0.22)
    relief: float = _uniform(0.6, 1.4)
    ambient: float = _uniform(0.0, 0.15)
    light_noise: float = _uniform(0.0, 0.15)
    subsurface: float = _uniform(0.002, 0.012)
    specular: float = _uniform(0.15, 0.8)
    shininess: float = _uniform(20.0, 120.0, log=True)
    oil_forehead: float = _uniform(0.2, 1.0)
    oil_nose: float = _uniform(0.3, 1.0)
    oil_cheeks: float = _uniform(0.1, 0.8)
    oil_chin: float = _uniform(0.1, 0.8)
    oil_lips: float = _uniform(0.1, 0.8)
    oil_base: float = _uniform(0.05, 0.3)
    pores: float = _uniform(0.3, 1.0)
    catchlight: float = _uniform(0.5, 1.5)
    red_eye: float = _uniform(0.5, 1.0)
    glare: float = _uniform(0.5, 2.0)
    glare_dx: float = _uniform(-0.5, 0.5)
    glare_dy: float = _uniform(-0.7, 0.3)
    glare_size: float = _uniform(0.04, 0.15)
    exposure: float = _uniform(0.30, 0.50)
    highlight_knee: float = _uniform(0.75, 0.95)
    wb_red: float = _uniform(0.84, 0.97)
    wb_blue: float = _uniform(1.02, 1.16)
    saturation: float = _uniform(0.65, 0.95)
    colour_mix: float = _uniform(0.0, 0.05)
    contrast: float = _uniform(-0.1, 0.35)
    shot_noise: float = _uniform(3e-5, 1e-3, log=True)
    read_noise: float = _uniform(1e-6, 5e-5, log=True)
    sharpen: float = _uniform(0.0, 1.2)
    sharpen_sigma_px: float = _uniform(0.6, 1.5)
    jpeg_quality: int = _uniform(60, 95, integer=True)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> FlashParams:
        """Draw every field from its range, in declaration order.

        Args:
            rng: the generator; the same seed gives the same parameters.

        Returns:
            A new parameter set.
        """
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            low, high = f.metadata["range"]
            if f.metadata["integer"]:
                values[f.name] = int(rng.integers(low, high + 1))
            elif f.metadata["log"]:
                values[f.name] = float(math.exp(rng.uniform(math.log(low), math.log(high))))
            else:
                values[f.name] = float(rng.uniform(low, high))
        # Red-eye is an event, not a level: most flash photos do not show it.
        if rng.random() >= RED_EYE_PROBABILITY:
            values["red_eye"] = 0.0
        if rng.random() >= GLARE_PROBABILITY:
            values["glare"] = 0.0
        return cls(**values)

    @classmethod
    def ranges(cls) -> dict[str, tuple[float, float]]:
        """The sampling range of every field (red_eye and glare may also be 0)."""
        return {f.name: tuple(f.metadata["range"]) for f in dataclasses.fields(cls)}

    def as_dict(self) -> dict[str, float]:
        """The parameters as a plain dict (for logs and model cards)."""
        return dataclasses.asdict(self)
