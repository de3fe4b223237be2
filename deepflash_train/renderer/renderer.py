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

import cv2
import numpy as np

from deepflash_client.errors import DeepFlashError
from deepflash_core.detection.faces import LANDMARK_GROUPS
from deepflash_core.eyes.stage import GLASSES_THRESHOLD, bridge_edge_score
from deepflash_train.renderer import camera, skin
from deepflash_train.renderer.flash import flash_light
from deepflash_train.renderer.geometry import FaceFrame, HasLandmarks, ProxyParts, build_proxy, subject_matte
from deepflash_train.renderer.params import FlashParams, check_components
from deepflash_train.renderer.shading import decompose, luminance, srgb_to_linear, subsurface

# Red of a flash-lit retina seen through the pupil (linear RGB albedo).
_RED_EYE = np.array([0.55, 0.03, 0.04], np.float32)
# Radius of the reddened pupil disc, in eye widths, centred on the eye contour's centre.
RED_EYE_DISC = 0.2


class RenderInputError(DeepFlashError):
    """The studio image or its landmarks cannot be rendered (shape, range, missing groups)."""


@dataclass(frozen=True)
class RenderContext:
    """Everything about one portrait that does not change between renders.

    The light transport runs at most at ``light_size`` pixels (it is smooth; the
    albedo, pores and eyes keep the full resolution), so ``parts`` and
    ``light_frame`` may be smaller than the image.

    Attributes:
        frame: the face's landmark frame (image pixels).
        light_frame: the same at the light-transport resolution.
        parts: the head proxy pieces and subject matte at the light-transport resolution.
        subject: (H, W) subject matte.
        head_mask: (H, W) head region of the proxy.
        albedo: (H, W, 3) linear albedo.
        shading: (H, W) studio shading, mean 1 over the skin.
        studio_y: (H, W) linear studio luminance.
        skin: (H, W) skin likelihood in [0, 1].
        oil_zones: (5, H, W) oily zones of the face.
        eyes: each open eye's mask, width and centre.
        glasses: whether the face wears glasses (the flash may glare in them).
    """

    frame: FaceFrame
    light_frame: FaceFrame
    parts: ProxyParts
    subject: np.ndarray
    head_mask: np.ndarray
    albedo: np.ndarray
    shading: np.ndarray
    studio_y: np.ndarray
    skin: np.ndarray
    oil_zones: np.ndarray
    eyes: list[tuple[np.ndarray, float, np.ndarray]]
    glasses: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the portrait."""
        return self.shading.shape  # type: ignore[return-value]


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """1 + a smooth random field (value noise over a 4×4 lattice) of the given amplitude."""
    lattice = rng.standard_normal((4, 4)).astype(np.float32)
    field = cv2.resize(lattice, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return 1.0 + np.float32(amplitude) * np.clip(field, -2.5, 2.5)


def _resize(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if img.shape[:2] == shape:
        return img
    return cv2.resize(img, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _check_inputs(studio: np.ndarray, face: HasLandmarks) -> None:
    if not isinstance(studio, np.ndarray) or studio.ndim != 3 or studio.shape[2] != 3:
        raise RenderInputError(f"studio image must be an (H, W, 3) array, got {getattr(studio, 'shape', type(studio))}")
    if min(studio.shape[:2]) < 16:
        raise RenderInputError(f"studio image is too small to render ({studio.shape[1]}x{studio.shape[0]})")
    landmarks = getattr(face, "landmarks", None)
    missing = [g for g in LANDMARK_GROUPS if not landmarks or g not in landmarks]
    if missing:
        raise RenderInputError(f"face landmarks lack the groups: {', '.join(missing)}")


class FlashRenderer:
    """Renders the phone-flash version of a studio portrait.

    Args:
        matte_size: working resolution (longer side, px) of the GrabCut subject matte.
        light_size: largest resolution (longer side, px) of the light transport.
        off: parts of the flash left out of every render (names from
            :data:`~deepflash_train.renderer.params.FLASH_COMPONENTS`), to measure what a model reacts to.

    Example:
        >>> flash, params = FlashRenderer().render(studio, face, np.random.default_rng(0))  # doctest: +SKIP
    """

    def __init__(self, matte_size: int = 96, light_size: int = 256, off: tuple[str, ...] = ()) -> None:
        self.matte_size = matte_size
        self.light_size = light_size
        check_components(off)  # named wrongly: fail now, not at the first render
        self.off = tuple(off)

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
        h, w = studio.shape[:2]
        scale = min(1.0, self.light_size / max(h, w))
        light_shape = (max(round(h * scale), 16), max(round(w * scale), 16))
        light_frame = frame.resized(light_shape[1] / w, light_shape[0] / h) if scale < 1 else frame
        matte = np.clip(matte.astype(np.float32), 0.0, 1.0)
        parts = build_proxy(light_frame, _resize(matte, light_shape))
        subject = np.clip(np.maximum(_resize(parts.subject, (h, w)), matte), 0.0, 1.0)
        head_mask = _resize(parts.head_mask, (h, w))
        linear = srgb_to_linear(studio)
        skin_like = (skin.skin_likelihood(linear, head_mask, frame) * head_mask).astype(np.float32)
        albedo, shading = decompose(linear, skin_like, frame.width)
        return RenderContext(
            frame=frame,
            light_frame=light_frame,
            parts=parts,
            subject=subject,
            head_mask=head_mask,
            albedo=albedo,
            shading=shading,
            studio_y=luminance(linear),
            skin=skin_like,
            oil_zones=skin.oil_zones(frame, (h, w)),
            eyes=skin.eye_masks(frame, (h, w)),
            # The product's own glasses check, so renders with glasses are those its glare stage looks at.
            glasses=bridge_edge_score(studio, frame.landmarks, frame.width) > GLASSES_THRESHOLD,
        )

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
        # Drawn even when fixed parameters are given, so the noise textures that
        # follow come from the same stream either way.
        sampled = FlashParams.sample(rng)
        p = (sampled if params is None else params).without(*self.off)
        frame, parts = ctx.frame, ctx.parts
        shape = ctx.shape
        z, n = parts.surface(p.head_depth, p.nose_height, p.relief)
        light = flash_light(z, parts.subject, ctx.light_frame, p, n)

        beam_noise = _smooth_noise(light.diffuse.shape, rng, p.light_noise if p.with_falloff else 0.0)
        lit = light.diffuse * light.visibility * beam_noise
        irradiance = _resize(subsurface(lit, parts.subject, p.subsurface * ctx.light_frame.width), shape)
        irradiance += (p.ambient * ctx.shading)[..., None]
        lobe = _resize(light.lobe * light.visibility, shape)

        albedo = ctx.albedo
        if p.red_eye > 0:
            albedo = albedo.copy()
            for mask, width, centre in ctx.eyes:
                skin.stamp_disc(albedo, centre, RED_EYE_DISC * width, mask * np.float32(p.red_eye), _RED_EYE, mix=True)
        radiance = albedo * irradiance

        # Shine: oily skin zones, a faint sheen elsewhere on the person, broken up by pores.
        oil = skin.oil_map(ctx.oil_zones, p) * ctx.skin + 0.06 * ctx.subject * (1.0 - ctx.skin)
        pores = skin.pore_texture(ctx.studio_y, rng, frame.width, p.pores)
        if p.with_speculars:
            radiance += (np.float32(p.specular) * oil * pores * lobe)[..., None]
            self._catchlights(radiance, ctx, p)
            if ctx.glasses and p.glare > 0:
                self._glare(radiance, frame, p)

        meter = ctx.skin + 0.05 * ctx.head_mask
        flash, gain = camera.develop(radiance, meter, rng, p)
        record: dict[str, Any] = p.as_dict()
        record["exposure_gain"] = gain
        return flash, record

    @staticmethod
    def _catchlights(radiance: np.ndarray, ctx: RenderContext, p: FlashParams) -> None:
        """The flash mirrored in each cornea, a little toward the flash side."""
        angle = math.radians(p.flash_angle_deg)
        toward = np.array([math.cos(angle), math.sin(angle)], np.float32)
        white = np.full(3, 3.0 * p.catchlight, np.float32)
        for mask, width, centre in ctx.eyes:
            spot = centre + toward * 0.08 * width
            skin.stamp_disc(radiance, spot, max(0.06 * width, 0.6), mask, white, mix=False)

    @staticmethod
    def _glare(radiance: np.ndarray, frame: FaceFrame, p: FlashParams) -> None:
        """The flash mirrored in each eyeglass lens: one bright, slightly elongated spot."""
        white = np.full(3, 4.0 * p.glare, np.float32)
        for spot, radii, angle in FlashRenderer.glare_spots(frame, p):
            skin.stamp_ellipse(radiance, spot, radii, angle, white)

    @staticmethod
    def glare_spots(frame: FaceFrame, p: FlashParams) -> list[tuple[np.ndarray, tuple[float, float], float]]:
        """Where the flash glares in the lenses: ``(centre_xy, (long, short) radii, angle_rad)`` per lens.

        The lenses' curvature puts the reflection at mirror-image places on the two
        lenses (both toward the nose, or both away), at the same height.
        """
        nose_x = float(frame.landmarks["nose_bridge"][0][0])
        spots = []
        for side in ("left_eye", "right_eye"):
            pts = frame.landmarks[side]
            width = float(np.linalg.norm(pts[3] - pts[0]))
            centre = pts.mean(axis=0)
            inward = 1.0 if nose_x > centre[0] else -1.0
            spot = centre + (inward * p.glare_dx * width) * frame.right + (p.glare_dy * width) * frame.down
            angle = math.atan2(float(frame.right[1]), float(frame.right[0]))
            spots.append((spot, (p.glare_size * width, 0.5 * p.glare_size * width), angle))
        return spots

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
