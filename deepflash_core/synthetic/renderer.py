"""The virtual flash studio: re-light a studio portrait as a close phone-flash photo.

Per portrait (:meth:`FlashRenderer.prepare`, deterministic and cacheable): subject
matte, albedo × shading decomposition, head-proxy pieces, skin likelihood. Per
render (:meth:`FlashRenderer.render_prepared`, everything from the generator):
parameters, head shape, flash light and shadows, skin shine, eyes, camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepflash_core.errors import DeepFlashError
from deepflash_core.synthetic import camera, skin
from deepflash_core.synthetic.flash import flash_light
from deepflash_core.synthetic.geometry import FaceFrame, HasLandmarks, ProxyParts, build_proxy, subject_matte
from deepflash_core.synthetic.params import FlashParams
from deepflash_core.synthetic.shading import decompose, luminance, srgb_to_linear, subsurface

_LANDMARK_GROUPS = ("chin", "left_eyebrow", "right_eyebrow", "nose_bridge", "nose_tip", "left_eye", "right_eye", "top_lip", "bottom_lip")
# Red of a flash-lit retina seen through the pupil (linear RGB albedo).
_RED_EYE = np.array([0.55, 0.03, 0.04], np.float32)


class RenderInputError(DeepFlashError):
    """The studio image or its landmarks cannot be rendered (shape, range, missing groups)."""


@dataclass(frozen=True)
class RenderContext:
    """Everything about one portrait that does not change between renders.

    Attributes:
        frame: the face's landmark frame.
        parts: the head proxy pieces (and the subject matte).
        albedo: (H, W, 3) linear albedo.
        shading: (H, W) studio shading, mean 1 over the subject.
        studio_y: (H, W) linear studio luminance.
        skin: (H, W) skin likelihood in [0, 1].
    """

    frame: FaceFrame
    parts: ProxyParts
    albedo: np.ndarray
    shading: np.ndarray
    studio_y: np.ndarray
    skin: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the portrait."""
        return self.shading.shape  # type: ignore[return-value]


def _check_inputs(studio: np.ndarray, face: HasLandmarks) -> None:
    if not isinstance(studio, np.ndarray) or studio.ndim != 3 or studio.shape[2] != 3:
        raise RenderInputError(f"studio image must be an (H, W, 3) array, got {getattr(studio, 'shape', type(studio))}")
    if min(studio.shape[:2]) < 16:
        raise RenderInputError(f"studio image is too small to render ({studio.shape[1]}x{studio.shape[0]})")
    landmarks = getattr(face, "landmarks", None)
    missing = [g for g in _LANDMARK_GROUPS if not landmarks or g not in landmarks]
    if missing:
        raise RenderInputError(f"face landmarks lack the groups: {', '.join(missing)}")


class FlashRenderer:
    """Renders the phone-flash version of a studio portrait.

    Args:
        matte_size: working resolution (longer side, px) of the GrabCut subject matte.

    Example:
        >>> flash, params = FlashRenderer().render(studio, face, np.random.default_rng(0))  # doctest: +SKIP
    """

    def __init__(self, matte_size: int = 96) -> None:
        self.matte_size = matte_size

    def prepare(self, studio: np.ndarray, face: HasLandmarks, matte: np.ndarray | None = None) -> RenderContext:
        """Analyse one portrait once; reuse the context for many renders.

        Args:
            studio: (H, W, 3) float32 sRGB in [0, 1].
            face: its landmarks (``faces.Face`` or anything with ``landmarks``), in pixels.
            matte: optional (H, W) subject matte in [0, 1] (e.g. warped along with the
                image from one computed on the full portrait); GrabCut runs otherwise.

        Returns:
            The render context.

        Raises:
            RenderInputError: wrong image shape or missing landmark groups.
        """
        _check_inputs(studio, face)
        studio = np.clip(np.nan_to_num(studio.astype(np.float32)), 0.0, 1.0)
        frame = FaceFrame.from_face(face)
        if matte is None:
            matte = subject_matte(studio, face, size=self.matte_size)
        elif matte.shape != studio.shape[:2]:
            raise RenderInputError(f"matte shape {matte.shape} does not match the image {studio.shape[:2]}")
        parts = build_proxy(frame, np.clip(matte.astype(np.float32), 0.0, 1.0))
        linear = srgb_to_linear(studio)
        skin_like = skin.skin_likelihood(linear, parts.head_mask, frame) * parts.head_mask
        albedo, shading = decompose(linear, skin_like, frame.width)
        return RenderContext(frame, parts, albedo, shading, luminance(linear), skin_like.astype(np.float32))

    def render_prepared(
        self, ctx: RenderContext, rng: np.random.Generator, params: FlashParams | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Render one flash photo of a prepared portrait.

        Args:
            ctx: from :meth:`prepare`.
            rng: source of every random choice; the same seed gives the same image.
            params: fixed parameters instead of sampled ones (the generator still
                drives the noise textures).

        Returns:
            ``(flash, params)``: (H, W, 3) float32 sRGB in [0, 1] and the sampled
            parameters (plus the exposure gain chosen by the auto-exposure).
        """
        sampled = FlashParams.sample(rng)
        p = sampled if params is None else params
        frame, parts = ctx.frame, ctx.parts
        shape = ctx.shape
        subject = parts.subject
        z = parts.height(p.head_depth, p.nose_height, p.relief)
        light = flash_light(z, subject, frame, p)

        lit = light.diffuse * light.visibility
        irradiance = subsurface(lit, subject, p.subsurface * frame.width)
        irradiance += (p.ambient * ctx.shading)[..., None]

        albedo = ctx.albedo
        eyes = skin.eye_masks(frame, shape)
        if p.red_eye > 0:
            albedo = albedo.copy()
            for mask, width, centre in eyes:
                pupil = skin.disc(shape, centre, 0.2 * width) * mask * p.red_eye
                albedo = albedo * (1 - pupil[..., None]) + _RED_EYE * pupil[..., None]
        radiance = albedo * irradiance

        # Shine: oily skin zones, a faint sheen elsewhere on the person, broken up by pores.
        oil = skin.oil_map(frame, shape, p) * ctx.skin + 0.06 * subject * (1.0 - ctx.skin)
        pores = skin.pore_texture(ctx.studio_y, rng, frame.width, p.pores)
        shine = p.specular * oil * pores * light.lobe * light.visibility
        radiance += shine[..., None]

        # The flash mirrored in each cornea, a little toward the flash side.
        angle = math.radians(p.flash_angle_deg)
        toward = np.array([math.cos(angle), math.sin(angle)], np.float32)
        for mask, width, centre in eyes:
            spot = skin.disc(shape, centre + toward * 0.08 * width, max(0.06 * width, 0.6)) * mask
            radiance += (3.0 * p.catchlight * spot)[..., None]

        meter = ctx.skin + 0.05 * parts.head_mask
        flash, gain = camera.develop(radiance, meter, rng, p)
        params = p.as_dict()
        params["exposure_gain"] = gain
        return flash, params

    def render(
        self, studio: np.ndarray, face: HasLandmarks, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Prepare and render in one call (the simple path).

        Args:
            studio: (H, W, 3) float32 sRGB in [0, 1], the studio portrait (the target).
            face: its landmarks, in the image's pixel coordinates.
            rng: source of every random choice.

        Returns:
            ``(flash, params)`` as :meth:`render_prepared`.
        """
        return self.render_prepared(self.prepare(studio, face), rng)
