"""The subject matte: MediaPipe's segmentation on real portraits, and the edge-aware refinement."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from deepflash_client.errors import InvalidOptionError, WeightsError
from deepflash_core.detection import mediapipe_models
from deepflash_core.matte import refine
from portraits import EXAMPLES



def portrait(name: str = "congress_A000014.jpg") -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / name).convert("RGB"))


@pytest.mark.parametrize(
    "convert",
    [
        lambda p: p,
        lambda p: p.astype(np.uint16) * 257,
        lambda p: p.astype(np.float32) / 255,
        lambda p: np.dstack([p, np.full(p.shape[:2], 7, np.uint8)]),
        lambda p: np.dstack([p.astype(np.uint16) * 257, np.zeros(p.shape[:2], np.uint16)]),
    ],
    ids=["u8-rgb", "u16-rgb", "f32-rgb", "u8-rgba", "u16-rgba"],
)
def test_matte_has_the_photo_shape_exact_zeros_and_ones_for_every_dtype(convert) -> None:
    rgb = portrait()
    reference = refine.subject_matte(rgb)
    values = refine.subject_matte(convert(rgb))
    height, width = rgb.shape[:2]
    assert values.shape == (height, width) and values.dtype == np.float32
    assert values.min() == 0.0 and values.max() == 1.0
    # A head-and-shoulders portrait: the backdrop's top corners are out, the middle of the face is in.
    assert values[: height // 10, : width // 10].max() == 0.0 and values[: height // 10, -width // 10 :].max() == 0.0
    assert values[height // 3 : height // 2, 2 * width // 5 : 3 * width // 5].min() == 1.0
    assert 0.2 < values.mean() < 0.8
    assert np.abs(values - reference).mean() < 0.01, "the pixel format must not change the matte"


def test_matte_as_uint8_spans_0_to_255() -> None:
    values = refine.to_uint8(refine.subject_matte(portrait("congress_A000022.jpg")))
    assert values.dtype == np.uint8 and values.min() == 0 and values.max() == 255


def test_a_frame_without_a_person_is_not_found() -> None:
    flat = np.full((240, 320, 3), 120, np.uint8)
    coarse = refine.segment(flat)
    assert not coarse.found
    assert refine.refine(coarse, flat).max() == 0.0


def test_unsupported_pixels_are_refused() -> None:
    with pytest.raises(InvalidOptionError):
        refine.segment(np.zeros((40, 40), np.uint8))
    with pytest.raises(InvalidOptionError):
        refine.segment(np.zeros((40, 40, 3), np.int32))


def test_a_damaged_model_file_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / mediapipe_models.SELFIE_SEGMENTATION).write_bytes(b"not a model")
    monkeypatch.setattr(mediapipe_models, "MODELS", tmp_path)
    monkeypatch.setattr(mediapipe_models, "_nets", {})
    with pytest.raises(WeightsError, match="selfie_segmentation.tflite") as raised:
        refine.segment(np.zeros((64, 64, 3), np.uint8))
    assert "\n" not in str(raised.value)


def synthetic_edge(width: int = 800, height: int = 600, edge: int = 437) -> np.ndarray:
    """A dark, textured 'person' on the left, a bright plain backdrop on the right, a sharp vertical edge."""
    rng = np.random.default_rng(0)
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:, :edge] = np.clip(rng.normal((90, 60, 50), 6, (height, edge, 3)), 0, 255).astype(np.uint8)
    pixels[:, edge:] = (200, 210, 220)
    return pixels


@pytest.mark.parametrize("offset", [3, -3], ids=["coarse-inside", "coarse-outside"])
def test_refinement_puts_the_matte_edge_on_the_photo_edge(offset: int) -> None:
    width, height, edge = 800, 600, 437
    pixels = synthetic_edge(width, height, edge)
    # A coarse matte as the segmentation model gives (its input is 256 px, ~3 px of this frame): 128 px
    # wide, soft over 8 model pixels (24 px), its middle a model pixel off the true edge.
    xs = (np.arange(128) + 0.5) * width / 128
    ramp = np.clip(0.5 - (xs - (edge - offset)) / 24.0, 0.0, 1.0).astype(np.float32)
    coarse = refine.CoarseMatte(np.tile(ramp, (96, 1)), height, width)
    row = refine.refine(coarse, pixels)[height // 2]
    steps = np.abs(np.diff(row))
    assert int(steps.argmax()) == edge - 1 and steps.max() > 0.4, "the matte's sharp step sits on the photo's edge"
    assert row[: edge - 12].min() == 1.0 and row[edge + 12 :].max() == 0.0, "exact ones inside, exact zeros outside"
    bilinear = cv2.resize(coarse.values, (width, height), interpolation=cv2.INTER_LINEAR)[height // 2]
    assert np.abs(np.diff(bilinear)).max() < 0.1, "without refinement the edge is a soft ramp"


def test_refinement_of_a_region_matches_the_whole_frame_refinement_away_from_its_border() -> None:
    rgb = portrait("congress_A000055.jpg")
    coarse = refine.segment(rgb)
    whole = refine.refine(coarse, rgb)
    region = (40, 30, 200, 260)
    part = refine.refine(coarse, rgb, region)
    assert part.shape == (230, 160)
    # Different grids, same photo: the two agree except on a few edge pixels.
    assert np.abs(part - whole[30:260, 40:200]).mean() < 0.05


def test_head_mask_covers_the_face_and_hair_and_is_zero_far_away() -> None:
    # A face's landmarks as a ring of points: 100 px wide, 120 px tall, centred at (300, 260).
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    points = np.stack([300 + 50 * np.cos(angles), 260 + 60 * np.sin(angles)], axis=1).astype(np.float32)
    mask = refine.head_mask(points, (100, 50, 500, 450))
    assert mask.shape == (400, 400) and mask.dtype == np.float32
    assert mask[260 - 50, 300 - 100] == pytest.approx(1.0, abs=1e-3), "the face's centre"
    assert mask[260 - 50 - 100, 300 - 100] > 0.9, "the hair above the forehead"
    assert mask[:20].max() == 0.0 and mask[:, :20].max() == 0.0 and mask[-20:].max() == 0.0


def test_tiles_left_out_of_the_fit_hold_exactly_what_the_fit_gives_there(monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = cv2.resize(portrait(), (900, 1100), interpolation=cv2.INTER_CUBIC)
    coarse = refine.segment(rgb)
    skipping = refine.refine(coarse, rgb)
    # Nothing settled: every tile goes through the fit at full resolution.
    monkeypatch.setattr(refine, "_settled", lambda steep: np.full(steep.shape, 2, np.uint8))
    fitted = refine.refine(coarse, rgb)
    settled = (skipping == 0.0) | (skipping == 1.0)
    assert settled.mean() > 0.5, "most of a portrait is backdrop or body"
    np.testing.assert_array_equal(skipping[settled], fitted[settled])
    assert np.abs(skipping - fitted).max() < 1e-6
