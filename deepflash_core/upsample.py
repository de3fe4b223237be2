"""Edge-aware upsampling of a low-resolution correction, guided by the full-resolution photo.

The network predicts the low-frequency correction ``D`` at its own size (e.g. 512 x 512); the photo's face crop
can be 2000 x 2000. Bilinear upsampling blurs ``D`` across the face outline and the hair, which leaves a halo
(background pixels take the face's correction and the other way round). The fast guided filter (He & Sun 2015,
"Fast Guided Filter") avoids it: at low resolution, fit in every window a local affine model from the guide's
colour to the correction,

    D ~ A · I + b        (A: C x 3 per pixel, I: the guide's RGB, ridge term ``eps`` on A),

average the coefficients over the windows that cover each pixel, upsample only the (smooth) coefficients
bilinearly, and apply them to the full-resolution guide. Edges of ``D`` then follow the photo's edges at full
resolution. Where ``D`` is constant the model is ``A = 0, b = D``, so a constant correction comes out unchanged.

Chosen over bilinear, joint bilateral and bilateral-grid slicing by the halo test in ``tests/test_upsample.py``
and the figures of ``benchmarks/bench_upsample.py``. Everything is box filters (cumulative sums) at low
resolution, plus one pass over the high-resolution rows in strips, so the cost at 12 MP is dominated by memory
bandwidth.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from deepflash_core.errors import InvalidOptionError

DEFAULT_RADIUS = 4
DEFAULT_EPS = 1e-3
STRIP_PIXELS = 1 << 17


def guided_upsample(
    low: Tensor,
    guide_low: Tensor,
    guide_high: Tensor,
    radius: int = DEFAULT_RADIUS,
    eps: float = DEFAULT_EPS,
) -> Tensor:
    """Upsample ``low`` to ``guide_high``'s size, its edges following ``guide_high``'s edges.

    Args:
        low: ``(B, C, h, w)`` low-resolution signal (e.g. the correction ``D`` in [-1, 1]).
        guide_low: ``(B, 3, h, w)`` the photo at ``low``'s resolution (what the network saw), in [0, 1].
        guide_high: ``(B, 3, H, W)`` the same photo at the target resolution, ``H >= h``, ``W >= w``.
        radius: radius in low-resolution pixels of the windows of the local linear model.
        eps: ridge regularisation of the model's slope; larger gives smoother, less edge-following output.

    Returns:
        ``(B, C, H, W)`` tensor on ``guide_high``'s device, in ``low``'s dtype.

    Raises:
        InvalidOptionError: shapes, dtypes or parameters do not fit together, or values are not finite.

    Example:
        >>> d = torch.full((1, 3, 16, 16), 0.25)
        >>> out = guided_upsample(d, torch.rand(1, 3, 16, 16), torch.rand(1, 3, 64, 64))
        >>> out.shape, bool(torch.allclose(out, torch.full_like(out, 0.25), atol=1e-5))
        (torch.Size([1, 3, 64, 64]), True)
    """
    _check_inputs(low, guide_low, guide_high, radius, eps)
    dtype = low.dtype
    low, guide_low = low.float(), guide_low.float()
    coefs = _local_linear_model(low, guide_low, radius, eps)
    return _apply_upsampled(coefs, guide_high).to(dtype)


def bilinear_upsample(low: Tensor, size: tuple[int, int]) -> Tensor:
    """Plain bilinear upsampling (half-pixel centres); the baseline the guided version is measured against."""
    return F.interpolate(low, size=size, mode="bilinear", align_corners=False)


def _check_inputs(low: object, guide_low: object, guide_high: object, radius: int, eps: float) -> None:
    for name, value in (("low", low), ("guide_low", guide_low), ("guide_high", guide_high)):
        if not isinstance(value, Tensor) or value.ndim != 4 or not value.is_floating_point() or value.numel() == 0:
            shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise InvalidOptionError(f"{name} must be a non-empty floating (B, C, H, W) tensor, got {shape}.")
        if not bool(torch.isfinite(value).all()):
            raise InvalidOptionError(f"{name} contains NaN or infinite values.")
    assert isinstance(low, Tensor) and isinstance(guide_low, Tensor) and isinstance(guide_high, Tensor)
    if guide_low.shape[1] != 3 or guide_high.shape[1] != 3:
        raise InvalidOptionError("The guides must be RGB: (B, 3, H, W).")
    if guide_low.shape[0] != low.shape[0] or guide_high.shape[0] != low.shape[0]:
        raise InvalidOptionError("low, guide_low and guide_high must have the same batch size.")
    if guide_low.shape[2:] != low.shape[2:]:
        raise InvalidOptionError(f"guide_low is {tuple(guide_low.shape[2:])}, low is {tuple(low.shape[2:])}.")
    if guide_high.shape[2] < low.shape[2] or guide_high.shape[3] < low.shape[3]:
        raise InvalidOptionError("guide_high must be at least as large as low.")
    if not isinstance(radius, int) or isinstance(radius, bool) or radius < 1:
        raise InvalidOptionError(f"radius must be a positive integer, got {radius!r}.")
    if not isinstance(eps, (int, float)) or not eps > 0 or eps == float("inf"):
        raise InvalidOptionError(f"eps must be a positive finite number, got {eps!r}.")


def _box_mean(x: Tensor, radius: int) -> Tensor:
    """Mean over the (2r+1)^2 window clipped to the image (He et al.'s normalised box filter)."""
    summed = _box_sum(_box_sum(x, radius, dim=2), radius, dim=3)
    ones = torch.ones(1, 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
    count = _box_sum(_box_sum(ones, radius, dim=2), radius, dim=3)
    return summed / count


def _box_sum(x: Tensor, radius: int, dim: int) -> Tensor:
    """Sum over ``[i - r, i + r]`` along ``dim``, clipped at the borders, by a cumulative sum (O(1) per pixel)."""
    n = x.shape[dim]
    cum = torch.cumsum(x, dim=dim)
    cum = torch.cat([torch.zeros_like(cum.narrow(dim, 0, 1)), cum], dim=dim)  # cum[i] = sum of x[:i]
    idx = torch.arange(n, device=x.device)
    upper = (idx + radius + 1).clamp(max=n)
    lower = (idx - radius).clamp(min=0)
    return cum.index_select(dim, upper) - cum.index_select(dim, lower)


def _local_linear_model(p: Tensor, guide: Tensor, radius: int, eps: float) -> Tensor:
    """Window-averaged coefficients of ``p ~ A · I + b`` as one ``(B, 4C, h, w)`` tensor: ``A`` (C x 3), then ``b``."""
    batch, channels, h, w = p.shape
    # Centre I on its mean: the box sums stay small and float32 keeps its precision.
    guide_mean = guide.mean(dim=(2, 3))
    guide = guide - guide_mean[:, :, None, None]
    mean_i = _box_mean(guide, radius)  # (B, 3, h, w)
    mean_p = _box_mean(p, radius)  # (B, C, h, w)
    products = (guide[:, :, None] * p[:, None, :]).reshape(batch, 3 * channels, h, w)
    cov_ip = _box_mean(products, radius).view(batch, 3, channels, h, w) - mean_i[:, :, None] * mean_p[:, None, :]
    pairs = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
    second = _box_mean(torch.stack([guide[:, i] * guide[:, j] for i, j in pairs], dim=1), radius)
    s00, s01, s02, s11, s12, s22 = (
        second[:, k] - mean_i[:, i] * mean_i[:, j] + (eps if i == j else 0.0) for k, (i, j) in enumerate(pairs)
    )
    # Solve the symmetric 3 x 3 system of every pixel through its adjugate (vectorised, on every backend).
    c00, c01, c02 = s11 * s22 - s12 * s12, s02 * s12 - s01 * s22, s01 * s12 - s02 * s11
    c11, c12, c22 = s00 * s22 - s02 * s02, s01 * s02 - s00 * s12, s00 * s11 - s01 * s01
    det = s00 * c00 + s01 * c01 + s02 * c02
    inverse = torch.stack([c00, c01, c02, c01, c11, c12, c02, c12, c22], dim=1).view(batch, 3, 3, h, w)
    inverse = inverse / det[:, None, None]
    coef_a = torch.einsum("bijhw,bjchw->bcihw", inverse, cov_ip)  # (B, C, 3, h, w)
    coef_b = mean_p - torch.einsum("bcihw,bihw->bchw", coef_a, mean_i)
    coefs = _box_mean(torch.cat([coef_a.reshape(batch, 3 * channels, h, w), coef_b], dim=1), radius)
    # Fold the centring into b so that the coefficients apply to the raw high-resolution guide.
    coef_a = coefs[:, : 3 * channels].view(batch, channels, 3, h, w)
    coefs[:, 3 * channels :] -= torch.einsum("bcihw,bi->bchw", coef_a, guide_mean)
    return coefs


def _source_positions(n_out: int, n_in: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Bilinear taps (half-pixel centres, as ``F.interpolate(align_corners=False)``): i0, i1 and weight of i1."""
    pos = ((torch.arange(n_out, device=device, dtype=torch.float32) + 0.5) * (n_in / n_out) - 0.5).clamp_(min=0)
    i0 = pos.floor().long().clamp_(max=n_in - 1)
    i1 = (i0 + 1).clamp_(max=n_in - 1)
    return i0, i1, pos - i0


def _apply_upsampled(coefs: Tensor, guide_high: Tensor) -> Tensor:
    """``A · I + b`` at full resolution, the coefficients upsampled bilinearly strip by strip."""
    batch, _, h, w = coefs.shape
    channels = coefs.shape[1] // 4
    height, width = guide_high.shape[2:]
    coefs = coefs.to(guide_high.device)
    y0, y1, wy = _source_positions(height, h, guide_high.device)
    x0, x1, wx = _source_positions(width, w, guide_high.device)
    out = torch.empty(batch, channels, height, width, device=guide_high.device, dtype=torch.float32)
    rows_per_strip = max(1, STRIP_PIXELS // width)
    for r0 in range(0, height, rows_per_strip):
        r1 = min(height, r0 + rows_per_strip)
        ty = wy[r0:r1, None]
        rows = torch.lerp(coefs.index_select(2, y0[r0:r1]), coefs.index_select(2, y1[r0:r1]), ty)
        strip = torch.lerp(rows.index_select(3, x0), rows.index_select(3, x1), wx)  # (B, 4C, r, W)
        guide = guide_high[:, :, r0:r1].float()
        result = strip[:, 3 * channels :].clone()
        coef_a = strip[:, : 3 * channels].view(batch, channels, 3, r1 - r0, width)
        for i in range(3):
            result.addcmul_(coef_a[:, :, i], guide[:, i : i + 1])
        out[:, :, r0:r1] = result
    return out
