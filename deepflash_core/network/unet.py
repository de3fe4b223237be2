"""The DeepFlash network: a VGG-16 encoder and an HDR-CNN style decoder joined by skip connections.

Encoder contract: :class:`VGG16Encoder` returns the output of each of its five blocks *before* pooling,
at strides 1, 2, 4, 8 and 16, plus the pooled output of the last block at stride 32; its
``out_channels`` lists the channels of those five skips. The decoder derives every channel count from
that list, so the width multiplier is set in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from deepflash_core.network.film import LookModulation
from deepflash_core.network.config import CardConfig

VGG16_BLOCKS: tuple[tuple[int, int], ...] = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
"""(convolutions, channels) of the five VGG-16 blocks at width 1.0."""

STRIDE = 32
"""Input height and width must be multiples of this (five 2×2 poolings)."""


@dataclass(frozen=True)
class ModelConfig(CardConfig):
    """Everything needed to rebuild a :class:`FlashUNet`; saved beside the weights.

    Attributes:
        width: channel multiplier; 1.0 is the paper's network (~29 M parameters).
        input_size: side of the square face crop the network was trained on.
        encoder_batchnorm: batch normalisation after each encoder convolution (VGG-16-BN); helps
            training from scratch, which we must do without VGG-Face weights.
        look_dim: length of the look vector the decoder is conditioned on (0: no look input).
        look_version: :func:`deepflash_core.network.film.look_fields_version` of the looks it was trained on.
    """

    width: float = 1.0
    input_size: int = 512
    encoder_batchnorm: bool = False
    look_dim: int = 0
    look_version: str = ""

    def __post_init__(self) -> None:
        if not (0.0 < self.width <= 4.0) or not math.isfinite(self.width):
            raise ValueError(f"width must be in (0, 4], got {self.width}")
        if self.input_size < STRIDE or self.input_size % STRIDE:
            raise ValueError(f"input_size must be a positive multiple of {STRIDE}, got {self.input_size}")
        check_look_settings(self.look_dim, self.look_version)


def check_look_settings(look_dim: int, look_version: str) -> None:
    """A conditioned model names the version of its looks; an unconditioned one names none."""
    if look_dim < 0 or bool(look_dim) != bool(look_version):
        raise ValueError(f"look_dim must be ≥ 0 and given together with look_version, got {look_dim}, {look_version!r}")


def scaled(channels: int, width: float) -> int:
    """Channel count at a width multiplier (never below 4)."""
    return max(4, int(round(channels * width)))


class ConvNormAct(nn.Sequential):
    """Convolution ('same' padding, optional stride) → optional batch normalisation → activation."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, act: nn.Module, norm: bool, stride: int = 1) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=not norm)]
        if norm:
            layers.append(nn.BatchNorm2d(out_ch))
        layers.append(act)
        super().__init__(*layers)


class VGG16Encoder(nn.Module):
    """The 13 convolutions of VGG-16 (3×3, 'same', ReLU) in five blocks, each followed by 2×2 max pooling."""

    def __init__(self, width: float = 1.0, batchnorm: bool = False) -> None:
        super().__init__()
        blocks = []
        in_ch = 3
        self.out_channels: list[int] = []
        for n_convs, channels in VGG16_BLOCKS:
            out_ch = scaled(channels, width)
            convs = [
                ConvNormAct(in_ch if i == 0 else out_ch, out_ch, 3, nn.ReLU(inplace=True), batchnorm)
                for i in range(n_convs)
            ]
            blocks.append(nn.Sequential(*convs))
            self.out_channels.append(out_ch)
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        skips = []
        for block in self.blocks:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        return skips, x


class DecoderBlock(nn.Module):
    """×2 transposed convolution → BN → LeakyReLU, concatenate the skip, fuse with a 1×1 convolution."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int) -> None:
        super().__init__()
        self.up = nn.Sequential(
            nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.fuse = ConvNormAct(out_ch + skip_ch, out_ch, 1, nn.LeakyReLU(0.2, inplace=True), norm=True)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.up(x), skip], dim=1))


class FlashUNet(nn.Module):
    """VGG-16 U-Net of DeepFlash: ``BL(x)`` in, encoded low-frequency difference ``y`` in (0, 1) out.

    Input ``(B, 3, H, W)`` with H and W multiples of 32; output ``(B, 3, H, W)``. With ``look_dim`` in its
    config, each decoder block's output is modulated by the requested look (:mod:`deepflash_core.network.film`).
    """

    def __init__(self, config: ModelConfig | None = None, initialise: bool = True) -> None:
        """``initialise=False`` skips the papers' initialisation, for weights about to be loaded (it costs
        most of a cold start's model loading)."""
        super().__init__()
        self.config = config or ModelConfig()
        self.encoder = VGG16Encoder(self.config.width, self.config.encoder_batchnorm)
        skips = self.encoder.out_channels
        deepest = skips[-1]
        self.bridge = ConvNormAct(deepest, deepest, 3, nn.LeakyReLU(0.2, inplace=True), norm=True)
        blocks = []
        in_ch = deepest
        for skip_ch in reversed(skips):
            blocks.append(DecoderBlock(in_ch, skip_ch, skip_ch))
            in_ch = skip_ch
        self.decoder = nn.ModuleList(blocks)
        self.head = nn.Conv2d(in_ch, 3, 1)
        if self.config.look_dim:
            self.look = LookModulation(self.config.look_dim, list(reversed(skips)))
        if initialise:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """The papers' truncated normal decoder; the last layer starts at zero ("no change").

        The encoder gets He initialisation (as VGG trained from scratch does), since VGG-Face is unavailable.
        A zero last layer (the papers use Xavier) makes the untrained network output y = 0.5 exactly,
        i.e. D = 0: training starts from leaving the photo alone instead of from a random correction,
        and gradients still reach the head's weights from the first step.
        """
        for module in self.encoder.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        for module in [*self.bridge.modules(), *self.decoder.modules()]:
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                fan_in = module.weight[0].numel() if isinstance(module, nn.Conv2d) else module.weight[:, 0].numel()
                std = 1.0 / math.sqrt(fan_in)
                nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        if self.config.look_dim:
            self.look.reset_parameters()
        self.reset_head()

    def reset_head(self) -> None:
        """Zero the last layer: y = sigmoid(0) = 0.5 everywhere encodes "no difference"."""
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, look: torch.Tensor | None = None) -> torch.Tensor:
        """``y`` for ``BL(x)``; ``look`` (``(look_dim,)`` or ``(B, look_dim)``, a look's condition vector) steers a
        conditioned model, and None leaves it as it was before looks (an unconditioned model ignores it)."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % STRIDE or x.shape[3] % STRIDE:
            raise ValueError(f"FlashUNet expects (B, 3, H, W) with H, W multiples of {STRIDE}, got {tuple(x.shape)}")
        embedded = self.look.embedding(look, x.shape[0]) if look is not None and self.config.look_dim else None
        skips, x = self.encoder(x)
        x = self.bridge(x)
        for index, (block, skip) in enumerate(zip(self.decoder, reversed(skips))):
            x = block(x, skip)
            if embedded is not None:
                x = self.look.layers[index](x, embedded)
        return torch.sigmoid(self.head(x))


class DirectUNet(FlashUNet):
    """The papers' encoding A as an ablation: the same U-Net maps the photo ``x`` to the studio photo ``o``.

    Pix2Pix's generator without its discriminator: no bilateral filter in front, no difference encoding,
    trained with an L1 loss. For evaluation only (its output is blurred by construction), so the pipeline
    does not run it.
    """

    def reset_head(self) -> None:
        """The papers' Xavier last layer: a zero one would start at flat grey, not at "no change"."""
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
