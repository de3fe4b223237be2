"""An HDRNet-style model (Gharbi et al. 2017): a bilateral grid of local affine colour transforms.

A small network looks at a low-resolution copy of the bilateral-filtered crop ``BL(x)`` and predicts a
grid of 3×4 affine colour transforms, ``grid_size × grid_size`` cells in space times ``luma_bins`` cells
in a learnt guide intensity. Every pixel takes its transform from the grid by trilinear *slicing* at
(its position, its guide value) and applies it to its own colour. The studio estimate is therefore a
local affine function of the input: it can brighten, tint and flatten what is there, but it cannot
paint a backdrop that is not in the photo.

The model keeps the contract of :class:`~deepflash_core.network.unet.FlashUNet`: ``BL(x)`` in, the encoded
difference ``y = (BL(x) − out + 1) / 2`` (eq. 1 with ``out`` in place of ``BL(o)``) out, at the input's
resolution. The coefficients always come from an ``input_size`` copy, so the input may be any size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepflash_core.encoding import equations
from deepflash_core.network.film import LookModulation
from deepflash_core.network.config import CardConfig
from deepflash_core.network.unet import ConvNormAct, check_look_settings

AFFINE_ROWS, AFFINE_COLUMNS = 3, 4
"""Each transform maps (r, g, b, 1) to (r, g, b): a 3×4 matrix, stored row by row."""
COEFFICIENTS = AFFINE_ROWS * AFFINE_COLUMNS
LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class GridNetConfig(CardConfig):
    """Everything needed to rebuild a :class:`BilateralGridNet`; saved in its model card.

    Attributes:
        input_size: side of the low-resolution copy the coefficients are predicted from.
        grid_size: spatial cells of the grid per side; ``input_size / grid_size`` must be a power of 2.
        luma_bins: cells of the grid along the guide intensity.
        channels: channels of the first strided convolution; they double with every halving.
        guide_knots: knots of the learnt guide curve.
        look_dim: length of the look vector the grid is conditioned on (0: no look input).
        look_version: :func:`deepflash_core.network.film.look_fields_version` of the looks it was trained on.
    """

    input_size: int = 128
    grid_size: int = 16
    luma_bins: int = 8
    channels: int = 8
    guide_knots: int = 16
    look_dim: int = 0
    look_version: str = ""

    def __post_init__(self) -> None:
        ratio = self.input_size / self.grid_size if self.grid_size > 0 else 0
        if self.grid_size < 4 or ratio < 2 or ratio != 2 ** round(math.log2(ratio)):
            raise ValueError(f"input_size / grid_size must be a power of 2 ≥ 2 with grid_size ≥ 4, got "
                             f"{self.input_size} / {self.grid_size}")
        if self.luma_bins < 2 or self.channels < 1 or self.guide_knots < 1:
            raise ValueError("luma_bins must be ≥ 2, channels and guide_knots ≥ 1")
        check_look_settings(self.look_dim, self.look_version)

    @property
    def halvings(self) -> int:
        return round(math.log2(self.input_size / self.grid_size))


def slice_grid(grid: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup of a bilateral grid at every pixel's position and guide value.

    Cell centres sit at ``(i + 0.5) / n`` of the unit square (and of the guide range [0, 1]), as pixel
    centres do; positions beyond the outermost centres take the border cell's value.

    Args:
        grid: ``(B, C, D, Gh, Gw)``: C values per cell, D guide bins, Gh × Gw spatial cells.
        guide: ``(B, 1, H, W)`` in [0, 1].

    Returns:
        ``(B, C, H, W)``.
    """
    batch, _, height, width = guide.shape
    xs = (torch.arange(width, device=guide.device, dtype=guide.dtype) + 0.5) * (2.0 / width) - 1.0
    ys = (torch.arange(height, device=guide.device, dtype=guide.dtype) + 0.5) * (2.0 / height) - 1.0
    coordinates = torch.stack([xs.expand(batch, height, width), ys[:, None].expand(batch, height, width),
                               guide[:, 0] * 2.0 - 1.0], dim=-1)
    sliced = F.grid_sample(grid, coordinates[:, None], mode="bilinear", padding_mode="border", align_corners=False)
    return sliced[:, :, 0]


def apply_affine(coefficients: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Per-pixel ``A · rgb + b`` with ``coefficients`` ``(B, 12, H, W)`` (rows of ``[A | b]``) and ``image`` ``(B, 3, H, W)``."""
    rows = coefficients.unflatten(1, (AFFINE_ROWS, AFFINE_COLUMNS))
    return (rows[:, :, :3] * image[:, None]).sum(dim=2) + rows[:, :, 3]


class GuideMap(nn.Module):
    """A pointwise guide in [0, 1]: a learnt piecewise-linear curve of a learnt mix of the channels."""

    def __init__(self, knots: int) -> None:
        super().__init__()
        self.hinges = nn.Conv2d(3, knots, 1)
        self.curve = nn.Conv2d(knots, 1, 1)

    def reset_parameters(self) -> None:
        """Plain luminance: the mix is Rec. 601 luma and only the first hinge of the curve is on."""
        knots = self.hinges.out_channels
        with torch.no_grad():
            self.hinges.weight.copy_(torch.tensor(LUMA).view(1, 3, 1, 1).expand(knots, 3, 1, 1))
            self.hinges.bias.copy_(-torch.arange(knots, dtype=torch.float32) / knots)
            self.curve.weight.zero_()
            self.curve.weight[0, 0] = 1.0
            self.curve.bias.zero_()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.curve(F.relu(self.hinges(image))).clamp(0.0, 1.0)


class CoefficientNet(nn.Module):
    """Low-resolution stream: strided convolutions down to the grid, local and global features, fused.

    Input ``(B, 3, input_size, input_size)``; output the grid ``(B, 12, luma_bins, grid_size, grid_size)``
    of each cell's transform *minus the identity* (:meth:`BilateralGridNet.reset_head` starts it at zero, so
    every cell starts as exactly "no change").
    """

    def __init__(self, config: GridNetConfig) -> None:
        super().__init__()
        self.luma_bins = config.luma_bins
        act = nn.ReLU(inplace=True)
        splat, in_ch = [], 3
        for i in range(config.halvings):
            splat.append(ConvNormAct(in_ch, config.channels * 2 ** i, 3, act, norm=i > 0, stride=2))
            in_ch = config.channels * 2 ** i
        self.splat = nn.Sequential(*splat)
        features = 8 * config.channels
        self.local = nn.Sequential(ConvNormAct(in_ch, features, 3, act, norm=True),
                                   nn.Conv2d(features, features, 3, padding=1, bias=False))
        self.global_convs = nn.Sequential(ConvNormAct(in_ch, features, 3, act, norm=True, stride=2),
                                          ConvNormAct(features, features, 3, act, norm=True, stride=2),
                                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.global_fc = nn.Sequential(nn.Linear(features, features), nn.ReLU(inplace=True),
                                       nn.Linear(features, features))
        self.head = nn.Conv2d(features, config.luma_bins * COEFFICIENTS, 1)
        if config.look_dim:
            # The look steers the fused features, just before the grid head.
            self.look = LookModulation(config.look_dim, [features])

    def forward(self, low: torch.Tensor, look: torch.Tensor | None = None) -> torch.Tensor:
        features = self.splat(low)
        fused = F.relu(self.local(features) + self.global_fc(self.global_convs(features))[:, :, None, None])
        if look is not None and hasattr(self, "look"):
            fused = self.look.layers[0](fused, self.look.embedding(look, low.shape[0]))
        grid = self.head(fused)  # (B, 12·D, G, G), coefficient-major
        return grid.unflatten(1, (COEFFICIENTS, self.luma_bins))


class BilateralGridNet(nn.Module):
    """HDRNet-style DeepFlash model: ``BL(x)`` ``(B, 3, H, W)`` in, encoded difference ``y`` ``(B, 3, H, W)`` out."""

    def __init__(self, config: GridNetConfig | None = None, initialise: bool = True) -> None:
        """``initialise=False`` skips the identity start, for weights about to be loaded."""
        super().__init__()
        self.config = config or GridNetConfig()
        self.coefficients = CoefficientNet(self.config)
        self.guide = GuideMap(self.config.guide_knots)
        if initialise:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """The identity start: a luminance guide and a zero grid head, so a new model changes nothing."""
        self.guide.reset_parameters()
        if self.config.look_dim:
            self.coefficients.look.reset_parameters()
        self.reset_head()

    def reset_head(self) -> None:
        """Zero the grid head: every cell's transform becomes the identity ("no change")."""
        nn.init.zeros_(self.coefficients.head.weight)
        nn.init.zeros_(self.coefficients.head.bias)

    def studio_estimate(self, filtered: torch.Tensor, look: torch.Tensor | None = None) -> torch.Tensor:
        """The low-frequency studio estimate ``out = affine(BL(x))`` in [0, 1], at the input's resolution
        (steered by ``look`` when the model is conditioned on looks)."""
        if filtered.ndim != 4 or filtered.shape[1] != 3:
            raise ValueError(f"BilateralGridNet expects (B, 3, H, W), got {tuple(filtered.shape)}")
        size = self.config.input_size
        low = filtered if filtered.shape[2:] == (size, size) else F.interpolate(
            filtered, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        image = filtered.float()
        change = slice_grid(self.coefficients(low, look).float(), self.guide(image))
        # (I + change) · rgb written as rgb + change · rgb: a zero change leaves every pixel exactly as it was.
        return (image + apply_affine(change, image)).clamp(0.0, 1.0)

    def forward(self, filtered: torch.Tensor, look: torch.Tensor | None = None) -> torch.Tensor:
        return equations.target(filtered.float(), self.studio_estimate(filtered, look))
