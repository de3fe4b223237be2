"""A small phone camera: white balance, auto-exposure, highlights, noise, tone, sharpening, JPEG."""

from __future__ import annotations

import cv2
import numpy as np

from deepflash_train.renderer.params import FlashParams
from deepflash_train.renderer.shading import LUMA, linear_to_srgb


def colour_matrix(rng: np.random.Generator, params: FlashParams) -> np.ndarray:
    """White balance × saturation × a small random mixing matrix × the flash's green cast.

    The flash LED's white is bluer than the studio's and phones balance it only
    partly, so red drops and blue rises; phones that balance for warm room light
    turn it the other way. The wash of the flash pales the skin.

    Returns:
        (3, 3) float32 matrix applied as ``rgb @ M.T``.
    """
    wb = np.diag(params.wb_gains).astype(np.float32)
    wb /= float(LUMA @ np.diag(wb))  # keep luminance: exposure is metered later
    grey = np.tile(LUMA, (3, 1))
    sat = params.saturation * np.eye(3, dtype=np.float32) + (1.0 - params.saturation) * grey
    mix = rng.uniform(-1.0, 1.0, (3, 3)).astype(np.float32) * params.colour_mix
    mix -= np.diag(mix.sum(axis=1))  # mixing moves colour between channels, keeps grey grey
    # The cast comes after the pallor, so the pale skin takes the flash's yellow-green hue.
    cast = np.diag([1.0, params.cast_green, 1.0]).astype(np.float32)
    cast /= float(LUMA @ np.diag(cast))
    return (cast @ (np.eye(3, dtype=np.float32) + mix) @ sat @ wb).astype(np.float32)


def auto_exposure(linear: np.ndarray, meter: np.ndarray, target: float) -> float:
    """Gain that brings the metered region's mean luminance to ``target``."""
    y = cv2.transform(linear, LUMA[None])
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
    soft = np.minimum(x, knee)
    over = x > knee
    if over.any():  # the shoulder touches few pixels: evaluate it only there
        soft[over] += (1.0 - knee) * np.tanh((x[over] - knee) / (1.0 - knee))
    peak = np.maximum(np.maximum(x[..., 0], x[..., 1]), x[..., 2])
    near = peak > knee
    if near.any():
        wash = np.sqrt(np.clip((peak[near] - knee) / (1.6 - knee), 0.0, 1.0))[:, None]
        pixels = soft[near]
        white = pixels.max(axis=1, keepdims=True)
        soft[near] = pixels + (white - pixels) * wash
    return soft.astype(np.float32, copy=False)


def roll_off(linear: np.ndarray, knee: float) -> np.ndarray:
    """Highlights without clipping: above ``knee`` every pixel's brightest channel rolls off toward 1
    without reaching it, and the pixel's other channels scale with it (its hue and saturation kept)."""
    x = np.maximum(linear, 0.0)
    peak = np.maximum(np.max(x, axis=-1, keepdims=True), 1e-6)
    rolled = np.where(peak > knee, knee + (1.0 - knee) * np.tanh((peak - knee) / (1.0 - knee)), peak)
    # tanh reaches 1 only at infinity; keep a margin below white in float32 too.
    rolled = np.minimum(rolled, np.float32(0.995))
    return (x * (rolled / peak)).astype(np.float32, copy=False)


def add_noise(linear: np.ndarray, rng: np.random.Generator, shot: float, read: float) -> np.ndarray:
    """Poisson–Gaussian sensor noise (variance ``shot·x + read``).

    Fine-grained in luminance, blotchier in colour: demosaicing and the phone's
    chroma denoising leave colour noise at about twice the pixel pitch.
    """
    h, w = linear.shape[:2]
    sigma = np.sqrt(np.float32(shot) * np.maximum(linear, 0.0) + np.float32(read))
    luma_noise = rng.standard_normal((h, w), dtype=np.float32)[..., None]
    chroma = rng.standard_normal(((h + 1) // 2, (w + 1) // 2, 3), dtype=np.float32)
    chroma = cv2.resize(chroma, (w, h), interpolation=cv2.INTER_LINEAR)
    return linear + sigma * (0.7 * luma_noise + 0.9 * chroma)


def tone_curve(srgb: np.ndarray, contrast: float) -> np.ndarray:
    """An S-curve around mid grey (negative contrast flattens)."""
    x = np.clip(srgb, 0.0, 1.0)
    return (x - contrast * np.sin(2 * np.pi * x) / (2 * np.pi)).astype(np.float32)


_ENCODE_STEPS = 1 << 15


def encode(linear: np.ndarray, contrast: float) -> np.ndarray:
    """Linear [0, 1] to the phone's sRGB with its tone curve, through one lookup table."""
    table = tone_curve(linear_to_srgb(np.linspace(0.0, 1.0, _ENCODE_STEPS, dtype=np.float32)), contrast)
    index = (np.clip(linear, 0.0, 1.0) * np.float32(_ENCODE_STEPS - 1) + np.float32(0.5)).astype(np.int32)
    return table[index]


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
    matrix = colour_matrix(rng, params)  # drawn either way: the noise that follows keeps its stream
    x = np.ascontiguousarray(linear, np.float32)
    if params.with_colour:
        x = cv2.transform(x, matrix)
    gain = auto_exposure(x, meter, params.exposure)
    x = x * np.float32(gain)
    x = compress_highlights(x, params.highlight_knee) if params.with_clipping else roll_off(x, params.highlight_knee)
    if not params.with_noise:
        return encode(x, params.contrast), gain
    x = add_noise(x, rng, params.shot_noise, params.read_noise)
    out = encode(x, params.contrast)
    out = sharpen(out, params.sharpen, params.sharpen_sigma_px)
    return jpeg(out, params.jpeg_quality), gain
