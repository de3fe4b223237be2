"""Conditioning a network on a look: feature-wise linear modulation (FiLM, Perez et al. 2018).

A look (:class:`deepflash_core.look.Look`, as its ``as_condition()`` vector: one number per look field, each
mapped from its range to [-1, 1]) goes through a small shared embedding; each modulated layer then scales and
shifts its feature maps per channel, ``x · (1 + γ(look)) + β(look)``. Every γ and β layer starts at zero, so a
conditioned network computes exactly what the same network without the modulation computes: weights trained
before looks existed warm-start it unchanged, and training learns how far the look should steer.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

LOOK_EMBEDDING = 32
"""Width of the shared embedding of the look vector."""


def look_fields_version() -> str:
    """A short fingerprint of the look fields (names and ranges): a conditioned model reads looks of this version.

    A model card records it; a model trained on looks of another version cannot read today's condition.
    """
    from deepflash_client.options import LOOK_FIELDS

    text = ";".join(f"{field.name}:{field.low:g}:{field.high:g}" for field in LOOK_FIELDS)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def look_dimension() -> int:
    """How many numbers a look has (its condition vector's length)."""
    from deepflash_client.options import LOOK_FIELDS

    return len(LOOK_FIELDS)


class FiLM(nn.Module):
    """Per-channel scale and shift of ``channels`` feature maps from a look embedding; zero (no effect) at init."""

    def __init__(self, embedding: int, channels: int) -> None:
        super().__init__()
        self.project = nn.Linear(embedding, 2 * channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, x: torch.Tensor, embedded: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.project(embedded).to(x.dtype).unflatten(1, (2, -1)).unbind(1)
        return x * (1.0 + gamma[:, :, None, None]) + beta[:, :, None, None]


class LookModulation(nn.Module):
    """The shared look embedding and one :class:`FiLM` per modulated layer (``channels`` lists their widths)."""

    def __init__(self, look_dim: int, channels: list[int]) -> None:
        super().__init__()
        self.look_dim = look_dim
        self.embed = nn.Sequential(nn.Linear(look_dim, LOOK_EMBEDDING), nn.ReLU(inplace=True),
                                   nn.Linear(LOOK_EMBEDDING, LOOK_EMBEDDING), nn.ReLU(inplace=True))
        self.layers = nn.ModuleList(FiLM(LOOK_EMBEDDING, width) for width in channels)

    def embedding(self, look: torch.Tensor, batch: int) -> torch.Tensor:
        """The embedded look of a batch; one look for the whole batch is repeated.

        Raises:
            ValueError: the look is not ``(look_dim,)`` or ``(batch, look_dim)``.
        """
        if look.ndim == 1:
            look = look[None].expand(batch, -1)
        if look.ndim != 2 or look.shape != (batch, self.look_dim):
            raise ValueError(f"the look must be ({self.look_dim},) or ({batch}, {self.look_dim}), got {tuple(look.shape)}")
        return self.embed(look.float())

    def reset_parameters(self) -> None:
        """Every FiLM layer back to no effect (the embedding keeps PyTorch's default start)."""
        for layer in self.layers:
            layer.reset_parameters()


def reads_looks(model: nn.Module) -> bool:
    """Whether a model is conditioned on looks (``look_dim`` in its config): it takes ``model(x, look)``."""
    return bool(getattr(getattr(model, "config", None), "look_dim", 0))


def is_look_parameter(name: str) -> bool:
    """Whether a state-dict entry belongs to the look modulation (absent from weights trained without looks)."""
    return name.startswith("look.") or ".look." in name
