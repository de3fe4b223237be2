"""Exact tests of the bilateral encoding (equations 1, 2, 5, 7, 8)."""

import numpy as np
import pytest
import torch

from deepflash_core.encoding import equations


def dyadic(shape, seed):
    """Values k/256 in float64: every +, −, ×2 and /2 in the encoding is exact on them."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 257, shape, generator=generator, dtype=torch.float64) / 256


def test_reconstructing_the_target_gives_eq8_exactly():
    x, xb, ob = (dyadic((2, 3, 8, 8), seed) for seed in (1, 2, 3))
    t = equations.target(xb, ob)
    assert torch.equal(equations.reconstruct(x, t), equations.reconstructed_ground_truth(x, xb, ob))


def test_target_maps_difference_into_unit_range():
    xb, ob = dyadic((1, 3, 4, 4), 4), dyadic((1, 3, 4, 4), 5)
    t = equations.target(xb, ob)
    assert t.min() >= 0 and t.max() <= 1
    assert torch.equal(equations.target(xb, xb), torch.full_like(xb, 0.5))
    assert torch.equal(equations.correction(t), xb - ob)


def test_reconstruct_strength_zero_is_identity_and_half_is_halfway():
    x, y = dyadic((1, 3, 4, 4), 6), dyadic((1, 3, 4, 4), 7)
    assert torch.equal(equations.reconstruct(x, y, 0.0), x)
    full = equations.reconstruct(x, y, 1.0)
    assert torch.equal(equations.reconstruct(x, y, 0.5), (x + full) / 2)
    assert torch.equal(full, x - 2 * y + 1)


def test_encoding_works_on_numpy_arrays():
    x = np.full((4, 4, 3), 0.25)
    assert np.array_equal(equations.reconstruct(x, np.full_like(x, 0.5)), x)


def test_loss_matches_a_loop_over_images_and_channels():
    y, t = torch.rand(2, 3, 5, 6, dtype=torch.float64), torch.rand(2, 3, 5, 6, dtype=torch.float64)
    expected = 0.0
    for b in range(2):
        per_image = 0.0
        for c in range(3):
            diff = (t[b, c] - y[b, c]).numpy()
            mean_of_y_minus_t = (y[b, c] - t[b, c]).numpy().mean()
            per_image += ((diff + mean_of_y_minus_t) ** 2).sum()
        expected += 4.0 / (3 * 5 * 6) * per_image
    expected /= 2
    assert equations.deepflash_loss(y, t).item() == pytest.approx(expected, rel=1e-12)


def test_loss_ignores_a_per_image_per_channel_offset_but_not_structure():
    t = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    offset = torch.tensor([0.1, -0.2, 0.05], dtype=torch.float64).view(1, 3, 1, 1)
    assert equations.deepflash_loss(t + offset, t).item() == pytest.approx(0.0, abs=1e-20)
    ramp = torch.linspace(0, 0.1, 8, dtype=torch.float64).view(1, 1, 1, 8)
    assert equations.deepflash_loss(t + ramp, t).item() > 1e-4


def test_loss_has_gradients_and_rejects_mismatched_shapes():
    y = torch.rand(1, 3, 4, 4, requires_grad=True)
    equations.deepflash_loss(y, torch.rand(1, 3, 4, 4)).backward()
    assert y.grad is not None and torch.isfinite(y.grad).all()
    with pytest.raises(ValueError):
        equations.deepflash_loss(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))


def test_accuracy_eq7():
    a = torch.zeros(2, 3, 4, 4)
    b = a.clone()
    b[1] += 0.25
    assert torch.allclose(equations.accuracy(a, b), torch.tensor([100.0, 75.0]))
    assert equations.accuracy(np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.1)) == pytest.approx(90.0)
