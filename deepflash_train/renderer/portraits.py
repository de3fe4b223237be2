"""Loading studio portraits and cutting the square face crops the renderer works on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from deepflash_client.errors import NoFaceError
from deepflash_core.detection.faces import Face, crop_for_box, detect_faces


def load_portrait(path: Path | str, max_side: int | None = None) -> tuple[np.ndarray, Face]:
    """A studio portrait as float32 sRGB in [0, 1] and its largest face.

    Args:
        path: image file.
        max_side: downscale first so the longer side is at most this (None keeps it).

    Returns:
        ``(studio, face)`` with the landmarks in the returned image's pixels.

    Raises:
        NoFaceError: no face was found.
    """
    rgb = np.asarray(Image.open(path).convert("RGB"))
    if max_side and max(rgb.shape[:2]) > max_side:
        s = max_side / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)
    faces = [f for f in detect_faces(rgb) if f.landmarks]
    if not faces:
        raise NoFaceError(f"no face found in {path}")
    face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return rgb.astype(np.float32) / 255, face


def crop_to_face(studio: np.ndarray, face: Face, size: int) -> tuple[np.ndarray, Face]:
    """The face's square crop (reflect-padded past the border), resized to ``size``².

    Args:
        studio: (H, W, 3) image.
        face: its face.
        size: side of the output in pixels.

    Returns:
        ``(crop, face)`` with box and landmarks mapped into the crop.
    """
    x0, y0, x1, y1 = crop_for_box(face.box)
    side = x1 - x0
    h, w = studio.shape[:2]
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    padded = cv2.copyMakeBorder(studio, pad, pad, pad, pad, cv2.BORDER_REFLECT_101) if pad else studio
    crop = padded[y0 + pad : y1 + pad, x0 + pad : x1 + pad]
    scale = size / side
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    marks = {k: [((x - x0) * scale, (y - y0) * scale) for x, y in v] for k, v in face.landmarks.items()}
    l, t, r, b = face.box
    box = (round((l - x0) * scale), round((t - y0) * scale), round((r - x0) * scale), round((b - y0) * scale))
    return np.clip(crop, 0.0, 1.0).astype(np.float32), Face(box=box, landmarks=marks, crop=(0, 0, size, size))
