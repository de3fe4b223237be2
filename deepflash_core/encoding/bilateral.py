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

1. *splat*: pixels (with a mirrored border of the window radius) add ``(r, g, b, 1)`` to their nearest spatial
   cell and, linearly, to the 8 surrounding colour cells. A spatial cell spans many pixels when sigma_s is
   large; a regular subsample of them then estimates its sums (the subsampled filter of Banterle et al. 2012,
   which the DeepFlash authors used);
2. *blur*: the range kernel ``exp(-d^2 / 2 sigma^2)`` with L1 ``d`` is not separable, so it is applied as a
   dense 3-D convolution over the colour cells, written as one matrix product over the cells that hold samples
   (a portrait fills a small part of the colour cube); the spatial kernel (the disc-truncated Gaussian,
   integrated over each cell) is a small dense depthwise 2-D convolution;
3. *slice*: each pixel reads the blurred grid by multilinear interpolation at its own ``(x, y, r, g, b)``
   (32 cells) and divides the colour sums by the weight sum.

Spatial cells are ``sigma_s / 2`` px and colour cells ``sigma_r / 3`` wide, so the grid has a fixed size
(about 75 x 75 spatial cells and a few hundred colour cells) whatever the image size, because sigma_s grows
with the image: memory is O(grid) + O(pixels), and pixels are processed in chunks. The grid's interpolation
widens both kernels; the kernels put on the grid are narrowed to compensate (factors calibrated against
``cv2.bilateralFilter`` on portraits). Measured: mean absolute error about 0.25/255 against OpenCV, both at
225 x 275 and at 2 MP (``tests/test_bilateral.py``, ``benchmarks/bench_bilateral.py``).

Small images (the network's 64-128 px inputs) are not put on the grid: its ~75 x 75 spatial cells times a few
hundred colour cells outnumber their pixel-neighbour pairs, so there the definition is summed exactly over the
disc (``uses_direct_sum``), on one thread. Measured at 128 px: ~20-40 ms CPU against ~60-90 ms for the grid,
and at 64 px ~2 ms against ~40-90 ms (``benchmarks/bench_bilateral.py``); both exact to float rounding.

Differentiable with respect to the image (splat and slice weights and values both carry gradients).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepflash_client.errors import InvalidOptionError

SIGMA_R_DEFAULT = 0.4
SIGMA_S_FRACTION = 0.03
SPATIAL_CELLS_PER_SIGMA = 2.0  # grid cells per sigma_s; 3.0 cuts the error by a third, costs 2-3x at 512 px
RANGE_CELLS_PER_SIGMA = 3.0  # colour cells per sigma_r; 2.0 raises the error by 40 %
MAX_SPATIAL_CELLS = 1 << 16  # per image; coarser cells beyond (only for a sigma_s far below 3 % of the side)
MAX_RANGE_CELLS_PER_CHANNEL = 12  # caps the colour cells when sigma_r is small compared with the colours' span
CHUNK_PIXELS = 1 << 18  # pixels per splat/slice chunk: bounded temporaries, few enough ops to keep threads busy
SUBSAMPLES = 4  # per pixel and axis, when integrating the spatial kernel over grid cells
SPLAT_PIXELS_PER_STRIDE = 6.0  # splat every k-th pixel, k = cell size / this (1 below 12-px cells)
SPACE_COMP = 5 / 12  # spatial kernel variance removed, in cell^2 (box splat 1/12 + tent slice 1/6 + cell mass)
RANGE_COMP = 1.0  # range kernel variance removed, in cell^2 (calibrated: tent splat and slice on 3 axes)
# Images with at most this many (pixel, neighbour) pairs are summed exactly instead of on the grid: a
# 128 px network input (sigma_s 3.8, 113 neighbours) costs about 3 ms this way against 60 ms on the grid.
DIRECT_MAX_PAIRS = 1 << 22


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
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
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
    # The grid is an approximation far coarser than float32 rounding, and float32 keeps the depthwise
    # convolution on its fast path, so every input dtype is filtered in float32.
    if uses_direct_sum(img.shape[2], img.shape[3], sigma_s):
        with one_cpu_thread(img.device):
            # Contiguous planes (a batch made from (H, W, 3) arrays arrives channels-last): every slice
            # of the sum then runs along unit-stride rows.
            return _direct_filter(img.float().contiguous(), sigma_s, sigma_r).to(img.dtype)
    return _grid_filter(img.float(), sigma_s, sigma_r).to(img.dtype)


def uses_direct_sum(height: int, width: int, sigma_s: float) -> bool:
    """Whether an image this size is filtered by the exact sum over its window rather than on the grid.

    The grid's cost is set by its cells, about 75 x 75 spatial cells times a few hundred colour cells
    whatever the image size; a small image (e.g. the 128 px network input) has far fewer pixel-neighbour
    pairs than that, and summing them exactly is both cheaper and exact.
    """
    radius = window_radius(sigma_s)
    if radius >= min(height, width):  # the mirrored border would repeat itself: the grid handles that case
        return False
    return _disc_size(radius) * height * width <= DIRECT_MAX_PAIRS


@contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run the enclosed torch operations on one CPU thread, then restore the thread count.

    For many operations of at most a few megabytes each (the exact sum here, the upsampling's strips):
    split over threads, waking and parking the workers costs more than the arithmetic (3x the CPU time
    with two threads for the exact sum, and 30x when idle OpenMP workers spin between operations). The
    OpenMP thread count is a per-caller setting, so other threads' work is not affected.
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _disc_size(radius: int) -> int:
    return sum(2 * math.isqrt(radius * radius - dy * dy) + 1 for dy in range(-radius, radius + 1))


def _direct_filter(img: Tensor, sigma_s: float, sigma_r: float) -> Tensor:
    """The filter's definition summed exactly: one pass per row offset of the disc, all its columns at once.

    For each vertical offset ``dy`` the row band of the mirrored image is unfolded into a strided view of
    its ``2m + 1`` horizontal neighbours (no copy), so the whole disc costs ``2r + 1`` rounds of a few large
    vectorised operations rather than one round of small ones per neighbour.
    """
    _, _, height, width = img.shape
    radius = window_radius(sigma_s)
    padded = F.pad(img, (radius, radius, radius, radius), mode="reflect")  # reflect = BORDER_REFLECT_101
    range_coef = -0.5 / sigma_r**2
    space_coef = -0.5 / sigma_s**2
    num = torch.zeros_like(img)
    den = torch.zeros_like(img[:, :1])
    centre = img[:, :, :, None, :]  # (B, 3, H, 1, W)
    for dy in range(-radius, radius + 1):
        m = math.isqrt(radius * radius - dy * dy)  # |dx| <= m keeps the offset within the disc
        band = padded[:, :, radius + dy : radius + dy + height]  # (B, 3, H, W + 2r)
        neighbours = band.unfold(3, width, 1)[:, :, :, radius - m : radius + m + 1]  # (B, 3, H, 2m+1, W)
        dx = torch.arange(-m, m + 1, dtype=img.dtype, device=img.device)
        space = (space_coef * (dx.square() + dy * dy))[:, None]  # (2m+1, 1)
        l1 = (neighbours - centre).abs().sum(dim=1)  # (B, H, 2m+1, W)
        weight = torch.exp(l1.square() * range_coef + space)
        num += (neighbours * weight[:, None]).sum(dim=3)
        den += weight.sum(dim=2)[:, None]
    return num / den


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
    """The disc-truncated Gaussian on the grid: each cell gets the kernel mass over its square.

    Every integer offset's weight is spread over its unit pixel square (sampled 4 x 4) before being binned,
    so that the disc's rim falls smoothly across cells whatever the cell size.
    """
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    dy, dx = torch.meshgrid(offsets, offsets, indexing="ij")
    dist2 = dx.square() + dy.square()
    weight = torch.exp(-dist2 / (2 * grid_sigma**2)) * (dist2 <= radius * radius)
    sub = (torch.arange(SUBSAMPLES, dtype=torch.float64) + 0.5) / SUBSAMPLES - 0.5
    sy = (dy[..., None, None] + sub[:, None]).expand(-1, -1, SUBSAMPLES, SUBSAMPLES)
    sx = (dx[..., None, None] + sub[None, :]).expand(-1, -1, SUBSAMPLES, SUBSAMPLES)
    half = int(round((radius + 0.5) / cell))
    size = 2 * half + 1
    cy = torch.round(sy / cell).long().clamp_(-half, half) + half
    cx = torch.round(sx / cell).long().clamp_(-half, half) + half
    kernel = torch.zeros(size * size, dtype=torch.float64)
    sub_weight = (weight[..., None, None] / SUBSAMPLES**2).expand(-1, -1, SUBSAMPLES, SUBSAMPLES)
    kernel.index_add_(0, (cy * size + cx).flatten(), sub_weight.flatten())
    return kernel.view(size, size).to(dtype=dtype, device=device)


def _range_matrix(cells: Tensor, bins: tuple[int, int, int], cell: float, grid_sigma: float, dtype: torch.dtype) -> Tensor:
    """Dense range blur between the given flat colour cells: ``exp(-(cell * L1 index distance)^2 / 2 sigma^2)``."""
    coords = torch.stack([cells // (bins[1] * bins[2]), (cells // bins[2]) % bins[1], cells % bins[2]], dim=1)
    l1 = (coords[:, None, :] - coords[None, :, :]).abs().sum(dim=2).to(dtype) * cell
    return torch.exp(-l1.square() / (2 * grid_sigma**2))


def _linear_weights(fracs: list[Tensor]) -> Tensor:
    """Multilinear weights ``(N, 2^k)`` of the corners of a cell; corner bits run from the first axis (high)."""
    ones = [1 - f for f in fracs]
    columns = []
    for corner in range(1 << len(fracs)):
        weight = None
        for axis, frac in enumerate(fracs):
            factor = frac if (corner >> (len(fracs) - 1 - axis)) & 1 else ones[axis]
            weight = factor if weight is None else weight * factor
        columns.append(weight)
    return torch.stack(columns, dim=1)


def _weighted_gather(table: Tensor, index: Tensor, weights: Tensor) -> Tensor:
    """``sum_k weights[n, k] * table[index[n, k]]`` for every row ``n`` (one fused kernel on CPU and CUDA)."""
    if table.device.type not in ("cpu", "cuda"):  # per-sample weights are not on every backend (e.g. MPS)
        return _weighted_gather_portable(table, index, weights)
    return F.embedding_bag(index, table, per_sample_weights=weights, mode="sum")


def _weighted_gather_portable(table: Tensor, index: Tensor, weights: Tensor) -> Tensor:
    """Same as :func:`_weighted_gather` from plain indexing, for backends without ``embedding_bag`` weights."""
    return (table.index_select(0, index.flatten()).view(*index.shape, -1) * weights[..., None]).sum(1)


class _ColourLattice:
    """Colour cells of the grid: a lattice anchored at 0, only the cells that receive samples kept.

    Anchoring at 0 makes an image's result independent of the other images in its batch.
    """

    def __init__(self, img: Tensor, sigma_r: float) -> None:
        flat = img.reshape(img.shape[0], 3, -1)
        lows, highs = flat.amin(dim=2).amin(dim=0), flat.amax(dim=2).amax(dim=0)
        spread = (highs - lows).max().item()
        self.cell = max(sigma_r / RANGE_CELLS_PER_SIGMA, spread / (MAX_RANGE_CELLS_PER_CHANNEL - 2), 1e-6)
        self.first = torch.floor(lows / self.cell)
        self.bins = tuple(int(n) + 2 for n in (torch.floor(highs / self.cell) - self.first).tolist())
        self.strides = torch.tensor([self.bins[1] * self.bins[2], self.bins[2], 1], device=img.device)
        self.top = torch.tensor([n - 2 for n in self.bins], device=img.device)
        self.size = self.bins[0] * self.bins[1] * self.bins[2]
        self.used = torch.zeros(self.size, dtype=torch.bool, device=img.device)

    def locate(self, colours: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Flat index of the lower colour cell of each ``(N, 3)`` colour, and the 3 fractions within it."""
        coords = colours / self.cell - self.first
        base = torch.minimum(coords.floor().clamp_(min=0).long(), self.top)
        frac = (coords - base).clamp_(0, 1)
        return (base * self.strides).sum(dim=1), [frac[:, 0], frac[:, 1], frac[:, 2]]

    def mark(self, base: Tensor) -> None:
        self.used |= torch.bincount(base, minlength=self.size) > 0

    def compact(self) -> None:
        """Keep the cells that some pixel's 8 corners reach; ``corners[base]`` gives their compact indices."""
        offsets = torch.tensor(
            [((c >> 2) & 1) * self.strides[0] + ((c >> 1) & 1) * self.strides[1] + (c & 1) for c in range(8)],
            device=self.used.device,
        )
        bases = torch.nonzero(self.used).flatten()
        live = torch.zeros(self.size, dtype=torch.bool, device=self.used.device)
        live[(bases[:, None] + offsets[None, :]).flatten()] = True
        self.cells = torch.nonzero(live).flatten()  # full indices of the kept cells
        compact_of = torch.cumsum(live.long(), 0) - 1
        self.corners = torch.zeros(self.size, 8, dtype=torch.long, device=self.used.device)
        self.corners[bases] = compact_of[bases[:, None] + offsets[None, :]]
        self.count = self.cells.numel()


def _grid_filter(img: Tensor, sigma_s: float, sigma_r: float) -> Tensor:
    batch, _, height, width = img.shape
    device, dtype = img.device, img.dtype
    radius = window_radius(sigma_s)

    # Mirror the border so that pixels near it see the same neighbours as in OpenCV.
    pad_h, pad_w = min(radius, height - 1), min(radius, width - 1)
    padded = F.pad(img, (pad_w, pad_w, pad_h, pad_h), mode="reflect") if max(pad_h, pad_w) > 0 else img
    ph, pw = padded.shape[2], padded.shape[3]
    # Cells never smaller than a pixel, nor so small that the grid outgrows its budget (a tiny sigma_s on a
    # huge image); with sigma_s = 3 % of the side the grid has about 8 000 spatial cells and neither applies.
    space_cell = max(sigma_s / SPATIAL_CELLS_PER_SIGMA, 1.0, math.sqrt(ph * pw / MAX_SPATIAL_CELLS))
    gh = max(int(math.floor((ph - 1) / space_cell + 0.5)) + 1, 2)
    gw = max(int(math.floor((pw - 1) / space_cell + 0.5)) + 1, 2)
    lattice = _ColourLattice(img, sigma_r)

    # Pixels go in chunks of rows: large temporaries cost more in page faults than in arithmetic.
    def chunks(image: Tensor, rows: int, cols: int):
        step = max(1, CHUNK_PIXELS // cols)
        for b in range(batch):
            for r0 in range(0, rows, step):
                r1 = min(rows, r0 + step)
                yield b, r0, r1, image[b, :, r0:r1].permute(1, 2, 0).reshape(-1, 3)

    for _, _, _, colours in chunks(img, height, width):  # the mirrored border repeats these colours
        lattice.mark(lattice.locate(colours)[0])
    lattice.compact()
    k = lattice.count

    # Splat: nearest spatial cell, linear in the three colour axes (8 corners). Layout (B, Y, X, colour, 4).
    # A cell spans many pixels when sigma_s is large; a regular subsample of them then estimates its sums
    # well (the subsampled bilateral filter of Banterle et al. 2012).
    stride = max(1, int(space_cell // SPLAT_PIXELS_PER_STRIDE))
    if stride > 1:
        padded = padded[:, :, stride // 2 :: stride, stride // 2 :: stride]
    rows = torch.arange(padded.shape[2], device=device, dtype=dtype) * stride + stride // 2
    cols = torch.arange(padded.shape[3], device=device, dtype=dtype) * stride + stride // 2
    cell_y = torch.round(rows / space_cell).long()
    cell_x = torch.round(cols / space_cell).long()
    grid = torch.zeros(batch * gh * gw * k, 4, device=device, dtype=dtype)
    for b, r0, r1, colours in chunks(padded, padded.shape[2], padded.shape[3]):
        base, fracs = lattice.locate(colours)
        spatial = ((cell_y[r0:r1, None] * gw + cell_x[None, :]) + b * gh * gw).flatten() * k
        index = spatial[:, None] + lattice.corners.index_select(0, base)
        homogeneous = torch.cat([colours, torch.ones_like(colours[:, :1])], dim=1)
        values = _linear_weights(fracs)[:, :, None] * homogeneous[:, None, :]
        grid.index_add_(0, index.flatten(), values.view(-1, 4))

    # Blur: range (dense over the kept colour cells), then space (depthwise 2-D over the spatial cells).
    # The grid kernels are narrowed by the spread that splatting and slicing add (calibrated on portraits).
    grid_sigma_s = math.sqrt(max(sigma_s**2 - space_cell**2 * SPACE_COMP, (0.5 * sigma_s) ** 2))
    grid_sigma_r = math.sqrt(max(sigma_r**2 - lattice.cell**2 * RANGE_COMP, (0.5 * sigma_r) ** 2))
    range_blur = _range_matrix(lattice.cells, lattice.bins, lattice.cell, grid_sigma_r, dtype)
    grid = torch.matmul(grid.view(batch * gh * gw, k, 4).transpose(1, 2), range_blur)  # symmetric matrix
    kernel = _spatial_kernel(radius, space_cell, grid_sigma_s, dtype, device)
    channels = 4 * k
    grid = grid.reshape(batch, gh, gw, channels).permute(0, 3, 1, 2)
    grid = F.conv2d(grid, kernel.expand(channels, 1, -1, -1), padding=kernel.shape[-1] // 2, groups=channels)
    grid = grid.permute(0, 2, 3, 1).reshape(batch * gh * gw, 4, k).transpose(1, 2).reshape(-1, 4)

    # Slice at the original pixels: bilinear in space, linear in colour (32 corners).
    gy = (torch.arange(height, device=device, dtype=dtype) + pad_h) / space_cell
    gx = (torch.arange(width, device=device, dtype=dtype) + pad_w) / space_cell
    y0 = gy.floor().long().clamp_(max=gh - 2)
    x0 = gx.floor().long().clamp_(max=gw - 2)
    fy, fx = (gy - y0).clamp_(0, 1), (gx - x0).clamp_(0, 1)
    out = torch.empty(batch, height, width, 3, device=device, dtype=dtype)
    for b, r0, r1, colours in chunks(img, height, width):
        base, fracs = lattice.locate(colours)
        rows = r1 - r0
        spatial = ((y0[r0:r1, None] * gw + x0[None, :]) + b * gh * gw).flatten() * k
        range_index = spatial[:, None] + lattice.corners.index_select(0, base)
        range_weights = _linear_weights(fracs)
        wy = fy[r0:r1, None].expand(rows, width).reshape(-1, 1)
        wx = fx.repeat(rows)[:, None]
        # Colour interpolation at each of the 4 surrounding spatial cells, then bilinear in space.
        sums = None
        for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
            at_cell = _weighted_gather(grid, range_index + (dy * gw + dx) * k, range_weights)
            weight = (wy if dy else 1 - wy) * (wx if dx else 1 - wx)
            sums = at_cell * weight if sums is None else sums.addcmul_(at_cell, weight)
        out[b, r0:r1] = (sums[:, :3] / sums[:, 3:].clamp_min(torch.finfo(dtype).tiny)).view(rows, width, 3)
    return out.permute(0, 3, 1, 2).contiguous()
