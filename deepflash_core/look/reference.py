"""A reference portrait's look: the one check every front end applies to a photo a user picked as a look.

The command line, the server (for the editors and the web page) and the batch job all describe a reference
here, so a bad reference gets the same one line everywhere and never falls back to a preset.
"""

from __future__ import annotations

import numpy as np

from deepflash_client.errors import LookReferenceError
from deepflash_core.look.descriptor import describe
from deepflash_core.look.values import Look

NO_FACE = "The reference has no face; a look is taken from a portrait."


def describe_reference(pixels: np.ndarray) -> Look:
    """The look of the largest face in a reference photo ``(H, W, 3|4)`` (uint8, uint16 or float32).

    Raises:
        LookReferenceError: no face, a tiny face, a greyscale photo or not a photo (one line says which).
    """
    from deepflash_core.detection.faces import detect_faces

    faces = [face for face in detect_faces(pixels) if face.landmarks]
    if not faces:
        raise LookReferenceError(NO_FACE)
    largest = max(faces, key=lambda face: face.box[2] - face.box[0])
    return describe(pixels, largest, reference=True)
