"""Model kinds: which network a weights file holds, rebuilt from its model card alone.

A model card names its kind (``architecture``) and that kind's settings (``config``). The kind maps to
a network class, its config class and its *encoding*, which says how the network is used:

- ``bilateral``: ``BL(x)`` in, the encoded low-frequency difference ``y`` out (eq. 1/2 of the papers);
  the pipeline runs these.
- ``direct``: the photo ``x`` in, the studio photo ``o`` out (the papers' encoding A); an ablation for
  evaluation only.

Every model class is built as ``model_class(config, initialise=...)``: ``initialise=False`` skips the
class's own initialisation, for weights about to be loaded over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from torch import nn

from deepflash_client.errors import WeightsError
from deepflash_core.network.config import CardConfig
from deepflash_core.network.gridnet import BilateralGridNet, GridNetConfig
from deepflash_core.network.unet import DirectUNet, FlashUNet, ModelConfig


class Encoding(str, Enum):
    """What a network reads and what it predicts."""

    BILATERAL = "bilateral"
    DIRECT = "direct"


@dataclass(frozen=True)
class ModelKind:
    """One architecture a model card can name."""

    name: str
    model_class: type[nn.Module]
    config_class: type[CardConfig]
    encoding: Encoding
    summary: str

    def config_from_dict(self, data: dict[str, Any]) -> CardConfig:
        return self.config_class.from_dict(data)

    def build(self, config: CardConfig, initialise: bool = True) -> nn.Module:
        """The model for ``config``; ``initialise=False`` skips an initialisation that weights about to be
        loaded would overwrite (for the U-Nets it is most of a cold start's load time)."""
        if not isinstance(config, self.config_class):
            raise WeightsError(f"A '{self.name}' model needs a {self.config_class.__name__}, got {type(config).__name__}.")
        return self.model_class(config, initialise=initialise)


KINDS: dict[str, ModelKind] = {kind.name: kind for kind in (
    ModelKind("vgg16-unet", FlashUNet, ModelConfig, Encoding.BILATERAL,
              "VGG-16 U-Net predicting the low-frequency difference (the papers' network)"),
    ModelKind("bilateral-grid", BilateralGridNet, GridNetConfig, Encoding.BILATERAL,
              "HDRNet-style grid of local affine colour transforms, sliced per pixel"),
    ModelKind("direct-unet", DirectUNet, ModelConfig, Encoding.DIRECT,
              "the same U-Net mapping the photo to the studio photo directly (ablation, evaluation only)"),
)}
DEFAULT_KIND = "vgg16-unet"


def model_kind(name: str) -> ModelKind:
    """The kind called ``name``; an unknown name raises :class:`WeightsError` listing the valid ones."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise WeightsError(f"Unknown model kind {name!r}; this version knows {', '.join(sorted(KINDS))}.") from None


def kind_of(model: nn.Module) -> ModelKind:
    """The kind whose class ``model`` is (exactly: a subclass is a kind of its own)."""
    for kind in KINDS.values():
        if type(model) is kind.model_class:
            return kind
    raise WeightsError(f"{type(model).__name__} is not a registered model kind ({', '.join(sorted(KINDS))}).")
