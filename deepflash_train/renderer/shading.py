"""Colour space and the studio image's albedo × shading decomposition.

Following the flash/no-flash decompositions of Petschnigg et al. and Eisemann &
Durand (2004), the studio light is taken as the low frequencies of the studio
image's luminance and the rest, with all the colour, as the albedo that the flash
re-lights. The low-pass (a normalised convolution) runs on skin only, whose
albedo is nearly uniform, so dark hair or clothes are not taken for shadow.
"""

from __future__ import annotations

import cv2
import numpy as np

# Rec. 709 / sRGB luminance weights (linear RGB).
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] to linear light."""
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _encode(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


# sRGB encoding sampled finely enough (< 0.2 of an 8-bit step) for a fast lookup.
_ENCODE_STEPS = 1 << 16
_ENCODE_LUT = _encode(np.linspace(0.0, 1.0, _ENCODE_STEPS, dtype=np.float64)).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] to sRGB-encoded values (table lookup)."""
    index = (np.clip(x, 0.0, 1.0) * np.float32(_ENCODE_STEPS - 1) + np.float32(0.5)).astype(np.int32)
    return _ENCODE_LUT[index]


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(H, W) luminance of a linear (H, W, 3) image."""
    return (rgb @ LUMA).astype(np.float32)


def smooth(x: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur; large radii run on a subsampled copy (same result, far faster)."""
    if sigma_px < 0.3:
        return x
    if sigma_px < 6.0:
        return cv2.GaussianBlur(x, (0, 0), sigma_px)
    h, w = x.shape[:2]
    factor = int(sigma_px // 3)
    small = cv2.resize(x, (max(w // factor, 1), max(h // factor, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / factor)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def masked_smooth(x: np.ndarray, mask: np.ndarray, sigma_px: float) -> np.ndarray:
    """Blur ``x`` using only the pixels under ``mask`` (normalised convolution)."""
    num = smooth(x * mask, sigma_px)
    den = smooth(mask, sigma_px)
    return num / np.maximum(den, 1e-4)


def decompose(
    studio_linear: np.ndarray, skin: np.ndarray, face_width_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split a linear studio image into albedo and (grey) studio shading.

    The shading is measured on skin only, whose albedo is nearly uniform, so that
    dark hair or a dark suit stay dark in the albedo instead of being taken for
    shadow; away from skin it is the skin's shading extrapolated smoothly.

    Args:
        studio_linear: (H, W, 3) linear RGB.
        skin: (H, W) skin weight in [0, 1].
        face_width_px: face width, which sets the low-pass radii (0.06 and 0.4 face widths).

    Returns:
        ``(albedo, shading)``: (H, W, 3) albedo clipped to [0, 1.5] (mean skin ≈ 0.5) and
        (H, W) shading normalised to mean 1 over the skin.
    """
    y = luminance(studio_linear) + 1e-4
    skin = skin.astype(np.float32) + 1e-6
    near = masked_smooth(y, skin, 0.06 * face_width_px)
    far = masked_smooth(y, skin, 0.4 * face_width_px)
    density = smooth(skin, 0.06 * face_width_px)
    w = np.clip(density / 0.3, 0.0, 1.0)
    shading = w * near + (1.0 - w) * far
    level = float((shading * skin).sum() / float(skin.sum()))
    shading = (shading / max(level, 1e-4)).astype(np.float32)
    albedo = studio_linear / (shading[..., None] * level)
    # Mean skin albedo sits near 0.5 so that a face-on flash at unit irradiance is mid grey.
    albedo = np.clip(albedo * 0.5, 0.0, 1.5).astype(np.float32)
    return albedo, shading


def subsurface(irradiance: np.ndarray, subject: np.ndarray, sigma_red_px: float) -> np.ndarray:
    """Skin subsurface scattering as per-channel blurs of the irradiance.

    Red light travels furthest under the skin, blue least (Jimenez et al.'s
    separable SSS idea, in the simple form of Zhang et al. 2020). The blur stays
    inside the subject matte.

    Args:
        irradiance: (H, W) diffuse irradiance.
        subject: (H, W) matte.
        sigma_red_px: red-channel blur radius in pixels.

    Returns:
        (H, W, 3) per-channel irradiance.
    """
    out = np.empty(irradiance.shape + (3,), np.float32)
    for c, k in enumerate((1.0, 0.5, 0.3)):
        blurred = masked_smooth(irradiance, subject, sigma_red_px * k) if sigma_red_px * k >= 0.3 else irradiance
        out[..., c] = subject * blurred + (1.0 - subject) * irradiance
    return out
