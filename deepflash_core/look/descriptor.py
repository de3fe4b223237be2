"""The look of a portrait: a dozen numbers that describe its light and its rendering, not the person.

A look is measured on one face, on a copy of the face region at most ``ANALYSIS_WIDTH`` pixels wide (a
12 MP reference costs a resize and a few small array passes). Its numbers (:data:`LOOK_FIELDS`, whose one
home is :mod:`deepflash_client.options`) fall in three kinds:

- the light, measured on things whose colour does not depend on the skin: the eye whites give the light's
  level and colour (``white_*``), the darkest features (pupils, nostrils, brows) the black level;
- the rendering of the skin seen *from* that white: its lightness, chroma and hue, and its contrast;
- the modelling: how the light falls across the face (a plane fitted to the log luminance of the skin in the
  face's own axes: ``key_x``, ``key_y``), how much of the skin is shine, how much is clipped.

The global correction (:mod:`deepflash_core.look.transfer`) takes the light from the first kind only, so a
reference of one skin tone never pulls another person's skin toward its own; the skin fields say how far the
rendering (saturation, hue) moves, relative to where the person starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from deepflash_client.errors import LookReferenceError, NoFaceError
from deepflash_client.options import LOOK_FIELDS, LOOK_NAMES
from deepflash_core.detection.faces import Face
from deepflash_core.look.axes import FaceAxes
from deepflash_core.look.values import Look
from deepflash_core.pixels import channel_max, channel_min, to_float

# The face box is brought to between this width and twice it before anything is measured.
ANALYSIS_WIDTH = 192
# The analysed region: the face box grown by this share of its size on every side (forehead, jaw line).
REGION_MARGIN = 0.25
# A reference face narrower than this (in the photo's pixels) is too small to measure a light on.
MIN_FACE_WIDTH = 48
# The eye whites: the brightest share of the eye openings (the iris, pupil, lashes and lids are the rest; a
# larger share mixes those in, and more of them for darker skin). The pupils: their darkest share.
SCLERA_SHARE = 0.1
MIN_SCLERA_PIXELS = 6
PUPIL_SHARE = 0.03
# Eye whites measured this far below the skin's median L* are lids and lashes (a squint), not eye whites: eye
# whites are brighter than any skin under the same light, or about as bright as the lightest.
WHITE_BELOW_SKIN = 10.0
# Shine: skin this many L* above the smoothed skin around it, and this much paler.
SHINE_LIFT = 10.0
SHINE_PALER = 0.6
CLIPPED_LEVEL = 0.98
# The skin's colour is measured on its unclipped pixels when at least this share of it is unclipped.
MIN_COLOURED_SHARE = 0.3
# Below this channel spread the photo is greyscale; below this many distinct skin colours, not a photo.
GREY_SPREAD = 0.03
MIN_DISTINCT_COLOURS = 150


@dataclass(frozen=True)
class _FaceFrame:
    """The analysed copy of the face region and where the face's parts lie on it."""

    lab: np.ndarray  # (h, w, 3) float32 CIELAB
    rgb: np.ndarray  # (h, w, 3) float32 sRGB in [0, 1]
    skin: np.ndarray  # (h, w) bool
    hull: np.ndarray  # (h, w) bool: the face with its features
    eyes: list[np.ndarray]  # (h, w) bool per eye opening
    whites: list[np.ndarray]  # (h, w) bool: the eye openings and the inner mouth (the teeth, when they show)
    axes: tuple[np.ndarray, np.ndarray]  # per pixel: position across the face (left -> right) and up it, in face sizes


def describe(pixels: np.ndarray, face: Face, reference: bool = False) -> Look:
    """Measure the look of ``face`` in ``pixels``.

    Args:
        pixels: ``(H, W, 3|4)`` uint8, uint16 or float32 photo.
        face: a detected face with its 68 landmarks (:func:`deepflash_core.detection.faces.detect_faces`).
        reference: the photo is a reference the user chose: refuse a tiny face, a greyscale photo or a
            drawing with one clear line instead of describing it.

    Raises:
        NoFaceError: the face has no landmarks (a whole-image pseudo-face).
        LookReferenceError: (``reference`` only) the face is tiny, the photo greyscale or not a photo.
    """
    if not face.landmarks:
        raise NoFaceError("A look is measured on a face; none was found (the whole-image mode finds none).")
    width = face.box[2] - face.box[0]
    if reference and width < MIN_FACE_WIDTH:
        raise LookReferenceError(f"The reference's face is {width} px wide; a look needs a face at least "
                                 f"{MIN_FACE_WIDTH} px wide.")
    frame = _face_frame(pixels, face)
    if reference:
        _check_reference(frame)
    lightness, a, b = (frame.lab[..., c] for c in range(3))
    skin_l = lightness[frame.skin]
    white_l, white_a, white_b = _white(frame, skin_l)
    # The skin's colour from its unclipped part: a clipped pixel has lost its colour, not the skin.
    coloured = frame.skin & (channel_max(frame.rgb) < CLIPPED_LEVEL)
    if coloured.sum() < MIN_COLOURED_SHARE * frame.skin.sum():
        coloured = frame.skin
    skin_a = a[coloured] - white_a
    skin_b = b[coloured] - white_b
    mean_a, mean_b = float(np.median(skin_a)), float(np.median(skin_b))
    key_x, key_y = _key(frame)
    values = {
        "white_lightness": white_l,
        "white_a": white_a,
        "white_b": white_b,
        "black_lightness": _black(frame),
        "face_lightness": float(np.median(skin_l)),
        "face_chroma": math.hypot(mean_a, mean_b),
        "face_hue": math.degrees(math.atan2(mean_b, mean_a)),
        "contrast": float(skin_l.std()),
        "key_x": key_x,
        "key_y": key_y,
        "shine": _shine(frame),
        "clipped": float((channel_max(frame.rgb[frame.hull]) >= CLIPPED_LEVEL).mean()),
    }
    return Look(**{name: float(np.clip(values[name], f.low, f.high)) for name, f in zip(LOOK_NAMES, LOOK_FIELDS)})


def _face_frame(pixels: np.ndarray, face: Face) -> _FaceFrame:
    """The face region at analysis size, in CIELAB, with its masks drawn from the landmarks."""
    height, width = pixels.shape[:2]
    left, top, right, bottom = face.box
    grow_x, grow_y = REGION_MARGIN * (right - left), REGION_MARGIN * (bottom - top)
    x0, y0 = max(0, int(left - grow_x)), max(0, int(top - 2 * grow_y))  # more room above: the forehead
    x1, y1 = min(width, int(math.ceil(right + grow_x))), min(height, int(math.ceil(bottom + grow_y)))
    # A whole number of pixels per analysed pixel: OpenCV's area averaging has a fast path for it.
    factor = 1.0 / max(1, (right - left) // ANALYSIS_WIDTH)
    size = (max(8, round((x1 - x0) * factor)), max(8, round((y1 - y0) * factor)))
    region = pixels[y0:y1, x0:x1, :3]
    if pixels.dtype == np.float32:
        region = np.nan_to_num(region)
    small = cv2.resize(region, size, interpolation=cv2.INTER_AREA) if size != (x1 - x0, y1 - y0) else region
    rgb = to_float(np.ascontiguousarray(small))
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    scale = np.array([size[0] / (x1 - x0), size[1] / (y1 - y0)], np.float32)

    def points(*groups: str) -> np.ndarray:
        found = [p for group in groups for p in face.landmarks.get(group, [])]
        return (np.asarray(found, np.float32) + 0.5) * scale - 0.5 - np.array([x0, y0], np.float32) * scale

    shape = (size[1], size[0])
    jaw, brows = points("chin"), points("left_eyebrow", "right_eyebrow")
    left_eye, right_eye = points("left_eye"), points("right_eye")
    eye_distance = float(np.hypot(*(right_eye.mean(0) - left_eye.mean(0))))
    hull = _fill(shape, cv2.convexHull(np.concatenate([jaw, brows])))
    features = np.zeros(shape, np.uint8)
    thick = max(2, round(0.12 * eye_distance))
    for polygon in (left_eye, right_eye, points("top_lip", "bottom_lip")):
        cv2.fillPoly(features, [np.round(cv2.convexHull(polygon)).astype(np.int32)], 1)
    for line in (points("left_eyebrow"), points("right_eyebrow"), points("nose_tip")):
        cv2.polylines(features, [np.round(line).astype(np.int32)], False, 1, thick)
    features = cv2.dilate(features, np.ones((thick, thick), np.uint8))
    inner = cv2.erode(hull.astype(np.uint8), np.ones((thick, thick), np.uint8)).astype(bool)
    skin = inner & ~features.astype(bool)
    eyes = [_fill(shape, np.round(eye).astype(np.int32)) for eye in (left_eye, right_eye)]
    top_lip, bottom_lip = points("top_lip"), points("bottom_lip")
    mouth = _fill(shape, np.concatenate([top_lip[7:12][::-1], bottom_lip[8:11][::-1]])) \
        if len(top_lip) == 12 and len(bottom_lip) == 12 else np.zeros(shape, bool)
    axes = FaceAxes.of(face).grid(x0, y0, size[0], size[1], step=(x1 - x0) / size[0])
    return _FaceFrame(lab, rgb, skin, hull, eyes, [*eyes, mouth], axes)


def _fill(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32).reshape(-1, 2)], 1)
    return mask.astype(bool)


def _white(frame: _FaceFrame, skin_l: np.ndarray) -> tuple[float, float, float]:
    """L*, a*, b* of the light's white: the eye whites and teeth (the brightest share of each eye opening and
    of the inner mouth).

    Where they give too few pixels, or pixels much darker than the skin (eyes closed, squinting, hidden by
    glare), the shine (speculars reflect the light's own colour) stands in, and where there is none, the
    face's brightest tenth.
    """
    lightness = frame.lab[..., 0]
    chosen = []
    for region in frame.whites:
        values = lightness[region]
        if values.size:
            chosen.append(region & (lightness >= np.percentile(values, 100 * (1 - SCLERA_SHARE))))
    sclera = np.logical_or.reduce(chosen) if chosen else np.zeros_like(frame.skin)
    if int(sclera.sum()) < MIN_SCLERA_PIXELS or np.median(lightness[sclera]) < np.median(skin_l) - WHITE_BELOW_SKIN:
        sclera = _shiny(frame)
    if int(sclera.sum()) < MIN_SCLERA_PIXELS:
        sclera = frame.skin & (lightness >= np.percentile(skin_l, 90))
    lab = frame.lab[sclera]
    # Its colour from its palest half: veins, lids and skin mixed in at low resolution all add colour.
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    pale = lab[chroma <= np.median(chroma)]
    return float(np.median(lab[:, 0])), float(np.median(pale[:, 1])), float(np.median(pale[:, 2]))


def _black(frame: _FaceFrame) -> float:
    """The black level: the pupils (the darkest share of the eye openings), else the face's darkest hundredth."""
    lightness = frame.lab[..., 0]
    eyes = np.logical_or.reduce(frame.eyes)
    if int(eyes.sum()) * PUPIL_SHARE >= 1:
        return float(np.percentile(lightness[eyes], 100 * PUPIL_SHARE))
    return float(np.percentile(lightness[frame.hull], 1.0))


def _key(frame: _FaceFrame) -> tuple[float, float]:
    """The plane through the skin's log2 luminance in the face's frame: stops across its width and up its height."""
    lightness = frame.lab[..., 0][frame.skin]
    luminance = np.where(lightness > 8.0, ((lightness + 16.0) / 116.0) ** 3, lightness / 903.3)
    across, up = frame.axes[0][frame.skin], frame.axes[1][frame.skin]
    design = np.stack([np.ones_like(across), across, up], axis=1)
    solution, *_ = np.linalg.lstsq(design, np.log2(luminance + 1e-3), rcond=None)
    return float(solution[1]), float(solution[2])


def _shine(frame: _FaceFrame) -> float:
    """Share of the skin much brighter and paler than the smoothed skin around it."""
    return float(_shiny(frame)[frame.skin].mean())


def _shiny(frame: _FaceFrame) -> np.ndarray:
    """Where the skin is much brighter and paler than the smoothed skin around it."""
    skin = frame.skin.astype(np.float32)
    sigma = max(1.0, frame.skin.shape[1] / 24)
    weight = cv2.GaussianBlur(skin, (0, 0), sigma) + 1e-6
    lightness = frame.lab[..., 0]
    chroma = np.hypot(frame.lab[..., 1], frame.lab[..., 2])
    around_l = cv2.GaussianBlur(lightness * skin, (0, 0), sigma) / weight
    around_c = cv2.GaussianBlur(chroma * skin, (0, 0), sigma) / weight
    return frame.skin & (lightness > around_l + SHINE_LIFT) & (chroma < SHINE_PALER * around_c)


def _check_reference(frame: _FaceFrame) -> None:
    rgb = frame.rgb[frame.hull]
    if float(np.percentile(channel_max(rgb) - channel_min(rgb), 95)) < GREY_SPREAD:
        raise LookReferenceError("The reference is greyscale; a look is taken from a colour photo.")
    colours = np.round(frame.rgb[frame.skin] * 255).astype(np.uint32)
    distinct = np.unique((colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]).size
    if distinct < MIN_DISTINCT_COLOURS:
        raise LookReferenceError(f"The reference's face has {distinct} distinct colours; a look is taken from a "
                                 "photo, not a drawing or a flat graphic.")
