"""Colour bilateral filter computed on a bilateral grid, in torch.

Definition (the one ``cv2.bilateralFilter`` applies to 3-channel float32 images)::

    BL(x)_p = sum_q w(p, q) x_q / sum_q w(p, q)
    w(p, q) = exp(-|p - q|^2 / (2 sigma_s^2)) * exp(-d(p, q)^2 / (2 sigma_r^2))
    d(p, q) = |r_p - r_q| + |g_p - g_q| + |b_p - b_q|      (L1 over the three channels)

* ``q`` runs over the disc ``|p - q| <= round(1.5 sigma_s)`` (at least 1 px), integer offsets;
* pixels beyond the border are mirrored without repeating the edge (``BORDER_REFLECT_101``);
* values are used as they are: a float image in [0, 1] with ``sigma_r = 0.4`` means 0.4 of full scale
  (OpenCV does not rescale float images; its range weights come from an interpolated lookup table,
  which matches the exact exponential to ~1e-7).

A brute-force evaluation costs ``O(pixels * sigma_s^2)``: minutes for a 12-megapixel photo. Here the sums are
computed on a bilateral grid (Paris & Durand 2006, Chen et al. 2007) over ``(x, y, r, g, b)``:

1. *splat*: every pixel (with a mirrored border of the window radius) adds ``(r, g, b, 1)`` to its nearest
   spatial cell and, linearly, to the 8 surrounding colour cells;
2. *blur*: the spatial kernel (the disc-truncated Gaussian, integrated over each cell) is a small dense 2-D
   convolution; the range kernel ``exp(-d^2 / 2 sigma^2)`` with L1 ``d`` is not separable, so it is applied as
   a dense 3-D convolution over the colour cells, written as one matrix product over the flattened cells;
3. *slice*: each pixel reads the blurred grid by multilinear interpolation at its own ``(x, y, r, g, b)`` and
   divides the colour sums by the weight sum.

Spatial cells are ``sigma_s / 2`` px and colour cells ``sigma_r / 2`` wide, so the grid has a fixed
~(70 x 70 x 6^3) size whatever the image size (sigma_s grows with the image): memory is O(grid) + O(pixels).
The grid's own interpolation widens both kernels slightly; the kernels put on the grid are narrowed by the
variance this adds, which keeps the result within ~1/255 mean absolute error of the exact filter.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepflash_core.errors import InvalidOptionError

SIGMA_R_DEFAULT = 0.4
SIGMA_S_FRACTION = 0.03
SPATIAL_CELLS_PER_SIGMA = 2.0
RANGE_CELLS_PER_SIGMA = 2.0
MAX_RANGE_CELLS_PER_CHANNEL = 12
CHUNK_PIXELS = 1 << 15


def sigma_s_for(height: int, width: int) -> float:
    """Spatial sigma in pixels for an image of ``height`` x ``width``: 3 % of the larger side (METHOD.md)."""
    return SIGMA_S_FRACTION * max(int(height), int(width))


def window_radius(sigma_s: float) -> int:
    """Radius in pixels of the disc of neighbours, as ``cv2.bilateralFilter`` chooses it for ``d <= 0``."""
    return max(int(round(1.5 * sigma_s)), 1)


def check_image_batch(img: object, name: str = "img") -> None:
    """Raise ``InvalidOptionError`` unless ``img`` is a finite floating ``(B, 3, H, W)`` tensor."""
    if not isinstance(img, Tensor):
        raise InvalidOptionError(f"{name} must be a torch.Tensor, got {type(img).__name__}.")
    if img.ndim != 4 or img.shape[1] != 3:
        raise InvalidOptionError(f"{name} must have shape (B, 3, H, W), got {tuple(img.shape)}.")
    if not img.is_floating_point():
        raise InvalidOptionError(f"{name} must be a floating-point tensor, got {img.dtype}.")
    if img.numel() == 0:
        raise InvalidOptionError(f"{name} is empty: shape {tuple(img.shape)}.")
    if not bool(torch.isfinite(img).all()):
        raise InvalidOptionError(f"{name} contains NaN or infinite values.")


def _check_sigma(value: float, name: str) -> float:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidOptionError(f"{name} must be a positive finite number, got {value!r}.")
    return float(value)


def bilateral_filter(img: Tensor, sigma_s: float, sigma_r: float = SIGMA_R_DEFAULT) -> Tensor:
    """Colour bilateral filter of a batch of images (L1 range distance, as ``cv2.bilateralFilter``).

    Args:
        img: ``(B, 3, H, W)`` floating tensor, nominally in [0, 1], on any device.
        sigma_s: spatial standard deviation in pixels (see ``sigma_s_for``).
        sigma_r: range standard deviation of the L1 colour distance, in image units.

    Returns:
        ``(B, 3, H, W)`` tensor of ``img``'s dtype and device.

    Raises:
        InvalidOptionError: wrong type, shape or dtype, non-finite values, or a sigma that is not positive.

    Example:
        >>> img = torch.rand(2, 3, 32, 48)
        >>> bilateral_filter(img, sigma_s=sigma_s_for(32, 48)).shape
        torch.Size([2, 3, 32, 48])
    """
    check_image_batch(img)
    sigma_s = _check_sigma(sigma_s, "sigma_s")
    sigma_r = _check_sigma(sigma_r, "sigma_r")
    work = img if img.dtype in (torch.float32, torch.float64) else img.float()
    return _grid_filter(work, sigma_s, sigma_r).to(img.dtype)


class BilateralFilter(nn.Module):
    """``nn.Module`` wrapper of :func:`bilateral_filter` with fixed sigmas."""

    def __init__(self, sigma_s: float, sigma_r: float = SIGMA_R_DEFAULT) -> None:
        super().__init__()
        self.sigma_s = _check_sigma(sigma_s, "sigma_s")
        self.sigma_r = _check_sigma(sigma_r, "sigma_r")

    def forward(self, img: Tensor) -> Tensor:
        return bilateral_filter(img, self.sigma_s, self.sigma_r)

    def extra_repr(self) -> str:
        return f"sigma_s={self.sigma_s}, sigma_r={self.sigma_r}"


def _spatial_kernel(radius: int, cell: float, grid_sigma: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The disc-truncated Gaussian on the grid: each cell gets the weights of the integer offsets nearest to it."""
    half = int(round(radius / cell))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    dist2 = dx.square() + dy.square()
    weight = torch.exp(-dist2 / (2 * grid_sigma**2)) * (dist2 <= radius * radius)
    cy = torch.round(dy / cell).long() + half
    cx = torch.round(dx / cell).long() + half
    size = 2 * half + 1
    kernel = torch.zeros(size * size, dtype=torch.float64)
    kernel.index_add_(0, (cy * size + cx).flatten(), weight.flatten())
    return kernel.view(size, size).to(dtype=dtype, device=device)


def _range_matrix(cells: Tensor, bins: tuple[int, int, int], cell: float, grid_sigma: float, dtype: torch.dtype) -> Tensor:
    """Dense range blur between the given flat colour cells: ``exp(-(cell * L1 index distance)^2 / 2 sigma^2)``."""
    coords = torch.stack([cells // (bins[1] * bins[2]), (cells // bins[2]) % bins[1], cells % bins[2]], dim=1)
    l1 = (coords[:, None, :] - coords[None, :, :]).abs().sum(dim=2).to(dtype) * cell
    return torch.exp(-l1.square() / (2 * grid_sigma**2))


def _corner_offsets(strides: list[int], device: torch.device) -> Tensor:
    """Flat index offsets of the 2^k corners of a cell, for the given per-axis strides."""
    offsets = torch.zeros(1, dtype=torch.long, device=device)
    for stride in strides:
        offsets = (offsets[:, None] + torch.tensor([0, stride], device=device)[None, :]).flatten()
    return offsets


def _corner_weights(fracs: list[Tensor]) -> Tensor:
    """Multilinear weights ``(N, 2^k)`` of the corners, in the order of :func:`_corner_offsets`."""
    weights = torch.ones_like(fracs[0])[:, None]
    for frac in fracs:
        pair = torch.stack([1 - frac, frac], dim=1)
        weights = (weights[:, :, None] * pair[:, None, :]).flatten(1)
    return weights


def _weighted_gather(table: Tensor, index: Tensor, weights: Tensor) -> Tensor:
    """``sum_k weights[n, k] * table[index[n, k]]`` for every row ``n``."""
    if table.device.type == "mps":  # embedding_bag with per-sample weights is not on every backend
        return (table.index_select(0, index.flatten()).view(*index.shape, -1) * weights[..., None]).sum(1)
    return F.embedding_bag(index, table, per_sample_weights=weights, mode="sum")


def _grid_filter(img: Tensor, sigma_s: float, sigma_r: float) -> Tensor:
    batch, _, height, width = img.shape
    device, dtype = img.device, img.dtype
    radius = window_radius(sigma_s)

    # Mirror the border so that pixels near it see the same neighbours as in OpenCV.
    pad_h, pad_w = min(radius, height - 1), min(radius, width - 1)
    padded = F.pad(img, (pad_w, pad_w, pad_h, pad_h), mode="reflect") if max(pad_h, pad_w) > 0 else img
    ph, pw = padded.shape[2], padded.shape[3]

    # Grid geometry: layout (B, Y, X, R, G, B, 4) so that all colour cells of a spatial cell are adjacent.
    space_cell = max(sigma_s / SPATIAL_CELLS_PER_SIGMA, 1.0)
    # Colour cells sit on a lattice anchored at 0, so an image gives the same result alone or in a batch.
    lows, highs = img.amin(dim=(0, 2, 3)), img.amax(dim=(0, 2, 3))
    spans = highs - lows
    range_cell = max(sigma_r / RANGE_CELLS_PER_SIGMA, spans.max().item() / (MAX_RANGE_CELLS_PER_CHANNEL - 2), 1e-6)
    first = torch.floor(lows / range_cell)
    bins = tuple(int(n) + 2 for n in (torch.floor(highs / range_cell) - first).tolist())
    n_range = bins[0] * bins[1] * bins[2]
    gh = max(int(math.floor((ph - 1) / space_cell + 0.5)) + 1, 2)
    gw = max(int(math.floor((pw - 1) / space_cell + 0.5)) + 1, 2)
    range_strides = [bins[1] * bins[2], bins[2], 1]
    top_base = torch.tensor([b - 2 for b in bins], device=device)

    def range_coords(colours: Tensor) -> tuple[Tensor, list[Tensor]]:
        coords = colours / range_cell - first
        base = torch.minimum(coords.floor().clamp_(min=0).long(), top_base)
        frac = (coords - base).clamp_(0, 1)
        flat = (base * torch.tensor(range_strides, device=device)).sum(dim=-1)
        return flat, [frac[..., c] for c in range(3)]

    # Splat: nearest spatial cell, linear in the three colour axes (8 corners). Pixels go in small chunks:
    # large temporaries cost more in page faults than in arithmetic.
    cell_y = torch.round(torch.arange(ph, device=device, dtype=dtype) / space_cell).long()
    cell_x = torch.round(torch.arange(pw, device=device, dtype=dtype) / space_cell).long()
    grid = torch.zeros(batch * gh * gw * n_range, 4, device=device, dtype=dtype)
    offsets8 = _corner_offsets(range_strides, device)
    rows_per_chunk = max(1, CHUNK_PIXELS // pw)
    for b in range(batch):
        for r0 in range(0, ph, rows_per_chunk):
            r1 = min(ph, r0 + rows_per_chunk)
            colours = padded[b, :, r0:r1].permute(1, 2, 0).reshape(-1, 3)
            flat, fracs = range_coords(colours)
            spatial = ((cell_y[r0:r1, None] * gw + cell_x[None, :]) * n_range + b * gh * gw * n_range).flatten()
            index = (spatial + flat)[:, None] + offsets8[None, :]
            homogeneous = torch.cat([colours, torch.ones_like(colours[:, :1])], dim=1)
            values = _corner_weights(fracs)[:, :, None] * homogeneous[:, None, :]
            grid.index_add_(0, index.flatten(), values.view(-1, 4))

    # Blur only the colour cells that hold samples (portraits fill a small part of the colour cube).
    grid = grid.view(batch, gh * gw, n_range, 4)
    occupied = torch.nonzero(grid[..., 3].sum(dim=(0, 1)) > 0).flatten()
    live = grid.index_select(2, occupied)  # (B, cells, K, 4)
    k = occupied.numel()
    # Narrow the grid kernels by the variance that nearest splat (box) and linear slice (tent) add.
    grid_sigma_s = math.sqrt(max(sigma_s**2 - space_cell**2 / 4, (0.5 * sigma_s) ** 2))
    grid_sigma_r = math.sqrt(max(sigma_r**2 - range_cell**2 / 3, (0.5 * sigma_r) ** 2))
    range_blur = _range_matrix(occupied, bins, range_cell, grid_sigma_r, dtype)
    live = torch.matmul(live.transpose(2, 3), range_blur)  # (B, cells, 4, K); the matrix is symmetric
    kernel = _spatial_kernel(radius, space_cell, grid_sigma_s, dtype, device)
    channels = k * 4
    live = live.reshape(batch, gh, gw, channels).permute(0, 3, 1, 2)
    live = F.conv2d(live, kernel.expand(channels, 1, -1, -1), padding=kernel.shape[-1] // 2, groups=channels)
    live = live.permute(0, 2, 3, 1).reshape(batch, gh * gw, 4, k).transpose(2, 3)
    grid = torch.zeros_like(grid).index_copy_(2, occupied, live).view(-1, 4)

    # Slice at the original pixels: bilinear in space, linear in colour (32 corners), in chunks of rows.
    gy = (torch.arange(height, device=device, dtype=dtype) + pad_h) / space_cell
    gx = (torch.arange(width, device=device, dtype=dtype) + pad_w) / space_cell
    y0 = gy.floor().long().clamp_(max=gh - 2)
    x0 = gx.floor().long().clamp_(max=gw - 2)
    fy, fx = (gy - y0).clamp_(0, 1), (gx - x0).clamp_(0, 1)
    offsets32 = _corner_offsets([gw * n_range, n_range, *range_strides], device)
    rows_per_chunk = max(1, CHUNK_PIXELS // width)
    out = torch.empty(batch, height, width, 3, device=device, dtype=dtype)
    for b in range(batch):
        for r0 in range(0, height, rows_per_chunk):
            r1 = min(height, r0 + rows_per_chunk)
            colours = img[b, :, r0:r1].permute(1, 2, 0).reshape(-1, 3)
            flat, fracs = range_coords(colours)
            spatial = ((y0[r0:r1, None] * gw + x0[None, :]) * n_range).flatten()
            index = (spatial + flat + b * gh * gw * n_range)[:, None] + offsets32[None, :]
            fy_px = fy[r0:r1, None].expand(-1, width).flatten()
            fx_px = fx[None, :].expand(r1 - r0, -1).flatten()
            sums = _weighted_gather(grid, index, _corner_weights([fy_px, fx_px, *fracs]))
            out[b, r0:r1] = (sums[:, :3] / sums[:, 3:].clamp_min(torch.finfo(dtype).tiny)).view(r1 - r0, width, 3)
    return out.permute(0, 3, 1, 2).contiguous()
