"""Light transport of a phone flash: a small source ~1 cm beside the lens.

Camera coordinates are in centimetres: x right, y down, z forward (depth). The
flash at ``(b cos a, b sin a, 0)`` lights a surface point ``P`` with irradiance
``cos θ / |F − P|²``, so the nearest, camera-facing parts (nose, forehead) are hot
and everything falls off toward the silhouette and into the depth. Its thin hard
shadows come from the parallax between lens and flash, tested in screen space
on the depth map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepflash_train.renderer.geometry import FaceFrame, normals
from deepflash_train.renderer.params import FlashParams

# Most steps of the screen-space shadow march (cost grows linearly).
_SHADOW_STEPS = 12


@dataclass(frozen=True)
class FlashLight:
    """What the flash delivers to every pixel (before albedo and camera).

    Depth and normals are the person's where the matte is above one half.

    Attributes:
        diffuse: (H, W) irradiance relative to a face-on surface at the nose distance.
        lobe: (H, W) Blinn-Phong specular lobe times the same distance falloff.
        visibility: (H, W) 1 where the flash sees the surface, 0 in its shadow.
        depth: (H, W) distance from the lens in cm.
        normal: (H, W, 3) unit normals of the subject (x right, y down, z to camera).
    """

    diffuse: np.ndarray
    lobe: np.ndarray
    visibility: np.ndarray
    depth: np.ndarray
    normal: np.ndarray


def _ahead(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``out[p] = img[p + (dx, dy)]``; past the border the pixel itself (no occluder)."""
    h, w = img.shape
    out = img.copy()
    if abs(dx) >= w or abs(dy) >= h:
        return out
    ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
    xs, xd = (slice(dx, w), slice(0, w - dx)) if dx >= 0 else (slice(0, w + dx), slice(-dx, w))
    out[yd, xd] = img[ys, xs]
    return out


def visibility(inv_depth: np.ndarray, baseline_px_cm: float, angle: float, penumbra_ratio: float) -> np.ndarray:
    """Fraction of the flash each pixel sees, by marching toward the flash in the image.

    A surface seen at pixel ``q = p + t·dir`` occludes pixel ``p`` from the flash when
    ``f·b·(1/d(q) − 1/d(p)) ≥ t`` (the parallax of the lens-flash baseline ``b``).
    The penumbra widens with the same parallax times LED size over baseline.

    Args:
        inv_depth: (H, W) 1 / depth in 1/cm.
        baseline_px_cm: focal length in pixels times the baseline in cm.
        angle: direction of the flash from the lens in the image (radians).
        penumbra_ratio: LED diameter over baseline.

    Returns:
        (H, W) float32 visibility in [0, 1].
    """
    reach = baseline_px_cm * float(inv_depth.max() - inv_depth.min())
    if reach < 0.75:
        return np.ones_like(inv_depth)
    steps = int(min(_SHADOW_STEPS, math.ceil(reach)))
    vis = np.ones_like(inv_depth)
    dx, dy = math.cos(angle), math.sin(angle)
    done = set()
    for t in np.linspace(max(reach / steps, 0.75), reach, steps):
        # Whole-pixel offsets: the occluder test needs no sub-pixel sampling.
        ox, oy = int(round(dx * t)), int(round(dy * t))
        if (ox, oy) in done or (ox, oy) == (0, 0):
            continue
        done.add((ox, oy))
        offset = math.hypot(ox, oy)
        ahead = _ahead(inv_depth, ox, oy)
        excess = baseline_px_cm * (ahead - inv_depth) - offset
        width = max(penumbra_ratio * offset, 0.7)
        vis = np.minimum(vis, np.clip(0.5 - excess / width, 0.0, 1.0))
    return vis


def flash_light(
    z: np.ndarray,
    subject: np.ndarray,
    frame: FaceFrame,
    params: FlashParams,
    surface_normals: np.ndarray | None = None,
) -> FlashLight:
    """Irradiance, specular lobe and shadows of the flash on the head proxy and backdrop.

    Args:
        z: (H, W) proxy height field (face widths, toward the camera).
        subject: (H, W) subject matte.
        surface_normals: (H, W, 3) normals of the subject; from ``z`` when None.
        frame: the face's landmark frame.
        params: the sampled flash parameters.

    Returns:
        The per-pixel flash light.
    """
    h, w = z.shape
    wcm = params.face_width_cm
    dist = params.distance_cm
    focal = frame.width * dist / wcm  # pixels: the face's width in pixels at the nose distance
    z_front = float(z[subject > 0.5].max()) if (subject > 0.5).any() else float(z.max())
    d_subject = (dist + (z_front - z) * wcm).astype(np.float32)
    d_back = np.float32(dist + params.background_cm)

    angle = math.radians(params.flash_angle_deg)
    fx, fy = params.flash_offset_cm * math.cos(angle), params.flash_offset_cm * math.sin(angle)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    # Image-plane position per unit depth; a point at depth d sits at (sx·d, sy·d, d).
    sx, sy = (xs - (w - 1) / 2) / focal, (ys - (h - 1) / 2) / focal

    # Person and backdrop are lit separately and mixed by the matte: a soft matte
    # edge is a mix of two surfaces, not a surface at an in-between depth.
    n = normals(z, frame.width) if surface_normals is None else surface_normals
    nx, ny, nz = n[..., 0], n[..., 1], n[..., 2]
    px, py = sx * d_subject, sy * d_subject
    lx, ly, lz = fx - px, fy - py, d_subject
    r2 = lx * lx + ly * ly + lz * lz
    r = np.sqrt(r2)
    cos_l = (nx * lx + ny * ly + nz * lz) / r
    # Inverse square, times the LED's beam pattern around the view axis.
    if params.with_falloff:
        falloff = (dist * dist) / r2 * (lz / r) ** np.float32(params.beam)
    else:
        falloff = np.ones_like(r2)
    diffuse_subject = np.clip(cos_l, 0.0, None) * falloff

    vnorm = d_subject * np.sqrt(sx * sx + sy * sy + 1.0)
    hx, hy, hz = lx / r - px / vnorm, ly / r - py / vnorm, lz / r + d_subject / vnorm
    hn = np.sqrt(hx * hx + hy * hy + hz * hz)
    cos_h = np.clip((nx * hx + ny * hy + nz * hz) / hn, 0.0, 1.0)
    lobe = cos_h ** np.float32(params.shininess) * falloff * (cos_l > 0) * subject

    # The backdrop: a wall facing the camera.
    bx, by = fx - sx * d_back, fy - sy * d_back
    r2_back = bx * bx + by * by + d_back * d_back
    cos_back = d_back / np.sqrt(r2_back)
    if params.with_falloff:
        diffuse_back = cos_back ** np.float32(1.0 + params.beam) * (dist * dist) / r2_back
    else:
        diffuse_back = np.ones_like(r2_back)
    diffuse = subject * diffuse_subject + (1.0 - subject) * diffuse_back

    # Shadows need the depth edge where the silhouette is, not smeared by the soft matte.
    hard = subject > 0.5
    depth = np.where(hard, d_subject, d_back)
    if params.with_shadows:
        vis = visibility(
            (1.0 / depth).astype(np.float32),
            focal * params.flash_offset_cm,
            angle,
            params.flash_size_cm / params.flash_offset_cm,
        )
    else:
        vis = np.ones_like(depth, dtype=np.float32)
    return FlashLight(
        diffuse.astype(np.float32),
        lobe.astype(np.float32),
        vis,
        depth.astype(np.float32),
        n.astype(np.float32),
    )
