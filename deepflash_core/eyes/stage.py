"""The eye stage: red pupils and eyeglass glare, per face, at native resolution.

Eyes are located on one image (the flash photo as it came) and corrected on another (the
pipeline's output, same geometry), so the correction before this stage cannot move them. Glare
is looked for only on a face that wears glasses (a straight horizontal edge, the glasses' bridge,
across the nose between the eyes, from the 68 landmarks, :func:`bridge_edge_score`): on bare skin a bright spot near the eye
is the skin's own shine, and filling it in would change the face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collections.abc import Mapping

import cv2
import numpy as np

from deepflash_core.detection.face_mesh import Eye, find_eyes
from deepflash_core.detection.faces import Face
from deepflash_core.eyes.glare import reduce_glare
from deepflash_core.eyes.redeye import RED_EYE_THRESHOLD, EyeOutcome, correct_eye

# Above this, a horizontal edge crosses the nose bridge between the eyes: a glasses bridge (scores are
# about 1.5-3 on bare faces, 4-7 with glasses on studio portraits).
GLASSES_THRESHOLD = 3.5


@dataclass
class EyeReport:
    """What the stage did on one or more faces."""

    outcomes: list[EyeOutcome] = field(default_factory=list)
    glare_inpainted: int = 0
    glare_left: int = 0

    @property
    def warnings(self) -> list[str]:
        """One-line notes for the result (glare that could not be removed honestly)."""
        if not self.glare_left:
            return []
        return [f"flash glare on glasses left as it is ({self.glare_left} spot(s) too large or over the eye to fill in)"]

    def add(self, other: EyeReport) -> None:
        self.outcomes += other.outcomes
        self.glare_inpainted += other.glare_inpainted
        self.glare_left += other.glare_left


@dataclass
class EyeFix:
    """A corrected copy of an image and the stage's report."""

    pixels: np.ndarray
    report: EyeReport

    @property
    def outcomes(self) -> list[EyeOutcome]:
        return self.report.outcomes

    @property
    def glare_inpainted(self) -> int:
        return self.report.glare_inpainted

    @property
    def glare_left(self) -> int:
        return self.report.glare_left


def wears_glasses(pixels: np.ndarray, face: Face) -> bool:
    """Whether the face wears glasses; False when it has no 68 landmarks to tell."""
    if not {"nose_bridge", "left_eye", "right_eye", "chin"} <= face.landmarks.keys():
        return False
    jaw = np.asarray(face.landmarks["chin"], np.float32)
    face_width = max(float(np.linalg.norm(jaw[-1] - jaw[0])), 4.0)
    return bridge_edge_score(pixels[..., :3], face.landmarks, face_width) > GLASSES_THRESHOLD


def bridge_edge_score(rgb: np.ndarray, landmarks: Mapping[str, object], face_width: float) -> float:
    """How strongly one straight horizontal edge crosses the nose between the eyes (a glasses bridge).

    Skin and brows give weak or slanted edges there. The score is the strongest row of vertical
    gradient over the median row, in a window between the inner eye corners around the nose's root.

    Args:
        rgb: ``(H, W, 3)`` in the photo's own range (the score is a ratio of gradients).
        landmarks: the 68-point groups (``left_eye``, ``right_eye``, ``nose_bridge``) as ``(x, y)`` points.
        face_width: jaw end to jaw end, in pixels.
    """
    height, width = rgb.shape[:2]
    left_inner = np.asarray(landmarks["left_eye"], np.float32).reshape(-1, 2)[3]
    right_inner = np.asarray(landmarks["right_eye"], np.float32).reshape(-1, 2)[0]
    root_y = float(np.asarray(landmarks["nose_bridge"], np.float32).reshape(-1, 2)[0, 1])
    (left, right), gap = sorted((float(left_inner[0]), float(right_inner[0]))), abs(float(right_inner[0] - left_inner[0]))
    x0, x1 = max(int(left + 0.2 * gap), 0), min(int(right - 0.2 * gap), width)
    y0, y1 = max(int(root_y - 0.08 * face_width), 0), min(int(root_y + 0.08 * face_width), height)
    if x1 - x0 < 2 or y1 - y0 < 4:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1], np.float32), cv2.COLOR_RGB2GRAY)
    row_strength = np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)).mean(axis=1)
    return float(row_strength.max() / (np.median(row_strength) + 1e-3))


def fix_face_eyes(image: np.ndarray, eyes: list[Eye], glasses: bool, threshold: float = RED_EYE_THRESHOLD) -> EyeReport:
    """Correct red pupils, then (when ``glasses``) lens glare, of one face's ``eyes`` in ``image``, in place."""
    report = EyeReport()
    for eye in eyes:
        report.outcomes.append(correct_eye(image, eye, threshold))
    for eye in eyes if glasses else []:
        glare = reduce_glare(image, eye)
        report.glare_inpainted += glare.inpainted
        report.glare_left += glare.left
    return report


def fix_eyes(pixels: np.ndarray, face: Face, use_mesh: bool = True, threshold: float = RED_EYE_THRESHOLD) -> EyeFix:
    """A copy of ``pixels`` with the red pupils and small lens glare of ``face`` corrected.

    Args:
        pixels: ``(H, W, 3|4)`` uint8, uint16 or float32 in [0, 1]; alpha is returned untouched.
        face: the face (its crop bounds the mesh; its 68 landmarks are the fallback).
        use_mesh: False uses the 68 landmarks only.
        threshold: the eye redness score above which a pupil is corrected.
    """
    output = pixels.copy()
    return EyeFix(output, fix_face_eyes(output, find_eyes(pixels, face, use_mesh), wears_glasses(pixels, face), threshold))
