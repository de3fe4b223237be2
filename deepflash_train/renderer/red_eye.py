"""Red-eye as real phone-flash photos show it, drawn over a finished (flash) render.

The flash lights the retina through the pupil; what the camera records depends on the angle,
the pupil and what is in front of it. Each *kind* is one way real photos show it:

- ``red``: a saturated red disc (the eye looks straight into the lens);
- ``amber``: an orange to golden glow (the eye looks a little off-axis);
- ``pale_core``: a golden glow with a pale, near-white centre (a bright, overexposed retina);
- ``ring``: a partial glow, a red-orange ring or crescent around a dark centre;
- ``lens``: red seen through an eyeglass lens: the lens tints and dims the eye region, mirrors a
  haze and some room reflections over it, and a frame with a bridge is drawn;
- ``far_eye``: the far eye of a three-quarter view. The renderer cannot turn a head, so the eye
  region is squeezed around the iris (foreshortening), its inner corner partly covered by skin
  (the nose line) and the eye handed to the stage with its iris centre and radius off by a little
  (the mesh's iris is less sure there; :func:`unsure_eye`).

Every kind can be drawn without the glow (``glow=False``): the same tint, lens, squeeze, blur and
JPEG over normal eyes, the cases the stage must leave alone. After the glow the whole image gets a
linear motion blur and a second JPEG round trip (a phone photo saved again).

The glow works in linear light with its level relative to the skin around the eye, so it looks
the same whatever the render's exposure. Each pupil is the iris circle the caller gives (the
face mesh on the studio portrait) times a pupil fraction. The returned ``glow`` map is where the
glow ends up (after squeeze and blur): what a fix must darken.

Every range is a field of :class:`RedEyeParams` (``ranged``, with ``shift`` ranges that tuning
never draws from: ``benchmarks/bench_redeye.py --shift``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from deepflash_core.detection.face_mesh import Eye
from deepflash_train.renderer.camera import jpeg
from deepflash_train.renderer.params import ranged, sample_fields
from deepflash_train.renderer.shading import LUMA, linear_to_srgb, srgb_to_linear

KINDS = ("red", "amber", "pale_core", "ring", "lens", "far_eye")


@dataclass(frozen=True)
class RedEyeParams:
    """One draw of the red-eye look (fields in the order they are drawn).

    Attributes:
        pupil: pupil radius over iris radius, 0.45–0.8 (dilated in a dim room; shift 0.3–0.45).
        brightness: linear luminance of the glow over the skin's around the eye, 0.4–1.2
            (shift 0.25–0.4, a faint glow).
        red_hue: hue of the red kinds (``red``, ``lens``, ``ring``), 0 (deep red) – 0.25 (red-orange).
        amber_hue: hue of the amber kinds, 0.35 (orange) – 1 (golden); shift 0.25–0.35.
        core: radius of the pale centre over the pupil's, 0.3–0.7 (``pale_core``).
        core_gain: how much brighter than the glow the pale centre is, 1.5–3.
        ring_inner: radius of a ring glow's dark centre over the pupil's, 0.35–0.7 (shift 0.7–0.8).
        crescent: how much a ring glow is one-sided, 0–1.
        lens_transmission: light a lens lets through, 0.55–0.95 (shift 0.4–0.55).
        lens_tint: strength of the lens's colour (grey, brown, green or blue), 0–0.25.
        lens_haze: veiling reflection on the lens, 0.02–0.15 of the skin's luminance (shift 0.15–0.25).
        lens_desaturate: how much of a glow's colour the lens's coatings and haze wash out, 0–0.5.
        reflections: brightness of room reflections on the lens, 0–0.6 of the skin's luminance.
        far_scale: width of the far eye over its own, 0.55–0.85 (shift 0.45–0.55).
        occlusion: share of the far eye's width hidden from the inner corner, 0–0.2 (shift 0.2–0.28).
        mesh_error: how far the stage's iris centre is off for the far eye, 0–0.3 iris radii;
            its radius is off by up to the same share (shift 0.3–0.4).
        blur_px: length of a linear motion blur, 0–2.5 px at a 512 px face crop (shift 2.5–4).
        jpeg_quality: quality of the second JPEG round trip, 60–95 (shift 40–60).
    """

    pupil: float = ranged(0.45, 0.8, shift=(0.3, 0.45))
    brightness: float = ranged(0.4, 1.2, shift=(0.25, 0.4))
    red_hue: float = ranged(0.0, 0.25)
    amber_hue: float = ranged(0.35, 1.0, shift=(0.25, 0.35))
    core: float = ranged(0.3, 0.7)
    core_gain: float = ranged(1.5, 3.0)
    ring_inner: float = ranged(0.35, 0.7, shift=(0.7, 0.8))
    crescent: float = ranged(0.0, 1.0)
    lens_transmission: float = ranged(0.55, 0.95, shift=(0.4, 0.55))
    lens_tint: float = ranged(0.0, 0.25)
    lens_haze: float = ranged(0.02, 0.15, shift=(0.15, 0.25))
    lens_desaturate: float = ranged(0.0, 0.5)
    reflections: float = ranged(0.0, 0.6)
    far_scale: float = ranged(0.55, 0.85, shift=(0.45, 0.55))
    occlusion: float = ranged(0.0, 0.2, shift=(0.2, 0.28))
    mesh_error: float = ranged(0.0, 0.3, shift=(0.3, 0.4))
    blur_px: float = ranged(0.0, 2.5, shift=(2.5, 4.0))
    jpeg_quality: int = ranged(60, 95, integer=True, shift=(40, 60))

    @classmethod
    def sample(cls, rng: np.random.Generator, shift: bool = False) -> RedEyeParams:
        """Draw every field in declaration order (``shift``: the shift ranges where declared)."""
        return cls(**sample_fields(cls, rng, shift))


@dataclass(frozen=True)
class RedEyeRender:
    """A render with red-eye of one kind.

    Attributes:
        image: (H, W, 3) float32 sRGB in [0, 1].
        glow: (H, W) float32 in [0, 1], where the pupils glow (0 everywhere with ``glow=False``).
        eyes: the eyes as the stage should be handed them (the far eye moved and unsure).
        far: index of the far eye in ``eyes`` (``far_eye`` kind), else None.
    """

    image: np.ndarray
    glow: np.ndarray
    eyes: list[Eye]
    far: int | None = None


def glow_colour(hue: float) -> np.ndarray:
    """Linear RGB of a glowing retina, unit luminance: 0 deep red, 0.35 orange, 1 golden."""
    colour = np.array([1.0, 0.03 + 0.5 * hue, 0.02 + 0.08 * hue], np.float32)
    return colour / float(colour @ LUMA)


def draw_red_eye(image: np.ndarray, eyes: list[Eye], kind: str, rng: np.random.Generator,
                 params: RedEyeParams | None = None, glow: bool = True, shift: bool = False) -> RedEyeRender:
    """Draw one kind of red-eye (or, with ``glow=False``, only its setting) over a render.

    Args:
        image: (H, W, 3) float32 sRGB in [0, 1], a flash render (not changed).
        eyes: the portrait's eyes (iris centre and radius, eyelid polygon), in its pixels.
        kind: one of :data:`KINDS`.
        rng: source of every random choice (the parameters first, when not given).
        params: fixed parameters instead of sampled ones.
        glow: False draws the kind's setting over normal eyes.
        shift: sample the shift ranges (held out of tuning).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown red-eye kind {kind!r}; expected one of {', '.join(KINDS)}")
    p = RedEyeParams.sample(rng, shift) if params is None else params
    linear = srgb_to_linear(np.clip(image, 0.0, 1.0)).astype(np.float32)
    glow_map = np.zeros(image.shape[:2], np.float32)
    angle = float(rng.uniform(0.0, 2.0 * math.pi))
    far = int(rng.integers(len(eyes))) if eyes else None
    for eye in eyes:
        skin = _skin_level(linear, eye)
        if glow:
            _glow(linear, glow_map, eye, kind, p, skin, angle)
        if kind == "lens":
            _lens(linear, eye, p, skin, rng)
    if kind == "lens" and len(eyes) == 2:
        _bridge(linear, eyes)
    out_eyes = list(eyes)
    if kind == "far_eye" and far is not None:
        linear, glow_map, out_eyes[far] = _far_eye(linear, glow_map, eyes, far, p, rng)
    else:
        far = None
    linear, glow_map = _motion_blur(linear, glow_map, p.blur_px * image.shape[0] / 512, float(rng.uniform(0, math.pi)))
    srgb = jpeg(linear_to_srgb(np.clip(linear, 0.0, 1.0)), p.jpeg_quality)
    return RedEyeRender(srgb.astype(np.float32), np.clip(glow_map, 0.0, 1.0), out_eyes, far)


def unsure_eye(eye: Eye, error: float, rng: np.random.Generator) -> Eye:
    """The eye as a less sure mesh gives it: centre off by ``error`` iris radii, radius by up to that share."""
    direction = rng.uniform(0.0, 2.0 * math.pi)
    shift = error * eye.radius * np.array([math.cos(direction), math.sin(direction)])
    radius = eye.radius * (1.0 + error * float(rng.uniform(-1.0, 1.0)))
    return replace(eye, centre=(eye.centre[0] + float(shift[0]), eye.centre[1] + float(shift[1])), radius=radius)


def _skin_level(linear: np.ndarray, eye: Eye) -> float:
    """Median linear luminance of a box below the eye (cheek skin), the glow's reference."""
    cx, cy = eye.centre
    r = eye.radius
    h, w = linear.shape[:2]
    y0, y1 = int(min(max(cy + 3 * r, 0), h - 1)), int(min(max(cy + 5 * r, 1), h))
    x0, x1 = int(min(max(cx - 2 * r, 0), w - 1)), int(min(max(cx + 2 * r, 1), w))
    patch = linear[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)] @ LUMA
    return float(np.median(patch)) if patch.size else 0.3


def _disc_alpha(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased disc coverage and each pixel's distance from the centre."""
    ys, xs = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    distance = np.hypot(xs - centre[0], ys - centre[1])
    return np.clip(radius - distance + 0.5, 0.0, 1.0), distance


def _opening(shape: tuple[int, int], eye: Eye) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(eye.opening * 16).astype(np.int32)], 1, shift=4)
    return mask.astype(np.float32)


def _glow(linear: np.ndarray, glow_map: np.ndarray, eye: Eye, kind: str, p: RedEyeParams, skin: float, angle: float) -> None:
    """Replace the pupil by the lit retina, in place; the catchlight over it is kept."""
    radius = max(p.pupil * eye.radius, 1.0)
    alpha, distance = _disc_alpha(linear.shape[:2], eye.centre, radius)
    alpha *= _opening(linear.shape[:2], eye)
    hue = p.amber_hue if kind in ("amber", "pale_core") else p.red_hue
    if kind == "far_eye":  # the far eye is seen off-axis: any hue
        hue = p.red_hue + (p.amber_hue - p.red_hue) * p.crescent
    level = p.brightness * skin * (0.8 + 0.2 * (1.0 - (distance / radius) ** 2))
    colour = level[..., None] * glow_colour(hue)
    if kind == "pale_core":
        core = np.clip((p.core * radius - distance) / max(0.25 * radius, 1.0) + 0.5, 0.0, 1.0)[..., None]
        pale = np.array([1.0, 0.85, 0.6], np.float32) * p.brightness * p.core_gain * skin
        colour = colour * (1.0 - core) + pale * core
    if kind == "lens":  # coatings and the lens's haze wash the red out
        grey = (colour @ LUMA)[..., None]
        colour = colour + p.lens_desaturate * (grey - colour)
    if kind == "ring":
        ys, xs = np.mgrid[: linear.shape[0], : linear.shape[1]].astype(np.float32)
        side = np.cos(np.arctan2(ys - eye.centre[1], xs - eye.centre[0]) - angle)
        ring = np.clip((distance - p.ring_inner * radius) / max(0.15 * radius, 0.7), 0.0, 1.0)
        ring *= 1.0 - p.crescent * 0.5 * (1.0 - side)
        dark = np.full(3, 0.01 * skin, np.float32)
        colour = dark + ring[..., None] * (colour - dark)
    # The flash's reflection on the cornea lies over the pupil: bright, near-white pixels stay.
    catch = np.clip((linear.min(axis=-1) - 0.35) / 0.25, 0.0, 1.0)
    a = (alpha * (1.0 - catch))[..., None]
    linear[...] = linear * (1.0 - a) + colour * a
    strength = ring if kind == "ring" else 1.0
    glow_map[...] = np.maximum(glow_map, alpha * (1.0 - catch) * strength)


def _lens(linear: np.ndarray, eye: Eye, p: RedEyeParams, skin: float, rng: np.random.Generator) -> None:
    """A lens over the eye: tint and dimming, a veiling haze, room reflections and a frame."""
    width = max(eye.width, 4.0)
    h, w = linear.shape[:2]
    axes = (0.8 * width, 0.62 * width)
    centre = (eye.centre[0], eye.centre[1] - 0.05 * width)
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (round(centre[0] * 16), round(centre[1] * 16)), (round(axes[0] * 16), round(axes[1] * 16)), 0, 0, 360, 1.0, -1, cv2.LINE_AA, 4)
    tints = np.array([[1.0, 1.0, 1.0], [1.0, 0.8, 0.6], [0.8, 1.0, 0.8], [0.8, 0.9, 1.1]], np.float32)
    tint = 1.0 + p.lens_tint * (tints[int(rng.integers(len(tints)))] - 1.0) / 0.4
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    tilt = rng.uniform(-1.0, 1.0, 2)
    haze = p.lens_haze * skin * (1.0 + 0.5 * (tilt[0] * (xs - centre[0]) + tilt[1] * (ys - centre[1])) / width)
    for _ in range(int(rng.integers(1, 4))):  # soft streaks: a window, a lamp, the room
        spot = np.array(centre) + rng.uniform(-0.6, 0.6, 2) * np.array(axes)
        long, short = width * rng.uniform(0.08, 0.35), width * rng.uniform(0.03, 0.1)
        theta = rng.uniform(0.0, math.pi)
        u = ((xs - spot[0]) * math.cos(theta) + (ys - spot[1]) * math.sin(theta)) / long
        v = (-(xs - spot[0]) * math.sin(theta) + (ys - spot[1]) * math.cos(theta)) / short
        haze = haze + p.reflections * skin * rng.uniform(0.3, 1.0) * np.exp(-(u * u + v * v))
    lensed = linear * (p.lens_transmission * tint) + np.maximum(haze, 0.0)[..., None]
    m = mask[..., None]
    linear[...] = linear * (1.0 - m) + lensed * m
    rim = np.zeros((h, w), np.float32)
    cv2.ellipse(rim, (round(centre[0] * 16), round(centre[1] * 16)), (round(axes[0] * 16), round(axes[1] * 16)), 0, 0, 360, 1.0, max(round(0.04 * width), 1), cv2.LINE_AA, 4)
    linear[...] = linear * (1.0 - 0.85 * rim[..., None])


def _bridge(linear: np.ndarray, eyes: list[Eye]) -> None:
    """The frame's bridge across the nose, between the lenses (what tells the stage there are glasses)."""
    (a, b) = sorted(eyes, key=lambda e: e.centre[0])
    y = round((a.centre[1] + b.centre[1]) / 2 - 0.1 * a.width)
    x0, x1 = round(a.centre[0] + 0.75 * a.width), round(b.centre[0] - 0.75 * b.width)
    line = np.zeros(linear.shape[:2], np.float32)
    cv2.line(line, (x0, y), (x1, y), 1.0, max(round(0.06 * a.width), 1), cv2.LINE_AA)
    linear[...] = linear * (1.0 - 0.85 * line[..., None])


def _far_eye(linear: np.ndarray, glow_map: np.ndarray, eyes: list[Eye], far: int, p: RedEyeParams,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Eye]:
    """Squeeze the far eye around its iris, hide its inner corner, and make its mesh iris unsure."""
    eye = eyes[far]
    other = eyes[1 - far] if len(eyes) == 2 else None
    cx, cy = eye.centre
    h, w = linear.shape[:2]
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    width = max(eye.width, 4.0)
    # The squeeze fades out over 1.2 eye widths so the face around it stays continuous.
    fade = np.clip(1.0 - np.hypot((xs - cx) / (1.2 * width), (ys - cy) / (0.9 * width)), 0.0, 1.0) ** 0.5
    squeeze_y = 0.9 + 0.1 * p.far_scale
    map_x = cx + (xs - cx) / (1.0 + fade * (p.far_scale - 1.0))
    map_y = cy + (ys - cy) / (1.0 + fade * (squeeze_y - 1.0))
    warped = cv2.remap(linear, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    glow_map = cv2.remap(glow_map, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    opening = eye.opening.copy()
    opening[:, 0] = cx + (opening[:, 0] - cx) * p.far_scale
    opening[:, 1] = cy + (opening[:, 1] - cy) * squeeze_y
    if other is not None and p.occlusion > 0:
        toward = 1.0 if other.centre[0] > cx else -1.0
        edge = float(opening[:, 0].max() if toward > 0 else opening[:, 0].min()) - toward * p.occlusion * width * p.far_scale
        # The nose line: skin from just past the inner corner covers the eye from ``edge`` inward.
        soft = max(0.05 * width, 0.7)
        lids = cv2.dilate(_opening((h, w), replace(eye, opening=opening)), np.ones((3, 3), np.uint8), iterations=max(round(0.08 * width), 1))
        cover = cv2.GaussianBlur(lids * np.clip(toward * (xs - edge) / soft + 0.5, 0.0, 1.0), (0, 0), soft)
        corner = float(opening[:, 0].max() if toward > 0 else opening[:, 0].min()) + toward * 0.2 * width
        skin_x = int(np.clip(corner, 0, w - 1))
        skin = np.median(warped[int(max(cy - 0.15 * width, 0)):int(min(cy + 0.15 * width, h)), skin_x], axis=0)
        warped = warped * (1.0 - cover[..., None]) + skin * cover[..., None]
        glow_map = glow_map * (1.0 - cover)
    squeezed = Eye(eye.centre, eye.radius * (p.far_scale * squeeze_y) ** 0.5, opening.astype(np.float32), eye.source)
    return warped, glow_map, unsure_eye(squeezed, p.mesh_error, rng)


def _motion_blur(linear: np.ndarray, glow_map: np.ndarray, length: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """A linear motion blur of ``length`` px (camera shake during the exposure) of image and glow map."""
    if length < 0.5:
        return linear, glow_map
    size = int(math.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = math.cos(angle) * length / 2, math.sin(angle) * length / 2
    cv2.line(kernel, (round((c - dx) * 16), round((c - dy) * 16)), (round((c + dx) * 16), round((c + dy) * 16)), 1.0, 1, cv2.LINE_AA, 4)
    kernel /= max(float(kernel.sum()), 1e-6)
    return cv2.filter2D(linear, -1, kernel), cv2.filter2D(glow_map, -1, kernel)
