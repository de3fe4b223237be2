"""What the pipeline finds in the input photo before it corrects anything: faces, coarse matte, eyes.

All of it is computed from the photo alone, without torch: :func:`detect` can run before the network
is even imported, in this process or in another one (``deepflash process`` detects its first photo in
a child process while torch loads), and the pipeline takes the :class:`Detection` as it is. A
detection is plain data (lists, numpy arrays, dataclasses), so it pickles.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from deepflash_client.errors import InvalidOptionError, NoFaceError
from deepflash_client.options import Options
from deepflash_core.detection.face_mesh import Eye, find_eyes
from deepflash_core.detection.faces import Face, detect_faces, whole_image_face
from deepflash_core.detection.segmentation import CoarseMatte, segment
from deepflash_core.eyes.stage import wears_glasses
from deepflash_core.result import timed


@dataclass(frozen=True)
class FaceEyes:
    """One face's eyes (as found on the photo before correction) and whether it wears glasses."""

    eyes: list[Eye]
    glasses: bool


@dataclass(frozen=True)
class Detection:
    """What :func:`detect` found in one photo.

    Attributes:
        shape: the shape of the pixel array it was made from.
        whole_image: made in whole-image mode (one pseudo-face covering the frame).
        faces: the faces to correct, left to right.
        coarse: the segmentation model's matte over the frame (refined by the pipeline).
        eyes: per face, its eyes and glasses; None when made for a run without the red-eye stage.
        timings: seconds per stage where it was made (``detect``, ``matte``, ``eyes``); the pipeline adds
            them to its own stages of the same names.
    """

    shape: tuple[int, ...]
    whole_image: bool
    faces: list[Face]
    coarse: CoarseMatte
    eyes: list[FaceEyes] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def check(self, pixels: np.ndarray, options: Options) -> None:
        """Refuse a detection made for another photo's size or for other options than ``options``.

        Raises:
            InvalidOptionError: it does not fit.
        """
        if tuple(pixels.shape) != tuple(self.shape):
            raise InvalidOptionError(f"The detection was made for pixels of shape {self.shape}, not {pixels.shape}.")
        if options.whole_image != self.whole_image:
            raise InvalidOptionError("The detection was made for another whole-image mode than these options ask for.")
        if needs_eyes(options) and self.eyes is None:
            raise InvalidOptionError("The detection was made without the eyes, which these options need.")


def needs_eyes(options: Options) -> bool:
    """Whether a correction with ``options`` runs the eye stage (a strength of 0 returns the photo as it is)."""
    return options.red_eye and options.strength > 0


def detect(pixels: np.ndarray, options: Options | None = None, clock: Callable[[], float] = time.perf_counter) -> Detection:
    """Find the faces, the coarse subject matte and (when the options need them) each face's eyes.

    Args:
        pixels: ``(H, W, 3|4)`` uint8, uint16 or float32 photo (the pipeline has checked it).
        options: the correction's options; the defaults when None.
        clock: the stage timer.

    Raises:
        NoFaceError: no face was found and ``options.whole_image`` is False.
    """
    options = options or Options()
    timings: dict[str, float] = {}
    height, width = pixels.shape[:2]
    with timed(timings, "detect", clock):
        faces = [whole_image_face(height, width)] if options.whole_image else detect_faces(pixels)
    if not faces:
        raise NoFaceError("No face found in this photo; use the whole-image mode (--whole-image) to correct the whole frame.")
    with timed(timings, "matte", clock):
        coarse = segment(pixels)
    eyes = None
    if needs_eyes(options):
        with timed(timings, "eyes", clock):
            eyes = [FaceEyes(find_eyes(pixels, face), wears_glasses(pixels, face)) for face in faces]
    return Detection(tuple(pixels.shape), options.whole_image, faces, coarse, eyes, timings)
