"""What a look-conditioned model is trained on: the flash after the global look transform, and the target's look.

The correction has two parts (:mod:`deepflash_core.look`): a global colour and exposure transform from the
photo's own look to the requested one, then the network, conditioned on the requested look, for what is
local (shine, hard shadows, falloff, the key light). Training mirrors it: the requested look is the
target's own, measured by the same descriptor the pipeline uses, and the network reads the flash render after
the same global transform toward it (through the subject matte and in the face's own frame, as the pipeline
applies it: the key light's move is part of it, so the network learns only what the global move leaves). An identity pair
(the target as input) asks for its own look: the transform is then no change, and so should the network be.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from deepflash_core.detection.faces import Face


def mirrored(look):  # type: ignore[no-untyped-def]
    """The look of the horizontally flipped photo: the key light changes side, nothing else changes."""
    return dataclasses.replace(look, key_x=-look.key_x)


def look_pair(flash: np.ndarray, target: np.ndarray, face: Face, matte: np.ndarray,
              flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The network's input image and condition for one training pair.

    Args:
        flash: (H, W, 3) float32 sRGB in [0, 1], the flash render (or the target itself in an identity pair).
        target: the studio target, same shape.
        face: the face's landmarks in both images.
        matte: (H, W) subject matte; the transform acts through it, as in the pipeline.
        flip: the pair will be flipped horizontally after this (the condition is the flipped target's look).

    Returns:
        ``(moved, condition)``: the flash taken to the target's look (float32, same shape) and the
        target's look as the network's condition vector (float32, one number per look field in [-1, 1]).
    """
    from deepflash_core.look.axes import FaceAxes
    from deepflash_core.look.descriptor import describe
    from deepflash_core.look.transfer import apply_transform, plan_transform

    wanted = describe(target, face)
    moved = flash.copy()
    transform = plan_transform(describe(flash, face), wanted, FaceAxes.of(face))
    apply_transform(flash, moved, transform, matte.astype(np.float32))
    return moved, (mirrored(wanted) if flip else wanted).as_condition()
