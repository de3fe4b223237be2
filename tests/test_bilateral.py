"""Bilateral grid filter: agreement with its definition, with OpenCV, and input checks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import deepflash_core.encoding.bilateral as bilateral_module
from deepflash_client.errors import DeepFlashError, InvalidOptionError
from deepflash_core.encoding.bilateral import BilateralFilter, bilateral_filter, sigma_s_for, window_radius
from portraits import STUDIO_PORTRAITS

FIXTURES = STUDIO_PORTRAITS


def reference_bilateral(img: np.ndarray, sigma_s: float, sigma_r: float) -> np.ndarray:
    """Brute-force colour bilateral filter of an ``(H, W, 3)`` float image, written from the definition.

    Disc window of radius round(1.5 sigma_s), Gaussian spatial weight, Gaussian of the L1 colour distance,
    mirrored border without repeating the edge pixel.
    """
    radius = max(int(round(1.5 * sigma_s)), 1)
    height, width, _ = img.shape
    padded = np.pad(img.astype(np.float64), ((radius, radius), (radius, radius), (0, 0)), mode="reflect")
    centre = img.astype(np.float64)
    num = np.zeros_like(centre)
    den = np.zeros((height, width, 1))
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy * dy + dx * dx > radius * radius:
                continue
            neighbour = padded[radius + dy : radius + dy + height, radius + dx : radius + dx + width]
            l1 = np.abs(neighbour - centre).sum(axis=2, keepdims=True)
            weight = np.exp(-(dy * dy + dx * dx) / (2 * sigma_s**2)) * np.exp(-(l1**2) / (2 * sigma_r**2))
            num += weight * neighbour
            den += weight
    return (num / den).astype(np.float32)


def load_fixture(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB float32 in [0, 1]; ``size`` = (width, height) resizes with area averaging."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    if size is not None:
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(bgr[:, :, ::-1]).astype(np.float32) / 255.0


def to_batch(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def to_image(batch: torch.Tensor, index: int = 0) -> np.ndarray:
    return batch[index].permute(1, 2, 0).numpy()


@pytest.fixture(params=["direct", "grid"])
def method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the exact window sum and again with the bilateral grid, whatever the image size."""
    monkeypatch.setattr(bilateral_module, "DIRECT_MAX_PAIRS", 1 << 62 if request.param == "direct" else 0)
    return request.param


def test_sigma_s_is_three_percent_of_the_larger_side() -> None:
    assert sigma_s_for(512, 512) == pytest.approx(15.36)
    assert sigma_s_for(275, 225) == pytest.approx(8.25)
    assert sigma_s_for(1000, 4000) == pytest.approx(120.0)


def test_window_radius_follows_opencv() -> None:
    assert window_radius(15.36) == 23
    assert window_radius(3.0) == 4  # 4.5 rounds half to even, as cvRound does
    assert window_radius(0.2) == 1


def test_reference_matches_opencv() -> None:
    """The test's own brute force is the same filter as cv2.bilateralFilter on 3-channel float32."""
    img = load_fixture(FIXTURES[0], (36, 44))
    ours = reference_bilateral(img, 3.0, 0.4)
    # cv2.bilateralFilter(img, d=-1, sigmaColor=0.4, sigmaSpace=3.0): radius round(4.5) = 4
    theirs = cv2.bilateralFilter(img, -1, 0.4, 3.0)
    assert np.abs(ours - theirs).max() < 1e-4


@pytest.mark.parametrize("sigma_s", [1.3, 3.0, 5.5])
def test_grid_matches_brute_force_definition(sigma_s: float, method: str) -> None:
    img = load_fixture(FIXTURES[1], (40, 48))
    expected = reference_bilateral(img, sigma_s, 0.4)
    got = to_image(bilateral_filter(to_batch(img), sigma_s))
    error = np.abs(got - expected)
    assert error.mean() < 1.0 / 255
    assert error.max() < 12.0 / 255


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_grid_matches_opencv_on_portraits(path: Path, method: str) -> None:
    img = load_fixture(path)
    height, width = img.shape[:2]
    sigma_s = sigma_s_for(height, width)
    expected = cv2.bilateralFilter(img, -1, 0.4, sigma_s)
    got = to_image(bilateral_filter(to_batch(img), sigma_s))
    error = np.abs(got - expected)
    assert error.mean() <= 1.0 / 255
    assert np.quantile(error, 0.99) <= 4.0 / 255


def test_grid_matches_opencv_with_other_range_sigma(method: str) -> None:
    img = load_fixture(FIXTURES[2], (112, 137))
    expected = cv2.bilateralFilter(img, -1, 0.15, 6.0)
    got = to_image(bilateral_filter(to_batch(img), 6.0, sigma_r=0.15))
    assert np.abs(got - expected).mean() <= 1.0 / 255


def test_small_images_are_summed_exactly_and_large_ones_on_the_grid() -> None:
    """The network-input sizes take the exact sum; a 512 px input and a full crop take the grid."""
    for size, direct in ((64, True), (128, True), (512, False), (2000, False)):
        assert bilateral_module.uses_direct_sum(size, size, sigma_s_for(size, size)) is direct
    assert not bilateral_module.uses_direct_sum(3, 40, 4.0)  # a window wider than the image: grid


def test_direct_sum_is_the_definition() -> None:
    img = load_fixture(FIXTURES[0], (64, 64))
    sigma_s = sigma_s_for(64, 64)
    threads = torch.get_num_threads()
    got = to_image(bilateral_filter(to_batch(img), sigma_s))
    assert torch.get_num_threads() == threads  # the count lowered inside is restored
    assert np.abs(got - reference_bilateral(img, sigma_s, 0.4)).max() < 1e-5
    assert np.abs(got - cv2.bilateralFilter(img, -1, 0.4, sigma_s)).max() < 1e-4


def test_batch_shape_dtype_and_independence(method: str) -> None:
    a, b = load_fixture(FIXTURES[0], (48, 40)), load_fixture(FIXTURES[1], (48, 40))
    batch = to_batch(a, b)
    out = bilateral_filter(batch, 2.5)
    assert out.shape == batch.shape and out.dtype == torch.float32 and out.device == batch.device
    alone = bilateral_filter(batch[1:], 2.5)
    assert torch.allclose(out[1:], alone, atol=1e-6)
    assert not torch.allclose(out[0], out[1])
    doubled = bilateral_filter(batch.double(), 2.5)
    assert doubled.dtype == torch.float64
    assert torch.allclose(doubled.float(), out, atol=1e-5)


def test_module_wrapper_calls_the_function() -> None:
    batch = to_batch(load_fixture(FIXTURES[2], (30, 36)))
    module = BilateralFilter(sigma_s=2.0, sigma_r=0.3)
    assert torch.equal(module(batch), bilateral_filter(batch, 2.0, 0.3))
    assert "sigma_s=2.0" in repr(module)
    # NumPy scalars are numbers too (sigma_s often comes from array arithmetic).
    assert torch.equal(bilateral_filter(batch, np.float32(2.0), np.float64(0.3)), module(batch))


def test_constant_image_stays_constant(method: str) -> None:
    batch = torch.full((2, 3, 33, 21), 0.37)
    batch[1] = 0.81
    out = bilateral_filter(batch, 4.0)
    assert torch.allclose(out, batch, atol=1e-6)


def test_step_edge_stays_a_step(method: str) -> None:
    """Two flat regions far apart in colour do not bleed into each other, unlike under a spatial-only blur."""
    img = torch.full((1, 3, 40, 40), 0.2)
    img[..., 20:] = torch.tensor([0.9, 0.7, 0.8])[:, None, None]
    out = bilateral_filter(img, 5.0)
    assert (out - img).abs().max() < 0.5 / 255
    # With a huge range sigma the filter is a plain Gaussian blur: the columns next to the step move far.
    blurred = bilateral_filter(img, 5.0, sigma_r=100.0)
    assert (blurred - img)[..., 18:22].abs().amin() > 0.1


def test_smooths_noise_within_a_region(method: str) -> None:
    generator = torch.Generator().manual_seed(0)
    img = 0.5 + 0.03 * torch.randn(1, 3, 48, 48, generator=generator)
    out = bilateral_filter(img, 4.0)
    assert out.std() < 0.3 * img.std()
    assert abs(out.mean().item() - img.mean().item()) < 1e-3


def test_portable_gather_matches_the_fused_one() -> None:
    """The path used on backends without weighted ``embedding_bag`` (e.g. MPS) computes the same sums."""
    generator = torch.Generator().manual_seed(1)
    table = torch.rand(50, 4, generator=generator)
    index = torch.randint(0, 50, (30, 8), generator=generator)
    weights = torch.rand(30, 8, generator=generator)
    fused = bilateral_module._weighted_gather(table, index, weights)
    portable = bilateral_module._weighted_gather_portable(table, index, weights)
    assert torch.allclose(fused, portable, atol=1e-6)
    expected = (table[index] * weights[..., None]).sum(dim=1)
    assert torch.allclose(fused, expected, atol=1e-6)


def test_gradient_flows(method: str) -> None:
    img = torch.rand(1, 3, 12, 10, dtype=torch.float64, requires_grad=True)
    bilateral_filter(img, 2.0).sum().backward()
    assert img.grad is not None and torch.isfinite(img.grad).all() and img.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "img",
    [
        torch.rand(3, 8, 8),
        torch.rand(1, 1, 8, 8),
        torch.rand(1, 4, 8, 8),
        torch.zeros(1, 3, 8, 8, dtype=torch.uint8),
        torch.zeros(0, 3, 8, 8),
        torch.full((1, 3, 8, 8), float("nan")),
        torch.full((1, 3, 8, 8), float("inf")),
        np.zeros((1, 3, 8, 8), np.float32),
    ],
    ids=["rank3", "one_channel", "four_channels", "uint8", "empty", "nan", "inf", "numpy"],
)
def test_bad_image_raises(img: object) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        bilateral_filter(img, 2.0)  # type: ignore[arg-type]
    assert isinstance(caught.value, DeepFlashError) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "sigma_s, sigma_r", [(0.0, 0.4), (-1.0, 0.4), (2.0, 0.0), (2.0, -0.1), (float("nan"), 0.4), (True, 0.4), ("3", 0.4)]
)
def test_bad_sigma_raises(sigma_s: float, sigma_r: float) -> None:
    with pytest.raises(InvalidOptionError):
        bilateral_filter(torch.rand(1, 3, 8, 8), sigma_s, sigma_r)
    with pytest.raises(InvalidOptionError):
        BilateralFilter(sigma_s, sigma_r)
