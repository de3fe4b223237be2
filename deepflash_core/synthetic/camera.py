"""A small phone camera: white balance, auto-exposure, highlights, noise, tone, sharpening, JPEG."""

from __future__ import annotations

import cv2
import numpy as np

from deepflash_core.synthetic.params import FlashParams
from deepflash_core.synthetic.shading import LUMA, linear_to_srgb


def colour_matrix(rng: np.random.Generator, params: FlashParams) -> np.ndarray:
    """White balance × saturation × a small random mixing matrix (rows sum to their gain).

    The flash LED's white is bluer than the studio's and phones balance it only
    partly, so red drops and blue rises; the wash of the flash pales the skin.

    Returns:
        (3, 3) float32 matrix applied as ``rgb @ M.T``.
    """
    wb = np.diag([params.wb_red, 1.0, params.wb_blue]).astype(np.float32)
    wb /= float(LUMA @ np.diag(wb))  # keep luminance: exposure is metered later
    grey = np.tile(LUMA, (3, 1))
    sat = params.saturation * np.eye(3, dtype=np.float32) + (1.0 - params.saturation) * grey
    mix = rng.uniform(-1.0, 1.0, (3, 3)).astype(np.float32) * params.colour_mix
    mix -= np.diag(mix.sum(axis=1))  # mixing moves colour between channels, keeps grey grey
    return ((np.eye(3, dtype=np.float32) + mix) @ sat @ wb).astype(np.float32)


def auto_exposure(linear: np.ndarray, meter: np.ndarray, target: float) -> float:
    """Gain that brings the metered region's mean luminance to ``target``."""
    y = linear @ LUMA
    weight = float(meter.sum())
    level = float((y * meter).sum() / weight) if weight > 0 else float(y.mean())
    return target / max(level, 1e-5)


def compress_highlights(linear: np.ndarray, knee: float) -> np.ndarray:
    """Sensor clipping with a soft shoulder; near-clipped pixels lose their hue.

    Each channel rolls off above ``knee`` toward 1; where the brightest channel
    nears clipping the colour is pulled toward white, as when one channel after
    another saturates on a bright face or blond hair.
    """
    x = np.maximum(linear, 0.0)
    over = np.maximum(x - knee, 0.0)
    soft = np.where(x > knee, knee + (1.0 - knee) * np.tanh(over / (1.0 - knee)), x)
    peak = x.max(axis=-1, keepdims=True)
    wash = np.clip((peak - knee) / (1.6 - knee), 0.0, 1.0) ** 0.7
    white = soft.max(axis=-1, keepdims=True)
    return (soft * (1.0 - wash) + white * wash).astype(np.float32)


def add_noise(linear: np.ndarray, rng: np.random.Generator, shot: float, read: float) -> np.ndarray:
    """Poisson–Gaussian sensor noise (variance ``shot·x + read``), slightly chroma-correlated."""
    sigma = np.sqrt(shot * np.maximum(linear, 0.0) + read)
    luma_noise = rng.standard_normal(linear.shape[:2]).astype(np.float32)[..., None]
    chroma_noise = rng.standard_normal(linear.shape).astype(np.float32)
    return (linear + sigma * (0.6 * luma_noise + 0.8 * chroma_noise)).astype(np.float32)


def tone_curve(srgb: np.ndarray, contrast: float) -> np.ndarray:
    """An S-curve around mid grey (negative contrast flattens)."""
    x = np.clip(srgb, 0.0, 1.0)
    return (x - contrast * np.sin(2 * np.pi * x) / (2 * np.pi)).astype(np.float32)


def sharpen(srgb: np.ndarray, amount: float, sigma_px: float) -> np.ndarray:
    """Unsharp mask, as phones apply after demosaicing."""
    if amount <= 0:
        return srgb
    blurred = cv2.GaussianBlur(srgb, (0, 0), sigma_px)
    return srgb + amount * (srgb - blurred)


def jpeg(srgb: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through an 8-bit JPEG at ``quality`` (4:2:0 chroma, as phones save)."""
    u8 = np.round(np.clip(srgb, 0.0, 1.0) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # cv2 only fails on empty images; keep the 8-bit image then
        return u8.astype(np.float32) / 255
    back = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return back.astype(np.float32) / 255


def develop(
    linear: np.ndarray, meter: np.ndarray, rng: np.random.Generator, params: FlashParams
) -> tuple[np.ndarray, float]:
    """From scene-linear light to the phone's sRGB JPEG.

    Args:
        linear: (H, W, 3) scene radiance in linear RGB.
        meter: (H, W) weights of the auto-exposure metering (the face).
        rng: the render's generator.
        params: the sampled parameters.

    Returns:
        ``(image, exposure_gain)``: (H, W, 3) float32 sRGB in [0, 1] and the gain used.
    """
    x = linear @ colour_matrix(rng, params).T
    gain = auto_exposure(x, meter, params.exposure)
    x = compress_highlights(x * gain, params.highlight_knee)
    x = np.clip(add_noise(x, rng, params.shot_noise, params.read_noise), 0.0, 1.0)
    out = tone_curve(linear_to_srgb(x), params.contrast)
    out = sharpen(out, params.sharpen, params.sharpen_sigma_px)
    return jpeg(out, params.jpeg_quality), gain
