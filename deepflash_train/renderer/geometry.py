"""A smooth 3-D head proxy anchored on the 68 face landmarks.

The proxy is a height field ``z`` over the image, in face widths, pointing toward
the camera: an ellipsoid for the skull and face, a ridge for the nose, small
Gaussian reliefs (brows, eye sockets, cheekbones, lips, chin), a soft bulge for the
neck and a low dome over the rest of the subject matte (shoulders, clothes). It is
coarse on purpose: a flash light on the view axis only needs where the surface
turns away from the camera and how far it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

# Jaw points (indices into the 17 "chin" landmarks) of the face outline.
_JAW_LEFT, _JAW_RIGHT, _CHIN = 0, 16, 8
# The crown lies this many face widths above the eyes (adult head proportions).
_CROWN_ABOVE_EYES = 0.78
# How much larger than the skull the head proxy is, for the hair's volume.
_HAIR_VOLUME = 1.15
# Neck bulge, and the body's matte dome: base at the matte edge and rise (face widths).
_NECK_FRONT = 0.15
_BODY_BASE = -0.35
_BODY_DOME = 0.3


class HasLandmarks(Protocol):
    """Anything with face_recognition's 68-point landmark groups (e.g. ``faces.Face``)."""

    landmarks: Mapping[str, Sequence[tuple[float, float]]]


@dataclass(frozen=True)
class FaceFrame:
    """Face-aligned measures derived from the landmarks (pixels of the image).

    Attributes:
        landmarks: each 68-point group as a float32 (N, 2) array of (x, y).
        width: face width in pixels (jaw end to jaw end).
        origin: midpoint between the eye centres.
        right: unit vector from the image-left eye to the image-right eye.
        down: unit vector down the face (perpendicular to ``right``).
    """

    landmarks: dict[str, np.ndarray]
    width: float
    origin: np.ndarray
    right: np.ndarray
    down: np.ndarray

    @classmethod
    def from_face(cls, face: HasLandmarks) -> FaceFrame:
        """Measure a face from its landmark groups."""
        marks = {k: np.asarray(v, dtype=np.float32).reshape(-1, 2) for k, v in face.landmarks.items()}
        jaw = marks["chin"]
        eye_l = marks["left_eye"].mean(axis=0)
        eye_r = marks["right_eye"].mean(axis=0)
        right = eye_r - eye_l
        right = right / max(float(np.linalg.norm(right)), 1e-6)
        down = np.array([-right[1], right[0]], dtype=np.float32)
        width = float(np.linalg.norm(jaw[_JAW_RIGHT] - jaw[_JAW_LEFT]))
        return cls(marks, max(width, 4.0), (eye_l + eye_r) / 2, right, down)

    def resized(self, sx: float, sy: float) -> FaceFrame:
        """The same face in an image resized by ``sx`` × ``sy`` (pixel centres kept aligned)."""
        scale = np.array([sx, sy], np.float32)

        class _Scaled:
            landmarks = {k: (v + 0.5) * scale - 0.5 for k, v in self.landmarks.items()}

        return FaceFrame.from_face(_Scaled())

    def to_face(self, points: np.ndarray) -> np.ndarray:
        """Image (x, y) points to face coordinates (u right, v down) in face widths."""
        d = np.asarray(points, dtype=np.float32) - self.origin
        return np.stack([d @ self.right, d @ self.down], axis=-1) / self.width

    def grid(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Face coordinates (u, v) of every pixel centre, each (H, W) float32."""
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        dx, dy = xs - self.origin[0], ys - self.origin[1]
        u = (dx * self.right[0] + dy * self.right[1]) / self.width
        v = (dx * self.down[0] + dy * self.down[1]) / self.width
        return u, v

    def centre(self, group: str, index: int | None = None) -> np.ndarray:
        """Face coordinates of one landmark (or of a group's mean)."""
        pts = self.landmarks[group]
        p = pts.mean(axis=0) if index is None else pts[index]
        return self.to_face(p[None])[0]

    def jaw_polygon(self) -> np.ndarray:
        """Image polygon of the face: jaw line closed over the forehead, int32 (N, 2)."""
        jaw = self.landmarks["chin"]
        top = self.origin - self.down * (_CROWN_ABOVE_EYES * 0.55 * self.width)
        half = self.right * (0.36 * self.width)
        return np.round(np.vstack([jaw, top + half, top - half])).astype(np.int32)


@dataclass(frozen=True)
class ProxyParts:
    """The pieces of the subject's height field, composed per render by :meth:`surface`.

    Attributes:
        ellipsoid: (H, W) unit-depth head ellipsoid (face widths toward the camera).
        nose: (H, W) nose ridge of unit tip height.
        relief: (H, W) facial relief at unit scale.
        jaw_drop: (H, W) how far the head falls below the jaw line (the underside of the chin).
        edge_cap: (H, W) highest the head may rise near the matte's edge (rounds the silhouette).
        head_mask: (H, W) where the head stands out of the rest (forehead to jaw line), in [0, 1].
        rest: (H, W) height of everything else: neck and the matte's body dome.
        subject: (H, W) soft subject matte in [0, 1] (person vs backdrop).
        smooth_px: blur that rounds the seams between the pieces, in pixels.
        width_px: face width in pixels.
        nose_tip: (x, y) pixel position of the nose tip.
    """

    ellipsoid: np.ndarray
    nose: np.ndarray
    relief: np.ndarray
    jaw_drop: np.ndarray
    edge_cap: np.ndarray
    head_mask: np.ndarray
    rest: np.ndarray
    subject: np.ndarray
    smooth_px: float
    width_px: float
    nose_tip: tuple[float, float]

    def surface(self, head_depth: float, nose_height: float, relief: float) -> tuple[np.ndarray, np.ndarray]:
        """The composed height field and its shading normals.

        Args:
            head_depth: depth semi-axis of the ellipsoid over its half width.
            nose_height: nose tip protrusion in face widths.
            relief: scale of the smaller facial relief.

        Returns:
            ``(z, n)``: (H, W) float32 height in face widths toward the camera, and
            (H, W, 3) unit normals. The normals come from the head and from the rest
            separately, switched at the seam: the seam is a depth step (chin over neck),
            not a surface the camera sees, so it must not shade as a black band.
        """
        head = head_depth * self.ellipsoid + nose_height * self.nose + relief * self.relief
        head = -_soft_max(-head, -self.edge_cap, 0.04)
        z = cv2.GaussianBlur(_soft_max(head - self.jaw_drop, self.rest, 0.03), (0, 0), self.smooth_px)
        on_head = np.clip((head - self.jaw_drop - self.rest) / 0.02 + 0.5, 0.0, 1.0)
        n_head = normals(cv2.GaussianBlur(head, (0, 0), self.smooth_px), self.width_px)
        n_rest = normals(cv2.GaussianBlur(self.rest, (0, 0), self.smooth_px), self.width_px)
        n = on_head[..., None] * n_head + (1.0 - on_head[..., None]) * n_rest
        n /= np.sqrt((n * n).sum(axis=-1, keepdims=True))
        return z, n.astype(np.float32)

    def height(self, head_depth: float, nose_height: float, relief: float) -> np.ndarray:
        """The composed height field (H, W) float32, in face widths toward the camera."""
        return self.surface(head_depth, nose_height, relief)[0]


def _soft_max(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """A maximum with a rounded seam (no crease, hence no line in the shading)."""
    return (np.maximum(a, b) + k * np.log1p(np.exp(-np.abs(a - b) / k))).astype(np.float32)


def add_gaussian(
    out: np.ndarray,
    frame: FaceFrame,
    u: np.ndarray,
    v: np.ndarray,
    centre: np.ndarray,
    su: float,
    sv: float,
    amplitude: float = 1.0,
    combine: str = "add",
) -> None:
    """Add (or max) an axis-aligned Gaussian bump in face coordinates into ``out``, in place.

    Only the pixels within 3.5 σ are touched: a face has a dozen such bumps and
    evaluating each over the whole image dominated the per-portrait cost.

    Args:
        out: (H, W) float32 map.
        frame: the face frame ``u`` and ``v`` come from.
        u, v: face coordinates of every pixel (``frame.grid``).
        centre: (u, v) of the bump, face widths.
        su, sv: its widths along u and v, face widths.
        amplitude: its height.
        combine: "add" or "max".
    """
    h, w = out.shape
    c_px = frame.origin + frame.width * (centre[0] * frame.right + centre[1] * frame.down)
    reach = 3.5 * max(su, sv) * frame.width + 1
    x0, x1 = max(int(c_px[0] - reach), 0), min(int(c_px[0] + reach) + 1, w)
    y0, y1 = max(int(c_px[1] - reach), 0), min(int(c_px[1] + reach) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    uu, vv = u[y0:y1, x0:x1], v[y0:y1, x0:x1]
    bump = amplitude * np.exp(-0.5 * (((uu - centre[0]) / su) ** 2 + ((vv - centre[1]) / sv) ** 2))
    window = out[y0:y1, x0:x1]
    if combine == "max":
        np.maximum(window, bump, out=window)
    else:
        window += bump


def _nose_ridge(frame: FaceFrame, u: np.ndarray, v: np.ndarray, height: float) -> np.ndarray:
    """Height of a nose ridge from the root (between the eyes) to the tip.

    The ridge rises linearly along the bridge and widens toward the tip; past the tip
    it drops within a few millimetres, which is what makes the hard shadow under it.
    """
    root = frame.centre("nose_bridge", 0)
    tip = frame.centre("nose_bridge", -1)
    axis = tip - root
    length = max(float(np.linalg.norm(axis)), 1e-3)
    axis = axis / length
    du, dv = u - root[0], v - root[1]
    s = (du * axis[0] + dv * axis[1]) / length
    perp = du * -axis[1] + dv * axis[0]
    sc = np.clip(s, 0.0, 1.0)
    profile = height * (0.15 + 0.85 * sc)
    sigma = 0.035 + 0.035 * sc
    beyond = np.where(s > 1.0, (s - 1.0) * length / 0.035, 0.0) + np.where(s < 0.0, -s * 3.0, 0.0)
    ridge = profile * np.exp(-0.5 * (perp / sigma) ** 2 - 0.5 * beyond**2)
    ridge = ridge.astype(np.float32)
    # Nostril wings beside the base of the nose.
    for i in (0, 4):
        add_gaussian(ridge, frame, u, v, frame.centre("nose_tip", i), 0.04, 0.03, 0.25 * height)
    return ridge


def _relief(frame: FaceFrame, u: np.ndarray, v: np.ndarray, scale: float) -> np.ndarray:
    """Brows, eye sockets, cheekbones, lips and chin as Gaussian bumps (face widths)."""
    r = np.zeros(u.shape, np.float32)
    for side, sign in (("left", -1.0), ("right", 1.0)):
        eye = frame.centre(f"{side}_eye")
        brow = frame.centre(f"{side}_eyebrow")
        add_gaussian(r, frame, u, v, brow + (0.0, -0.02), 0.09, 0.05, 0.03 * scale)
        add_gaussian(r, frame, u, v, eye, 0.08, 0.06, -0.045 * scale)
        add_gaussian(r, frame, u, v, eye + (sign * 0.05, 0.2), 0.09, 0.08, 0.05 * scale)
    mouth = (frame.centre("top_lip") + frame.centre("bottom_lip")) / 2
    add_gaussian(r, frame, u, v, mouth, 0.13, 0.05, 0.035 * scale)
    chin = frame.centre("chin", _CHIN)
    add_gaussian(r, frame, u, v, chin + (0.0, -0.08), 0.1, 0.07, 0.04 * scale)
    return r


def build_proxy(frame: FaceFrame, matte: np.ndarray) -> ProxyParts:
    """Height-field pieces of the head, neck and body for one face.

    Args:
        frame: the face's landmark frame.
        matte: (H, W) float32 subject matte in [0, 1].

    Returns:
        The pieces; :meth:`ProxyParts.surface` composes them with the sampled shape.
    """
    h, w = matte.shape
    u, v = frame.grid(h, w)
    jaw = frame.to_face(frame.landmarks["chin"])
    chin_v = float(jaw[_CHIN, 1])
    # Ellipsoid from above the crown to a little below the chin (so the chin still
    # protrudes), wider than the jaw: hair continues the head's volume, and where the
    # person ends sooner the matte's edge rounds the head off (``edge_cap``).
    top, bottom = -_CROWN_ABOVE_EYES * _HAIR_VOLUME, chin_v * 1.25
    vc, b = (top + bottom) / 2, (bottom - top) / 2
    half_jaw = 0.5 * float(np.linalg.norm(jaw[_JAW_RIGHT] - jaw[_JAW_LEFT]))
    a = half_jaw * 1.04 * _HAIR_VOLUME
    uc = float(jaw[[_JAW_LEFT, _JAW_RIGHT], 0].mean())
    inside = 1.0 - ((u - uc) / a) ** 2 - ((v - vc) / b) ** 2
    # A rounded ellipsoid whose slope stays finite at the rim, continued outside it
    # more gently: the proxy's rim is rarely the real silhouette (hair and beards
    # continue it), so it must merge into the rest of the person, not turn black.
    rim = 0.5
    norm = half_jaw / (np.sqrt(1 + rim * rim) - rim)
    rim_slope = norm / (2 * rim)  # d height / d inside at the rim
    outside = np.minimum(inside, 0.0)
    ellipsoid = np.where(
        inside > 0,
        norm * (np.sqrt(np.clip(inside, 0.0, None) + rim * rim) - rim),
        # same slope at the rim, easing to 0.4 of it: no crease, no black band
        rim_slope * (0.4 * outside + 0.06 * (np.exp(outside / 0.1) - 1.0)),
    )
    # The face ends at the jaw line: below it the head falls away to the neck as a
    # near cliff, since a frontal camera barely sees the chin's underside. Beside
    # the jaw's span (ears, hair) nothing drops.
    order = np.argsort(jaw[:, 0])
    jaw_v = np.interp(u, jaw[order, 0], jaw[order, 1]).astype(np.float32)
    below = np.clip(v - jaw_v, 0.0, None)
    span = np.clip(np.minimum(u - jaw[:, 0].min(), jaw[:, 0].max() - u) / 0.05, 0.0, 1.0)
    jaw_drop = 30.0 * below * span

    # The person: the matte, and always the face itself whatever GrabCut said.
    face_poly = np.zeros((h, w), np.uint8)
    cv2.fillPoly(face_poly, [cv2.convexHull(frame.jaw_polygon())], 1)
    subject = np.maximum(matte, face_poly.astype(np.float32))
    dist = cv2.distanceTransform((subject > 0.5).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    dist = cv2.GaussianBlur(dist, (0, 0), 0.02 * frame.width) / frame.width
    # Where the matte ends inside the ellipsoid (a crown against the backdrop), the
    # head rounds off toward the matte's edge like a sphere of half a face width
    # (z ≈ sqrt(2 R d)): that is its silhouette, at the depth of the head's centre.
    edge_cap = -0.05 + 1.4 * np.sqrt(dist)
    # Everything but the head: a dome over the matte (shoulders, clothes) with a soft
    # neck in front of it under the chin.
    body = _BODY_BASE + _BODY_DOME * np.sqrt(np.clip(dist / 0.4, 0.0, 1.0))
    neck = _NECK_FRONT * np.exp(-0.5 * ((u - uc) / 0.2) ** 2) * np.clip((v - 0.3) / 0.15, 0.0, 1.0)
    rest = (body + neck).astype(np.float32)
    nose = _nose_ridge(frame, u, v, 1.0)
    relief_map = _relief(frame, u, v, 1.0).astype(np.float32)
    head = -_soft_max(-(ellipsoid + 0.17 * nose + relief_map - jaw_drop), -edge_cap, 0.04)
    head_mask = (np.clip((head - rest) / 0.05, 0.0, 1.0) * subject).astype(np.float32)

    tip = frame.landmarks["nose_bridge"][-1]
    return ProxyParts(
        ellipsoid=ellipsoid.astype(np.float32),
        edge_cap=edge_cap.astype(np.float32),
        nose=nose,
        relief=relief_map,
        jaw_drop=jaw_drop.astype(np.float32),
        head_mask=head_mask,
        rest=rest,
        subject=subject,
        smooth_px=max(0.004 * frame.width, 0.5),
        width_px=frame.width,
        nose_tip=(float(tip[0]), float(tip[1])),
    )


def normals(z: np.ndarray, face_width_px: float, max_slope: float = 3.0) -> np.ndarray:
    """Unit surface normals of a height field.

    Slopes steeper than ``max_slope`` are depth discontinuities (a chin over the
    neck), not surfaces the camera sees; their pixels mix the front and back
    surfaces, so the tilt is limited instead of going black.

    Args:
        z: (H, W) height toward the camera, in face widths.
        face_width_px: pixels per face width.
        max_slope: steepest slope kept (3 = 72° from the view axis).

    Returns:
        (H, W, 3) float32 normals (x right, y down, z toward the camera).
    """
    gy, gx = np.gradient(z * np.float32(face_width_px))
    slope = np.sqrt(gx * gx + gy * gy)
    limit = np.minimum(1.0, max_slope / np.maximum(slope, 1e-6))
    gx, gy = gx * limit, gy * limit
    inv_len = 1.0 / np.sqrt(gx * gx + gy * gy + 1.0)
    return np.stack([-gx * inv_len, -gy * inv_len, inv_len], axis=-1).astype(np.float32)


def subject_matte(studio: np.ndarray, face: HasLandmarks, *, size: int = 96) -> np.ndarray:
    """Soft person/backdrop matte by GrabCut seeded from the landmarks and the border.

    The face polygon and the neck are sure foreground, the region under the chin
    probable foreground (shoulders), the top border and the sides above the chin
    sure background.
    GrabCut runs at ``size`` pixels on the longer side and the matte is scaled back.

    Args:
        studio: (H, W, 3) float32 image in [0, 1].
        face: its landmarks.
        size: working resolution (longer side) of GrabCut.

    Returns:
        (H, W) float32 matte in [0, 1].
    """
    h, w = studio.shape[:2]
    scale = min(1.0, size / max(h, w))
    sw, sh = max(int(round(w * scale)), 8), max(int(round(h * scale)), 8)
    small = cv2.resize((np.clip(studio, 0, 1) * 255).astype(np.uint8), (sw, sh), interpolation=cv2.INTER_AREA)
    frame = FaceFrame.from_face(face)
    u, v = frame.grid(h, w)
    u = cv2.resize(u, (sw, sh), interpolation=cv2.INTER_LINEAR)
    v = cv2.resize(v, (sw, sh), interpolation=cv2.INTER_LINEAR)

    chin_v = float(frame.to_face(frame.landmarks["chin"][_CHIN][None])[0, 1])
    below = v - chin_v
    mask = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    # Head ellipse and the body below the face: probably the person.
    head = (u / 0.6) ** 2 + ((v + 0.1) / 0.95) ** 2 < 1.0
    body = below > -0.1  # GrabCut carves the backdrop out of it by its colour
    mask[head | body] = cv2.GC_PR_FGD
    border = np.zeros((sh, sw), bool)
    b = max(1, sw // 48)
    border[:b, :] = True
    border[:, :b] = True
    border[:, -b:] = True
    # Below the chin the frame's sides are as often shoulders as backdrop.
    border &= below < -0.1
    mask[border & ~head] = cv2.GC_BGD
    poly = np.round(frame.jaw_polygon() * scale).astype(np.int32)
    sure = np.zeros((sh, sw), np.uint8)
    cv2.fillPoly(sure, [cv2.convexHull(poly)], 1)
    sure = cv2.erode(sure, np.ones((3, 3), np.uint8))
    # Neck and chest under the chin are the person whatever their colour (a white
    # shirt before a white wall defeats the colour models).
    # Shoulders are 2.5–3 face widths wide: they widen fast from the neck down.
    sure[(below > 0.0) & (np.abs(u) < 0.22 + 2.0 * np.clip(below - 0.15, 0.0, None))] = 1
    mask[sure > 0] = cv2.GC_FGD

    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if (mask == cv2.GC_BGD).sum() >= 8 and fg.sum() >= 8:
        cv2.setRNGSeed(0x5EED)  # GrabCut's k-means start uses OpenCV's global generator
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(small, mask, None, bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            pass  # degenerate colour models: keep the seeds as the matte
    binary = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    # Keep only the blob connected to the face: GrabCut may pick up backdrop specks.
    n, labels = cv2.connectedComponents((binary > 0).astype(np.uint8), connectivity=4)
    if n > 2:
        keep = np.unique(labels[sure > 0])
        keep = keep[keep > 0]
        binary = np.isin(labels, keep).astype(np.float32)
    matte = cv2.resize(binary, (w, h), interpolation=cv2.INTER_LINEAR)
    matte = cv2.GaussianBlur(matte, (0, 0), max(0.5, 0.6 / scale))
    # Snap the coarse edge to the image's own edges.
    grey = cv2.cvtColor(np.clip(studio, 0, 1).astype(np.float32), cv2.COLOR_RGB2GRAY)
    refined = guided_filter(grey, matte, radius=max(2, int(round(1.5 / scale))), eps=2e-3)
    return np.clip((refined - 0.5) * 1.5 + 0.5, 0.0, 1.0).astype(np.float32)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter (grey guide): smooths ``src`` while following ``guide``'s edges."""
    size = (2 * radius + 1, 2 * radius + 1)

    def mean(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, size, borderType=cv2.BORDER_REFLECT)

    mean_g, mean_s = mean(guide), mean(src)
    var_g = mean(guide * guide) - mean_g * mean_g
    cov = mean(guide * src) - mean_g * mean_s
    a = cov / (var_g + eps)
    b = mean_s - a * mean_g
    return mean(a) * guide + mean(b)
