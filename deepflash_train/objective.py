"""What a model is trained on, and how its output becomes a studio estimate, per encoding.

- ``bilateral`` (the papers' encoding C): ``BL(x)`` in, ``t = (BL(x) − BL(o) + 1) / 2`` (eq. 1) as target,
  eq. 5 (plus the optional mean term) as loss, ``x − 2y + 1`` (eq. 2) as the studio estimate.
- ``direct`` (encoding A, the Pix2Pix-style ablation): ``x`` in, ``o`` as target, L1 as loss (Pix2Pix's
  reconstruction term, no discriminator), the output itself as the studio estimate.

Batches are dicts of ``(B, 3, H, W)`` tensors with ``flash``, ``studio``, ``flash_filtered`` and
``studio_filtered``, as :class:`~deepflash_train.dataset.SyntheticPairs` yields them. A model
conditioned on looks (``look_dim`` in its config) reads ``look_flash`` instead of ``flash`` (the flash after
the global transform toward the target's look) and is given ``look``, that look's condition vector.
"""

from __future__ import annotations

import torch

from deepflash_core.encoding import equations
from deepflash_core.network.registry import Encoding


def _flash(batch: dict[str, torch.Tensor], conditioned: bool, filtered: bool) -> torch.Tensor:
    name = ("look_flash" if conditioned else "flash") + ("_filtered" if filtered else "")
    if name not in batch:
        raise KeyError(f"a model conditioned on looks needs pairs made with the look input (no {name!r})")
    return batch[name]


def network_input(kind: Encoding, batch: dict[str, torch.Tensor], conditioned: bool = False) -> torch.Tensor:
    """What the network reads."""
    return _flash(batch, conditioned, filtered=kind is Encoding.BILATERAL)


def network_condition(batch: dict[str, torch.Tensor], conditioned: bool) -> torch.Tensor | None:
    """The look a conditioned network is given (the target's own), else None."""
    return batch["look"] if conditioned else None


def network_target(kind: Encoding, batch: dict[str, torch.Tensor], conditioned: bool = False) -> torch.Tensor:
    """What the network should output."""
    if kind is Encoding.BILATERAL:
        return equations.target(_flash(batch, conditioned, filtered=True), batch["studio_filtered"])
    return batch["studio"]


def studio_estimate(kind: Encoding, batch: dict[str, torch.Tensor], output: torch.Tensor,
                    conditioned: bool = False) -> torch.Tensor:
    """The studio photo a network output stands for (unclipped)."""
    if kind is Encoding.BILATERAL:
        return equations.reconstruct(_flash(batch, conditioned, filtered=False).to(output.device), output)
    return output


def loss(kind: Encoding, output: torch.Tensor, target: torch.Tensor, mean_weight: float = 0.0) -> torch.Tensor:
    """Eq. 5 plus ``mean_weight`` times the per-image, per-channel squared mean error it leaves free
    (bilateral; with ``mean_weight = 1`` exactly ``4 · MSE``), or L1 (direct)."""
    if kind is Encoding.DIRECT:
        return (output - target).abs().mean()
    value = equations.deepflash_loss(output, target)
    if mean_weight:
        value = value + mean_weight * 4.0 * (target - output).mean(dim=(2, 3)).square().mean()
    return value
