"""The look stage of the pipeline: the photo's own look measured, and the global move to the requested one."""

from __future__ import annotations

import numpy as np

from deepflash_core.faces import Face
from deepflash_core.look.descriptor import FaceAxes, Look, describe
from deepflash_core.look.presets import requested_look
from deepflash_core.look.transfer import apply_transform, plan_transform
from deepflash_core.options import Options


def correct_look(pixels: np.ndarray, output: np.ndarray, faces: list[Face], subject: np.ndarray, options: Options,
                 warnings: list[str]) -> Look | None:
    """Move the person's light to ``options.look``, written into ``output`` through the ``subject`` matte.

    The photo's look is measured on its largest face (one light falls on everyone in a photo). In the
    whole-image mode there is no face to measure: the photo keeps its own look, with a note.

    Returns:
        The requested look completed with the photo's own numbers (what the network is conditioned on), or
        None without a face.

    Raises:
        InvalidOptionError: the look names no preset.
    """
    requested = requested_look(options.look)
    measured = [face for face in faces if face.landmarks]
    if not measured:
        if options.whole_image and requested != Look():
            warnings.append("The whole-image mode has no face to measure a look on: the photo keeps its own.")
        return None
    largest = max(measured, key=lambda face: face.box[2] - face.box[0])
    own = describe(pixels, largest)
    apply_transform(pixels, output, plan_transform(own, requested, FaceAxes.of(largest)), subject, options.strength)
    return requested.resolve(own)
