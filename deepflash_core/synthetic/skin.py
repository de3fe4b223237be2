"""Where skin shines, how pores break the shine up, and the eyes under a flash."""

from __future__ import annotations

import cv2
import numpy as np

from deepflash_core.synthetic.geometry import FaceFrame
from deepflash_core.synthetic.params import FlashParams
from deepflash_core.synthetic.shading import smooth


def _blob(u: np.ndarray, v: np.ndarray, c: np.ndarray, su: float, sv: float) -> np.ndarray:
    return np.exp(-0.5 * (((u - c[0]) / su) ** 2 + ((v - c[1]) / sv) ** 2)).astype(np.float32)


def skin_likelihood(albedo: np.ndarray, face_region: np.ndarray, frame: FaceFrame) -> np.ndarray:
    """How skin-like each pixel's colour is, against the cheeks' own colour.

    Keeps the shine off hair, beards, eyebrows, glasses frames and clothes, and
    tells the shading estimate where the albedo is uniform.

    Args:
        albedo: (H, W, 3) linear albedo or evenly lit linear image.
        face_region: (H, W) face mask of the head proxy.
        frame: the face's landmark frame.

    Returns:
        (H, W) float32 in [0, 1].
    """
    h, w = face_region.shape
    total = albedo.sum(axis=-1) + 1e-4
    chroma = albedo[..., :2] / total[..., None]
    bright = np.log(total)
    u, v = frame.grid(h, w)
    cheeks = np.zeros((h, w), bool)
    for side in ("left", "right"):
        c = frame.centre(f"{side}_eye") + (0.0, 0.22)
        cheeks |= ((u - c[0]) / 0.09) ** 2 + ((v - c[1]) / 0.07) ** 2 < 1.0
    cheeks &= face_region > 0.5
    if cheeks.sum() < 4:
        cheeks = face_region > 0.5
    if cheeks.sum() < 4:
        return face_region.astype(np.float32)
    ref_c = np.median(chroma[cheeks], axis=0)
    ref_b = float(np.median(bright[cheeks]))
    d2 = ((chroma - ref_c) ** 2).sum(axis=-1) / 0.03**2 + ((bright - ref_b) / 0.8) ** 2
    like = np.exp(-0.5 * d2).astype(np.float32)
    return smooth(like, max(0.004 * frame.width, 0.5))


def oil_map(frame: FaceFrame, shape: tuple[int, int], params: FlashParams) -> np.ndarray:
    """Specular strength over the face: the T-zone, cheekbones, chin and lips shine most.

    Returns:
        (H, W) float32 map, ``oil_base`` on plain skin up to about 1 on the oiliest zones.
    """
    h, w = shape
    u, v = frame.grid(h, w)
    brows = (frame.centre("left_eyebrow") + frame.centre("right_eyebrow")) / 2
    root = frame.centre("nose_bridge", 0)
    tip = frame.centre("nose_bridge", -1)
    mouth = (frame.centre("top_lip") + frame.centre("bottom_lip")) / 2
    chin = frame.centre("chin", 8)
    oil = np.full((h, w), params.oil_base, np.float32)
    oil += params.oil_forehead * _blob(u, v, brows + (0.0, -0.17), 0.2, 0.1)
    oil += params.oil_nose * (_blob(u, v, (root + tip) / 2, 0.04, 0.12) + _blob(u, v, tip, 0.05, 0.04))
    for side, sign in (("left", -1.0), ("right", 1.0)):
        cheek = frame.centre(f"{side}_eye") + (sign * 0.04, 0.17)
        oil += params.oil_cheeks * _blob(u, v, cheek, 0.07, 0.05)
    oil += params.oil_chin * _blob(u, v, chin + (0.0, -0.06), 0.07, 0.05)
    lips = np.zeros((h, w), np.float32)
    mouth_poly = np.vstack([frame.landmarks["top_lip"], frame.landmarks["bottom_lip"]])
    cv2.fillPoly(lips, [np.round(cv2.convexHull(mouth_poly.astype(np.float32))).astype(np.int32)], 1.0)
    oil += params.oil_lips * lips * _blob(u, v, mouth, 0.2, 0.08)
    return np.clip(oil, 0.0, 1.2)


def pore_texture(studio_y: np.ndarray, rng: np.random.Generator, face_width_px: float, strength: float) -> np.ndarray:
    """Multiplicative texture that breaks a specular highlight into pore-sized sparkles.

    Fine detail of the studio image (pores, fine wrinkles, stubble) plus random
    pore-sized noise; mean near 1.

    Args:
        studio_y: (H, W) studio luminance (linear).
        rng: the render's generator.
        face_width_px: face width in pixels.
        strength: the ``pores`` parameter.

    Returns:
        (H, W) float32 texture ≥ 0.
    """
    log_y = np.log(studio_y + 1e-3)
    detail = log_y - smooth(log_y, max(0.006 * face_width_px, 0.6))
    detail /= float(detail.std()) + 1e-4
    noise = rng.standard_normal(studio_y.shape).astype(np.float32)
    noise = smooth(noise, max(0.002 * face_width_px, 0.35))
    noise /= float(noise.std()) + 1e-4
    texture = 1.0 + strength * (0.45 * detail + 0.55 * noise)
    return np.clip(texture, 0.0, 3.0).astype(np.float32)


def eye_masks(frame: FaceFrame, shape: tuple[int, int]) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """Each open eye's polygon mask, its width (px) and centre (x, y).

    Returns:
        A list of ``(mask, eye_width_px, centre_xy)``; eyes closed to a slit are left out.
    """
    out = []
    for side in ("left_eye", "right_eye"):
        pts = frame.landmarks[side]
        width = float(np.linalg.norm(pts[3] - pts[0]))
        opening = float(np.linalg.norm(pts[1] - pts[5]) + np.linalg.norm(pts[2] - pts[4])) / 2
        if width < 3 or opening < 0.18 * width:
            continue
        mask = np.zeros(shape, np.float32)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1.0)
        out.append((mask, width, pts.mean(axis=0)))
    return out


def disc(shape: tuple[int, int], centre: np.ndarray, radius: float) -> np.ndarray:
    """Anti-aliased disc of ``radius`` px, (H, W) float32 in [0, 1]."""
    h, w = shape
    ys, xs = np.ogrid[0:h, 0:w]
    dist = np.sqrt((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2)
    return np.clip(radius - dist + 0.5, 0.0, 1.0).astype(np.float32)
