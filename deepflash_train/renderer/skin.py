"""Where skin shines, how pores break the shine up, and the eyes under a flash."""

from __future__ import annotations

import cv2
import numpy as np

from deepflash_train.renderer.geometry import FaceFrame, add_gaussian
from deepflash_train.renderer.params import FlashParams
from deepflash_train.renderer.shading import smooth


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
    total = albedo[..., 0] + albedo[..., 1] + albedo[..., 2] + 1e-4
    red, green = albedo[..., 0] / total, albedo[..., 1] / total
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
    ref_r, ref_g = float(np.median(red[cheeks])), float(np.median(green[cheeks]))
    ref_b = float(np.median(bright[cheeks]))
    d2 = ((red - ref_r) ** 2 + (green - ref_g) ** 2) / 0.03**2 + ((bright - ref_b) / 0.8) ** 2
    like = np.exp(-0.5 * d2).astype(np.float32)
    return smooth(like, max(0.004 * frame.width, 0.5))


OIL_ZONES = ("forehead", "nose", "cheeks", "chin", "lips")


def oil_zones(frame: FaceFrame, shape: tuple[int, int]) -> np.ndarray:
    """Where each oily zone lies: the T-zone, the nose, the cheekbones, the chin, the lips.

    Returns:
        (5, H, W) float32 maps in [0, 1], in the order of :data:`OIL_ZONES`.
    """
    h, w = shape
    u, v = frame.grid(h, w)
    brows = (frame.centre("left_eyebrow") + frame.centre("right_eyebrow")) / 2
    root = frame.centre("nose_bridge", 0)
    tip = frame.centre("nose_bridge", -1)
    mouth = (frame.centre("top_lip") + frame.centre("bottom_lip")) / 2
    chin = frame.centre("chin", 8)
    zones = np.zeros((len(OIL_ZONES), h, w), np.float32)
    add_gaussian(zones[0], frame, u, v, brows + (0.0, -0.17), 0.2, 0.1)
    add_gaussian(zones[1], frame, u, v, (root + tip) / 2, 0.04, 0.12, combine="max")
    add_gaussian(zones[1], frame, u, v, tip, 0.05, 0.04, combine="max")
    for side, sign in (("left", -1.0), ("right", 1.0)):
        cheek = frame.centre(f"{side}_eye") + (sign * 0.04, 0.17)
        add_gaussian(zones[2], frame, u, v, cheek, 0.07, 0.05, combine="max")
    add_gaussian(zones[3], frame, u, v, chin + (0.0, -0.06), 0.07, 0.05)
    lips = np.zeros((h, w), np.float32)
    mouth_poly = np.vstack([frame.landmarks["top_lip"], frame.landmarks["bottom_lip"]])
    cv2.fillPoly(lips, [np.round(cv2.convexHull(mouth_poly.astype(np.float32))).astype(np.int32)], 1.0)
    add_gaussian(zones[4], frame, u, v, mouth, 0.2, 0.08)
    zones[4] *= lips
    return zones


def oil_map(zones: np.ndarray, params: FlashParams) -> np.ndarray:
    """Specular strength over the face: ``oil_base`` on plain skin, up to about 1 on the oiliest zones.

    Args:
        zones: from :func:`oil_zones`.
        params: the zone weights ``oil_*``.

    Returns:
        (H, W) float32 map.
    """
    weights = [params.oil_forehead, params.oil_nose, params.oil_cheeks, params.oil_chin, params.oil_lips]
    oil = np.full(zones.shape[1:], params.oil_base, np.float32)
    for weight, zone in zip(weights, zones):
        oil += np.float32(weight) * zone
    return np.minimum(oil, 1.2)


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


def stamp_disc(
    target: np.ndarray, centre: np.ndarray, radius: float, weight: np.ndarray, value: np.ndarray, mix: bool
) -> None:
    """Add (or blend in) ``value`` over an anti-aliased disc, in place, touching only its box.

    Args:
        target: (H, W, 3) image changed in place.
        centre: (x, y) in pixels.
        radius: in pixels.
        weight: (H, W) extra weight (e.g. the eye's mask).
        value: (3,) colour added, or blended to when ``mix``.
        mix: blend toward ``value`` instead of adding it.
    """
    h, w = target.shape[:2]
    x0, x1 = max(int(centre[0] - radius - 1), 0), min(int(centre[0] + radius + 2), w)
    y0, y1 = max(int(centre[1] - radius - 1), 0), min(int(centre[1] + radius + 2), h)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.ogrid[y0:y1, x0:x1]
    dist = np.sqrt((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2)
    a = (np.clip(radius - dist + 0.5, 0.0, 1.0) * weight[y0:y1, x0:x1])[..., None].astype(np.float32)
    window = target[y0:y1, x0:x1]
    window[...] = window * (1 - a) + value * a if mix else window + value * a


def stamp_ellipse(
    target: np.ndarray, centre: np.ndarray, radii: tuple[float, float], angle: float, value: np.ndarray
) -> None:
    """Add ``value`` over an anti-aliased, softly haloed ellipse, in place (its box only).

    Args:
        target: (H, W, 3) linear image.
        centre: (x, y) in pixels.
        radii: (long, short) radii in pixels.
        angle: long axis direction in radians.
        value: (3,) radiance added at the core.
    """
    h, w = target.shape[:2]
    reach = 2.5 * max(radii) + 2
    x0, x1 = max(int(centre[0] - reach), 0), min(int(centre[0] + reach) + 1, w)
    y0, y1 = max(int(centre[1] - reach), 0), min(int(centre[1] + reach) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.ogrid[y0:y1, x0:x1]
    dx, dy = xs - centre[0], ys - centre[1]
    c, s = np.cos(angle), np.sin(angle)
    a = (dx * c + dy * s) / max(radii[0], 0.5)
    b = (-dx * s + dy * c) / max(radii[1], 0.5)
    r = np.sqrt(a * a + b * b)
    core = np.clip((1.0 - r) * min(radii) + 0.5, 0.0, 1.0)
    halo = 0.15 * np.exp(-4.0 * np.maximum(r - 1.0, 0.0) ** 2)
    target[y0:y1, x0:x1] += (np.maximum(core, halo)[..., None] * value).astype(np.float32)
