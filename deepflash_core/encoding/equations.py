"""The bilateral encoding of DeepFlash: what the network learns and how its output is applied.

The network sees only the bilateral-filtered flash photo ``BL(x)`` and predicts the low-frequency
difference between flash and studio light; the difference is then removed from the *unfiltered*
photo, so hair, pores and eyelashes survive. Equation numbers are those of the DeepFlash paper.

Every function is plain arithmetic, so it works on torch tensors and numpy arrays alike.
Images are in [0, 1]; the network output ``y`` is in [0, 1].
"""

from __future__ import annotations

from typing import TypeVar

import torch

Array = TypeVar("Array")


def target(flash_filtered: Array, studio_filtered: Array) -> Array:
    """Training target ``t = (BL(x) − BL(o) + 1) / 2`` (eq. 1): the difference mapped to [0, 1]."""
    return (flash_filtered - studio_filtered + 1.0) / 2.0


def correction(output: Array) -> Array:
    """Low-frequency correction ``D = 2y − 1`` encoded by a network output ``y`` (inverse of eq. 1)."""
    return 2.0 * output - 1.0


def reconstruct(flash: Array, output: Array, strength: float = 1.0) -> Array:
    """Studio estimate ``x − s·(2y − 1)``; with ``s = 1`` this is eq. 2, ``x − 2y + 1``.

    ``flash`` is the unfiltered photo; ``strength`` in [0, 1] blends from no change to the full correction.
    The result is not clipped: callers clip once, after blending.
    """
    return flash - strength * correction(output)


def reconstructed_ground_truth(flash: Array, flash_filtered: Array, studio_filtered: Array) -> Array:
    """``ō = x − BL(x) + BL(o)`` (eq. 8): the best any network can do; metrics compare against it."""
    return flash - flash_filtered + studio_filtered


def deepflash_loss(output: torch.Tensor, target_: torch.Tensor) -> torch.Tensor:
    """Mean-free squared error of eq. 5, averaged over the batch.

    ``L = 4/(3N) Σ_i ((t_i − y_i) + E[y_i − t_i])²`` per image, where the mean ``E`` is taken per image and
    per channel: a constant offset of ``y`` in any channel costs nothing, so every image weighs the same
    whatever its brightness. The factor 4 undoes the halving of eq. 1.

    Args:
        output: network output ``y``, shape ``(B, C, H, W)``.
        target_: target ``t``, same shape.
    """
    if output.shape != target_.shape or output.ndim != 4:
        raise ValueError(f"output and target must both be (B, C, H, W), got {tuple(output.shape)} and {tuple(target_.shape)}")
    error = target_ - output
    centred = error - error.mean(dim=(2, 3), keepdim=True)
    return 4.0 * centred.square().mean()


def accuracy(image: Array, reference: Array) -> Array | float:
    """Accuracy of eq. 7 in percent: ``100 − 100 · mean |I − Ĩ|`` over pixels and channels.

    For ``(B, C, H, W)`` tensors it returns one value per image; for a single ``(C, H, W)`` or ``(H, W, C)``
    image (tensor or array) a scalar.
    """
    difference = abs(image - reference)
    if isinstance(difference, torch.Tensor) and difference.ndim == 4:
        return 100.0 - 100.0 * difference.mean(dim=(1, 2, 3))
    return 100.0 - 100.0 * float(difference.mean())
