"""The HDRNet-style bilateral-grid model: slicing, identity start, gradients, the model contract."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from deepflash_core.encoding import equations
from deepflash_core.network.gridnet import BilateralGridNet, GridNetConfig, apply_affine, slice_grid

TINY = GridNetConfig(input_size=32, grid_size=8, luma_bins=4, channels=2, guide_knots=4)


def reference_slice(grid: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """Trilinear interpolation written as a loop: cell centres at (i + 0.5) / n, clamped at the border."""
    channels, depth, rows, columns = grid.shape
    height, width = guide.shape
    out = np.zeros((channels, height, width))
    for i, j in itertools.product(range(height), range(width)):
        position = [(guide[i, j]) * depth - 0.5, (i + 0.5) / height * rows - 0.5, (j + 0.5) / width * columns - 0.5]
        sizes = (depth, rows, columns)
        position = [min(max(p, 0.0), n - 1.0) for p, n in zip(position, sizes)]
        low = [int(np.floor(p)) for p in position]
        fraction = [p - lo for p, lo in zip(position, low)]
        for corner in itertools.product((0, 1), repeat=3):
            index = [min(lo + c, n - 1) for lo, c, n in zip(low, corner, sizes)]
            weight = np.prod([f if c else 1.0 - f for f, c in zip(fraction, corner)])
            out[:, i, j] += weight * grid[:, index[0], index[1], index[2]]
    return out


def test_slicing_matches_a_direct_loop_on_a_tiny_grid() -> None:
    generator = torch.Generator().manual_seed(3)
    grid = torch.rand(1, 2, 3, 4, 5, generator=generator, dtype=torch.float64)
    guide = torch.rand(1, 1, 7, 9, generator=generator, dtype=torch.float64)
    guide[0, 0, 0, :3] = torch.tensor([0.0, 1.0, 0.5])  # the guide's ends and a cell boundary
    sliced = slice_grid(grid, guide)
    expected = reference_slice(grid[0].numpy(), guide[0, 0].numpy())
    np.testing.assert_allclose(sliced[0].numpy(), expected, atol=1e-10)


def test_affine_application_is_a_matrix_times_colour_plus_offset() -> None:
    matrix = torch.tensor([[0.5, 0.1, 0.0, 0.2], [0.0, 1.0, 0.0, -0.1], [0.3, 0.3, 0.3, 0.0]])
    coefficients = matrix.flatten()[None, :, None, None].expand(1, 12, 2, 2)
    image = torch.rand(1, 3, 2, 2)
    expected = torch.einsum("ij,bjhw->bihw", matrix[:, :3], image) + matrix[:, 3][None, :, None, None]
    torch.testing.assert_close(apply_affine(coefficients, image), expected)


@pytest.mark.parametrize("size", [32, 48])
def test_output_shape_and_range_at_any_input_size(size: int) -> None:
    model = BilateralGridNet(TINY).eval()
    with torch.no_grad():
        for layer in model.coefficients.head.parameters():
            layer.normal_(0, 0.5)
        y = model(torch.rand(2, 3, size, size))
    assert y.shape == (2, 3, size, size)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_a_new_model_changes_nothing() -> None:
    model = BilateralGridNet(TINY).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        correction = equations.correction(model(x))
    assert float(correction.abs().max()) == 0.0


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    model = BilateralGridNet(TINY).train()
    x, target = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    # From the identity start only the head can move; the rest follows once it has.
    equations.deepflash_loss(model(x), target).backward()
    head = model.coefficients.head
    assert float(head.weight.grad.abs().sum()) > 0
    with torch.no_grad():
        head.weight.normal_(0, 0.1)
    model.zero_grad()
    equations.deepflash_loss(model(x), target).backward()
    silent = [name for name, p in model.named_parameters() if p.grad is None or float(p.grad.abs().sum()) == 0]
    assert silent == []


def test_config_checks_the_grid_fits_the_input() -> None:
    with pytest.raises(ValueError, match="power of 2"):
        GridNetConfig(input_size=96, grid_size=16)
    assert GridNetConfig(input_size=128, grid_size=16).halvings == 3
