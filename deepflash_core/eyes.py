"""The eye stage: red pupils and eyeglass glare, per face, at native resolution.

Eyes are located on one image (the flash photo as it came) and corrected on another (the
pipeline's output, same geometry), so the correction before this stage cannot move them. Glare
is looked for only on a face that wears glasses (a straight horizontal edge, the glasses' bridge,
across the nose between the eyes, from the 68 landmarks): on bare skin a bright spot near the eye
is the skin's own shine, and filling it in would change the face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepflash_core.face_mesh import Eye, find_eyes
from deepflash_core.faces import Face
from deepflash_core.glare import reduce_glare
from deepflash_core.redeye import RED_EYE_THRESHOLD, EyeOutcome, correct_eye
from deepflash_core.synthetic.geometry import FaceFrame
from deepflash_core.synthetic.skin import GLASSES_THRESHOLD, glasses_score


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
    if "nose_bridge" not in face.landmarks:
        return False
    return glasses_score(pixels[..., :3], FaceFrame.from_face(face)) > GLASSES_THRESHOLD


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
