"""Guided upsampling of the low-resolution correction: no halo at the subject's outline, exact on constants."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deepflash_client.errors import DeepFlashError, InvalidOptionError
from deepflash_core.reconstruction.upsample import bilinear_upsample, guided_upsample

SCALE = 4


def silhouette_scene(size: int = 192, seed: int = 0) -> dict[str, torch.Tensor]:
    """A subject with a sharp, wavy outline on a textured background, and a correction that differs across it.

    Returns the full-resolution photo, its true correction, the outline mask and the low-resolution inputs
    (area-downsampled by ``SCALE``, as the network's input and output are).
    """
    generator = torch.Generator().manual_seed(seed)
    coords = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    angle = torch.atan2(yy, xx)
    # An ellipse whose border wiggles like hair, sampled at full resolution (no anti-aliasing: a hard edge).
    radius = 0.62 + 0.05 * torch.sin(9 * angle) + 0.02 * torch.sin(23 * angle)
    inside = ((xx / 0.85) ** 2 + (yy / 1.0) ** 2).sqrt() < radius
    skin = torch.tensor([0.82, 0.62, 0.52])[:, None, None]
    backdrop = torch.tensor([0.25, 0.35, 0.55])[:, None, None]
    texture = 0.03 * torch.randn(3, size, size, generator=generator)
    photo = torch.where(inside, skin, backdrop) + texture + 0.05 * yy
    photo = photo.clamp(0, 1)[None]
    # The correction: strong and position-dependent on the subject, small and flat on the background.
    on_subject = torch.stack([0.20 + 0.05 * xx, 0.12 + 0.04 * yy, 0.08 + 0.0 * xx])
    on_backdrop = torch.tensor([-0.04, -0.02, 0.03])[:, None, None].expand(3, size, size)
    correction = torch.where(inside, on_subject, on_backdrop)[None]
    low_size = size // SCALE
    return {
        "photo": photo,
        "correction": correction,
        "inside": inside,
        "photo_low": F.interpolate(photo, size=(low_size, low_size), mode="area"),
        "correction_low": F.interpolate(correction, size=(low_size, low_size), mode="area"),
    }


def near_outline(inside: torch.Tensor, width: int) -> torch.Tensor:
    """Pixels within ``width`` px (Chebyshev) of the subject's outline."""
    mask = inside[None, None].float()
    grown = F.max_pool2d(mask, 2 * width + 1, stride=1, padding=width)
    shrunk = -F.max_pool2d(-mask, 2 * width + 1, stride=1, padding=width)
    return (grown - shrunk)[0, 0] > 0


def band_error(result: torch.Tensor, truth: torch.Tensor, band: torch.Tensor) -> float:
    return (result - truth).abs().mean(dim=1)[0][band].mean().item()


def test_guided_beats_bilinear_near_the_outline() -> None:
    scene = silhouette_scene()
    size = scene["photo"].shape[-1]
    guided = guided_upsample(scene["correction_low"], scene["photo_low"], scene["photo"])
    bilinear = bilinear_upsample(scene["correction_low"], (size, size))
    band = near_outline(scene["inside"], width=SCALE)
    guided_error = band_error(guided, scene["correction"], band)
    bilinear_error = band_error(bilinear, scene["correction"], band)
    # Measured: about 0.22 of bilinear's error in the band (see benchmarks/bench_upsample.py).
    assert guided_error < 0.5 * bilinear_error
    # Away from the outline both are accurate, and the guided one is not worse.
    interior = ~near_outline(scene["inside"], width=3 * SCALE)
    assert band_error(guided, scene["correction"], interior) < 0.01
    assert band_error(guided, scene["correction"], interior) <= band_error(bilinear, scene["correction"], interior) + 2e-3


def test_no_halo_beyond_the_outline() -> None:
    """Background pixels next to the subject keep the background's correction (no leak of the face's)."""
    scene = silhouette_scene(seed=1)
    size = scene["photo"].shape[-1]
    guided = guided_upsample(scene["correction_low"], scene["photo_low"], scene["photo"])
    bilinear = bilinear_upsample(scene["correction_low"], (size, size))
    ring = near_outline(scene["inside"], width=SCALE) & ~scene["inside"]
    leak_guided = (guided - scene["correction"])[0, 0][ring].abs().quantile(0.9).item()
    leak_bilinear = (bilinear - scene["correction"])[0, 0][ring].abs().quantile(0.9).item()
    assert leak_guided < 0.5 * leak_bilinear


@pytest.mark.parametrize("value", [0.0, 0.3, -0.7])
def test_constant_correction_is_unchanged(value: float) -> None:
    scene = silhouette_scene(size=96)
    low = torch.full((1, 3, 24, 24), value)
    out = guided_upsample(low, scene["photo_low"], scene["photo"])
    assert out.shape == (1, 3, 96, 96)
    assert torch.allclose(out, torch.full_like(out, value), atol=1e-5)


def test_same_size_and_batches_and_channels() -> None:
    generator = torch.Generator().manual_seed(3)
    guide = torch.rand(2, 3, 40, 30, generator=generator)
    signal = torch.rand(2, 1, 20, 15, generator=generator)
    guide_low = F.interpolate(guide, size=(20, 15), mode="area")
    out = guided_upsample(signal, guide_low, guide)
    assert out.shape == (2, 1, 40, 30) and out.dtype == torch.float32
    alone = guided_upsample(signal[1:], guide_low[1:], guide[1:])
    assert torch.allclose(out[1:], alone, atol=1e-6)
    # Upsampling by 1 with a tiny eps reproduces a signal that is a linear function of the guide.
    linear = 0.3 * guide_low[:, :1] - 0.2 * guide_low[:, 2:] + 0.1
    same = guided_upsample(linear, guide_low, guide_low, eps=1e-6)
    assert torch.allclose(same, linear, atol=1e-3)


def test_target_a_little_smaller_on_one_side() -> None:
    """Rounding can make the native crop a pixel smaller than the network's on one side: still handled."""
    scene = silhouette_scene(size=96)
    low = torch.full((1, 3, 24, 24), 0.2)
    guide_high = F.interpolate(scene["photo"], size=(23, 30), mode="area")
    out = guided_upsample(low, scene["photo_low"], guide_high)
    assert out.shape == (1, 3, 23, 30)
    assert torch.allclose(out, torch.full_like(out, 0.2), atol=1e-5)


def test_non_multiple_sizes_and_double() -> None:
    guide = torch.rand(1, 3, 77, 51, dtype=torch.float64)
    guide_low = F.interpolate(guide, size=(20, 13), mode="area")
    signal = torch.rand(1, 3, 20, 13, dtype=torch.float64)
    out = guided_upsample(signal, guide_low, guide, radius=2, eps=1e-2)
    assert out.shape == (1, 3, 77, 51) and out.dtype == torch.float64
    assert torch.isfinite(out).all()


def test_integer_guide_weight_and_output_buffer() -> None:
    """uint8/uint16 pixels guide as value / full scale; ``weight`` and ``out`` (even over the guide) agree."""
    scene = silhouette_scene(size=96)
    low, guide_low = scene["correction_low"], scene["photo_low"]
    pixels8 = (scene["photo"][0].permute(1, 2, 0) * 255).round().to(torch.uint8).contiguous()  # (H, W, 3)
    float_guide = (pixels8.float() / 255).permute(2, 0, 1)[None]
    expected = guided_upsample(low, guide_low, float_guide)
    from_u8 = guided_upsample(low, guide_low, pixels8.permute(2, 0, 1)[None])
    assert torch.allclose(from_u8, expected, atol=1e-5)
    pixels16 = pixels8.to(torch.int32).mul(257).to(torch.uint16)
    assert torch.allclose(guided_upsample(low, guide_low, pixels16.permute(2, 0, 1)[None]), expected, atol=1e-5)
    weight = torch.rand(96, 96, generator=torch.Generator().manual_seed(5))
    # The pipeline's layout: an interleaved (H, W, 3) float buffer holding the guide, overwritten in place.
    buffer = float_guide[0].permute(1, 2, 0).clone()
    view = buffer.permute(2, 0, 1)[None]
    returned = guided_upsample(low, guide_low, view, weight=weight, out=view)
    assert returned.data_ptr() == buffer.data_ptr()
    assert torch.allclose(buffer.permute(2, 0, 1)[None], expected * weight, atol=1e-5)
    planar = torch.empty(1, 3, 96, 96)
    guided_upsample(low, guide_low, float_guide, out=planar)
    assert torch.allclose(planar, expected, atol=1e-6)


def test_non_finite_guide_raises() -> None:
    guide = torch.rand(1, 3, 32, 32)
    guide[0, 1, 20, 7] = float("inf")
    with pytest.raises(InvalidOptionError):
        guided_upsample(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), guide)


@pytest.mark.parametrize(
    "low, guide_low, guide_high, radius, eps",
    [
        (torch.rand(3, 8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16), 2, 1e-3),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8), torch.rand(1, 3, 16, 16), 2, 1e-3),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 4, 16, 16), 2, 1e-3),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 9, 8), torch.rand(1, 3, 16, 16), 2, 1e-3),
        (torch.rand(2, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16), 2, 1e-3),
        (torch.full((1, 3, 8, 8), float("nan")), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16), 2, 1e-3),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16), 0, 1e-3),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16), 2, 0.0),
        (torch.zeros(1, 3, 8, 8, dtype=torch.int64), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16), 2, 1e-3),
    ],
    ids=["rank3", "guide_low_gray", "guide_high_rgba", "size_mismatch", "batch_mismatch",
         "nan", "radius0", "eps0", "integer"],
)
def test_bad_input_raises(low, guide_low, guide_high, radius, eps) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        guided_upsample(low, guide_low, guide_high, radius=radius, eps=eps)
    assert isinstance(caught.value, DeepFlashError) and "\n" not in str(caught.value)


def test_a_span_hands_over_only_its_columns_with_the_values_of_the_whole(monkeypatch) -> None:
    """Columns a span leaves out are neither computed nor handed over; the others are bit for bit the whole's."""
    from deepflash_core.reconstruction import upsample

    monkeypatch.setattr(upsample, "CPU_STRIP_PIXELS", 96 * 8)  # 12 strips of 8 rows
    scene = silhouette_scene(size=96)
    low, guide_low = scene["correction_low"], scene["photo_low"]
    pixels8 = (scene["photo"][0].permute(1, 2, 0) * 255).round().to(torch.uint8).contiguous()
    guide = pixels8.permute(2, 0, 1)[None]
    whole = guided_upsample(low, guide_low, guide)[0]
    handed = torch.full_like(whole, float("nan"))
    calls = []

    def sink(batch: int, rows: slice, columns: slice, strip: torch.Tensor) -> None:
        calls.append((rows.start, columns.start, columns.stop))
        handed[:, rows, columns] = strip

    def span(first: int, end: int) -> list[tuple[int, int]]:  # two runs on some strips, none on the first
        return [] if first == 0 else [(3, 20), (40, 41 + first)] if first < 48 else [(0, 96)]

    assert guided_upsample(low, guide_low, guide, sink=sink, span=span) is None
    wanted = torch.zeros(96, 96, dtype=torch.bool)
    for first in range(8, 96, 8):
        for start, stop in span(first, first + 8):
            wanted[first : first + 8, start:stop] = True
    assert torch.equal(handed[:, wanted], whole[:, wanted])
    assert torch.isnan(handed[:, ~wanted]).all()
    assert len(calls) == 5 * 2 + 6 and all(rows != 0 for rows, _, _ in calls)


def test_a_span_needs_a_sink() -> None:
    with pytest.raises(InvalidOptionError):
        guided_upsample(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), torch.rand(1, 3, 16, 16),
                        span=lambda first, end: [(0, 16)])


def test_coefficient_rows_stretched_together_are_each_row_stretched_alone() -> None:
    import cv2
    import numpy as np

    from deepflash_core.reconstruction.upsample import _StretchedRows

    coefs = torch.randn(12, 21, 37, generator=torch.Generator().manual_seed(3))
    stretched = _StretchedRows(coefs, 401)
    for index in range(21):
        alone = cv2.resize(np.ascontiguousarray(coefs[:, index].numpy()), (401, 12), interpolation=cv2.INTER_LINEAR)
        assert np.array_equal(stretched.row(index).numpy(), alone)
        stretched.forget_before(index)
    assert list(stretched.rows) == [20]  # the rows the strips have moved past are gone
