"""Real flash/studio pairs from a folder: ``NAME_flash.*`` next to ``NAME_studio.*``.

The two shots of a pair are never pixel-aligned (the subject breathes, the phone moves), so
the studio photo is registered onto the flash photo, as the papers did with the flash image as
reference: a similarity transform from the 68 face landmarks of both, refined by ECC
(``cv2.findTransformECC``, affine) on blurred grey images, which ignores the global brightness
and contrast change between the two lightings. Then both are cropped to the flash photo's face
crop (the one the pipeline uses) and resized to the network size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps

from deepflash_client.errors import DeepFlashError
from deepflash_train.dataset import bilateral_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}
PAIR_PATTERN = re.compile(r"^(?P<name>.+)_(?P<kind>flash|studio)$", re.IGNORECASE)
# ECC runs on a copy whose larger side is at most this (registration precision stays sub-pixel
# at the network size, and ECC's cost grows with pixels).
ECC_MAX_SIDE = 512


class RealPairsError(DeepFlashError):
    """A folder of real pairs is missing, empty, or a pair cannot be read or aligned."""


@dataclass(frozen=True)
class RealPair:
    name: str
    flash: Path
    studio: Path


def find_pairs(folder: Path) -> list[RealPair]:
    """Every ``NAME_flash.*`` with a matching ``NAME_studio.*`` in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RealPairsError(f"{folder} is not a folder.")
    found: dict[str, dict[str, Path]] = {}
    for path in folder.iterdir():
        match = PAIR_PATTERN.match(path.stem)
        if path.suffix.lower() in IMAGE_SUFFIXES and match:
            found.setdefault(match["name"], {})[match["kind"].lower()] = path
    pairs = [RealPair(name, kinds["flash"], kinds["studio"]) for name, kinds in sorted(found.items())
             if "flash" in kinds and "studio" in kinds]
    if not pairs:
        raise RealPairsError(f"No NAME_flash.* / NAME_studio.* pairs in {folder}.")
    return pairs


def read_rgb(path: Path) -> np.ndarray:
    """uint8 RGB pixels with the EXIF orientation applied."""
    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except OSError as error:
        raise RealPairsError(f"Cannot read {path}: {error}") from error


def _grey(rgb: np.ndarray, scale: float) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    if scale != 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    # Blur: the two lightings differ most in fine shading and highlights; registration should
    # follow the coarse structure.
    return cv2.GaussianBlur(grey, (0, 0), 1.5)


def landmark_transform(studio_points: np.ndarray, flash_points: np.ndarray) -> np.ndarray | None:
    """2×3 similarity transform taking studio landmarks onto flash landmarks (RANSAC), or None."""
    matrix, inliers = cv2.estimateAffinePartial2D(studio_points.astype(np.float32), flash_points.astype(np.float32),
                                                  method=cv2.RANSAC, ransacReprojThreshold=3.0)
    if matrix is None or inliers is None or inliers.sum() < 10:
        return None
    return matrix


def ecc_refine(flash_rgb: np.ndarray, studio_rgb: np.ndarray, initial: np.ndarray | None = None) -> np.ndarray:
    """Affine 2×3 (studio → flash pixels) maximising ECC, starting from ``initial`` (identity if None)."""
    scale = min(1.0, ECC_MAX_SIDE / max(flash_rgb.shape[:2]))
    template = _grey(flash_rgb, scale)
    moving = _grey(studio_rgb, scale)
    # findTransformECC wants the matrix that maps template coordinates to moving coordinates.
    forward = np.vstack([initial if initial is not None else np.eye(2, 3), [0, 0, 1]]).astype(np.float64)
    down = np.diag([scale, scale, 1.0])
    inverse = (down @ np.linalg.inv(forward) @ np.linalg.inv(down))[:2].astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-6)
    try:
        _, inverse = cv2.findTransformECC(template, moving, inverse, cv2.MOTION_AFFINE, criteria, None, 5)
    except cv2.error as error:
        if initial is not None:
            return initial
        raise RealPairsError(f"The two photos could not be registered ({error.err}).") from error
    full = np.linalg.inv(down) @ np.vstack([inverse, [0, 0, 1]]) @ down
    return np.linalg.inv(full)[:2]


def align_studio_to_flash(flash_rgb: np.ndarray, studio_rgb: np.ndarray, use_landmarks: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Register the studio photo onto the flash photo.

    Returns:
        ``(aligned studio, matrix)``: the studio photo warped into the flash photo's frame (same
        size as ``flash_rgb``), and the 2×3 studio → flash matrix.
    """
    initial = None
    if use_landmarks:
        from deepflash_core.detection.faces import detect_faces

        flash_faces, studio_faces = detect_faces(flash_rgb), detect_faces(studio_rgb)
        if flash_faces and studio_faces:
            initial = landmark_transform(_points(_largest(studio_faces)), _points(_largest(flash_faces)))
    matrix = ecc_refine(flash_rgb, studio_rgb, initial)
    height, width = flash_rgb.shape[:2]
    aligned = cv2.warpAffine(studio_rgb, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return aligned, matrix


def _largest(faces: list) -> object:
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def _points(face: object) -> np.ndarray:
    return np.array([p for group in face.landmarks.values() for p in group], dtype=np.float32)


def crop_square(rgb: np.ndarray, crop: tuple[int, int, int, int], size: int) -> np.ndarray:
    """The square ``crop`` (may pass the border: reflected) resized to ``size``², float32 in [0, 1]."""
    x0, y0, x1, y1 = crop
    scale = size / (x1 - x0)
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float64)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    if scale < 0.5:
        # Area-average first so the warp does not alias.
        small = cv2.resize(rgb, None, fx=scale * 2, fy=scale * 2, interpolation=cv2.INTER_AREA)
        matrix = np.array([[0.5, 0, -x0 * scale], [0, 0.5, -y0 * scale]], dtype=np.float64)
        rgb, interpolation = small, cv2.INTER_LINEAR
    out = cv2.warpAffine(rgb, matrix, (size, size), flags=interpolation, borderMode=cv2.BORDER_REFLECT_101)
    return out.astype(np.float32) / 255.0


def load_real_pair(pair: RealPair, size: int) -> dict[str, torch.Tensor]:
    """Aligned, face-cropped, resized pair as the training and evaluation code expects it."""
    from deepflash_core.detection.faces import detect_faces, whole_image_face

    flash = read_rgb(pair.flash)
    studio = read_rgb(pair.studio)
    aligned, _ = align_studio_to_flash(flash, studio)
    faces = detect_faces(flash)
    face = _largest(faces) if faces else whole_image_face(*flash.shape[:2])
    x = crop_square(flash, face.crop, size)
    o = crop_square(aligned, face.crop, size)
    images = {"flash": x, "studio": o, "flash_filtered": bilateral_image(x), "studio_filtered": bilateral_image(o)}
    return {k: torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1).contiguous() for k, v in images.items()}
