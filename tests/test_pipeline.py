"""The pipeline with small models built here: shapes, dtypes, untouched pixels, strength, modes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepflash_core.errors import InvalidOptionError, NoFaceError, WeightsError
from deepflash_core.network import FlashUNet, ModelConfig
from deepflash_core.pipeline import Options, Pipeline, Result
from deepflash_core.weights import ModelCard, save_model

FIXTURES = Path(__file__).parent / "fixtures"
PORTRAITS = sorted(FIXTURES.glob("congress_*.jpg"))
CONSTANT_OUTPUT = 0.6  # network output y everywhere -> correction D = 2y - 1 = 0.2
CORRECTION = 2 * CONSTANT_OUTPUT - 1


def tiny_model(seed: int = 0) -> FlashUNet:
    torch.manual_seed(seed)
    model = FlashUNet(ModelConfig(width=0.125, input_size=64))
    torch.nn.init.xavier_uniform_(model.head.weight)  # a fresh network changes nothing; plumbing tests need a change
    return model


def save(model: FlashUNet, path: Path) -> Path:
    save_model(model, ModelCard.for_model(model, name="test"), path)
    return path


@pytest.fixture(scope="module")
def random_pipe(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    path = save(tiny_model(), tmp_path_factory.mktemp("weights") / "random.safetensors")
    return Pipeline.load(weights=path, device="cpu")


@pytest.fixture(scope="module")
def constant_pipe(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """A network whose output is CONSTANT_OUTPUT everywhere, so the expected result is known exactly."""
    model = tiny_model()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.fill_(math.log(CONSTANT_OUTPUT / (1 - CONSTANT_OUTPUT)))
    path = save(model, tmp_path_factory.mktemp("weights") / "constant.safetensors")
    return Pipeline.load(weights=path, device="cpu")


def portrait(index: int = 0) -> np.ndarray:
    return np.asarray(Image.open(PORTRAITS[index]).convert("RGB"))


def portrait_on_noise(seed: int = 3) -> tuple[np.ndarray, tuple[int, int]]:
    """The portrait pasted into a larger canvas of noise: plenty of pixels lie outside every crop."""
    rng = np.random.default_rng(seed)
    canvas = rng.integers(0, 256, (520, 760, 3), dtype=np.uint8)
    face = portrait()
    top, left = 150, 380
    canvas[top : top + face.shape[0], left : left + face.shape[1]] = face
    return canvas, (top, left)


def crop_mask(result: Result, height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    for face in result.faces:
        x0, y0, x1, y1 = face.crop
        mask[max(y0, 0) : max(min(y1, height), 0), max(x0, 0) : max(min(x1, width), 0)] = True
    return mask


def expected_full_correction(pixels: np.ndarray, scale: float, strength: float = 1.0) -> np.ndarray:
    values = pixels[..., :3].astype(np.float64) / scale - strength * CORRECTION
    return np.clip(np.round(np.clip(values, 0, 1) * scale), 0, scale)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p,
        lambda p: np.dstack([p, np.arange(p.shape[0] * p.shape[1], dtype=np.uint32).reshape(p.shape[:2]).astype(np.uint8)]),
        lambda p: np.dstack([p.astype(np.uint16) * 257, np.arange(p.shape[0] * p.shape[1], dtype=np.uint16).reshape(p.shape[:2])]),
        lambda p: p.astype(np.float32) / 255,
    ],
    ids=["u8-rgb", "u8-rgba", "u16-rgba", "f32-rgb"],
)
def test_output_keeps_shape_dtype_and_alpha(random_pipe: Pipeline, make) -> None:
    pixels = make(portrait())
    before = pixels.copy()
    result = random_pipe.process(pixels)
    assert np.array_equal(pixels, before), "the input array must not be modified"
    assert result.pixels.shape == pixels.shape and result.pixels.dtype == pixels.dtype
    if pixels.shape[2] == 4:
        assert np.array_equal(result.pixels[..., 3], pixels[..., 3])
    assert len(result.faces) == 1
    assert not np.array_equal(result.pixels[..., :3], pixels[..., :3])


def test_pixels_outside_every_crop_are_bit_identical(random_pipe: Pipeline) -> None:
    canvas, _ = portrait_on_noise()
    result = random_pipe.process(canvas)
    assert len(result.faces) == 1
    outside = ~crop_mask(result, *canvas.shape[:2])
    assert outside.sum() > canvas.shape[0] * canvas.shape[1] // 2
    assert np.array_equal(result.pixels[outside], canvas[outside])
    assert not np.array_equal(result.pixels[~outside], canvas[~outside])


def test_constant_correction_is_applied_exactly_inside_the_crop(constant_pipe: Pipeline) -> None:
    canvas, (top, left) = portrait_on_noise()
    result = constant_pipe.process(canvas)
    (face,) = result.faces
    x0, y0, x1, y1 = face.crop
    side = x1 - x0
    # Well inside the feathered border the full correction x - D applies.
    core = (slice(y0 + side // 4, y1 - side // 4), slice(x0 + side // 4, x1 - side // 4))
    expected = expected_full_correction(canvas[core], 255.0)
    assert np.abs(result.pixels[core].astype(int) - expected).max() <= 1
    # Near the crop edge the change fades out: smaller than the full correction.
    edge_change = np.abs(result.pixels[y0 + side // 2, x0 + 1].astype(int) - canvas[y0 + side // 2, x0 + 1])
    full_change = np.abs(expected_full_correction(canvas[y0 + side // 2, x0 + 1], 255.0) - canvas[y0 + side // 2, x0 + 1])
    assert edge_change.sum() < full_change.sum() / 4


def test_strength_scales_the_correction(constant_pipe: Pipeline) -> None:
    pixels = portrait()
    half = constant_pipe.process(pixels, Options(strength=0.5), ).pixels.astype(int)
    full = constant_pipe.process(pixels, Options(strength=1.0)).pixels.astype(int)
    change_half = np.abs(half - pixels).mean()
    change_full = np.abs(full - pixels).mean()
    assert change_full > 10
    assert 0.4 < change_half / change_full < 0.6


def test_strength_zero_returns_the_photo_unchanged(random_pipe: Pipeline) -> None:
    pixels = portrait(1)
    result = random_pipe.process(pixels, Options(strength=0.0))
    assert np.array_equal(result.pixels, pixels)
    assert result.pixels is not pixels
    assert len(result.faces) == 1


@pytest.mark.parametrize(
    ("dtype", "height", "width"),
    [(np.uint8, 90, 140), (np.uint16, 90, 140), (np.uint8, 140, 90), (np.uint8, 40, 48)],
    ids=["u8-landscape", "u16-landscape", "u8-portrait", "u8-smaller-than-network"],
)
def test_whole_image_mode_corrects_every_pixel_including_the_border(constant_pipe: Pipeline, dtype, height: int, width: int) -> None:
    rng = np.random.default_rng(5)
    scale = float(np.iinfo(dtype).max)
    pixels = (rng.uniform(0.3, 0.9, (height, width, 3)) * scale).astype(dtype)
    result = constant_pipe.process(pixels, Options(whole_image=True))
    assert [face.box for face in result.faces] == [(0, 0, width, height)]
    expected = expected_full_correction(pixels, scale)
    tolerance = 1 if dtype == np.uint8 else 260  # one 8-bit level, in 16-bit units
    assert np.abs(result.pixels.astype(np.int64) - expected).max() <= tolerance


def test_no_face_raises_unless_whole_image(random_pipe: Pipeline) -> None:
    noise = np.random.default_rng(2).integers(0, 256, (200, 260, 3), dtype=np.uint8)
    with pytest.raises(NoFaceError, match="whole-image"):
        random_pipe.process(noise)
    assert random_pipe.process(noise, Options(whole_image=True)).pixels.shape == noise.shape


def test_overlapping_crops_are_not_corrected_twice(constant_pipe: Pipeline) -> None:
    pair = np.concatenate([portrait(0), portrait(1)], axis=1)
    result = constant_pipe.process(pair)
    assert len(result.faces) == 2
    (a, b) = result.faces
    assert a.crop[2] > b.crop[0], "the two crops should overlap for this test"
    # Between the faces, inside both crops' full-weight zones where possible, the change is one D.
    row = (max(a.crop[1], b.crop[1]) + min(a.crop[3], b.crop[3])) // 2
    column = (b.crop[0] + a.crop[2]) // 2
    expected = expected_full_correction(pair[row, column], 255.0)
    observed = result.pixels[row, column].astype(int)
    assert np.all(np.abs(observed - pair[row, column]) <= np.abs(expected - pair[row, column]) + 1)
    assert np.all(np.abs(observed - pair[row, column]) > 0)


def test_face_is_fully_corrected_even_when_its_crop_runs_past_the_border(constant_pipe: Pipeline) -> None:
    pixels = portrait()
    result = constant_pipe.process(pixels)
    (face,) = result.faces
    assert face.crop[2] > pixels.shape[1], "this portrait's crop should extend past the right edge"
    left, top, right, bottom = face.box
    quarter_x, quarter_y = (right - left) // 4, (bottom - top) // 4
    core = (slice(top + quarter_y, bottom - quarter_y), slice(left + quarter_x, right - quarter_x))
    expected = expected_full_correction(pixels[core], 255.0)
    assert np.abs(result.pixels[core].astype(int) - expected).max() <= 1


def test_face_crop_leaves_no_edge_in_the_photo(constant_pipe: Pipeline) -> None:
    # A strong, constant correction over a crop well inside a canvas: the change must fade to nothing
    # at the crop's outline and never jump between neighbouring pixels.
    canvas, _ = portrait_on_noise()
    canvas[:] = 128
    canvas[150:425, 380:605] = portrait()
    result = constant_pipe.process(canvas)
    (face,) = result.faces
    x0, y0, x1, y1 = face.crop
    assert x0 > 0 and y0 > 0 and x1 < canvas.shape[1] and y1 < canvas.shape[0]
    change = np.abs(result.pixels.astype(int) - canvas).max(axis=2)
    outline = np.concatenate([change[y0, x0:x1], change[y1 - 1, x0:x1], change[y0:y1, x0], change[y0:y1, x1 - 1]])
    assert outline.max() <= 1
    flat = change[:, :]  # on the flat gray surround, steps between neighbours show the crop's shape
    surround = np.ones_like(change, bool)
    surround[150:425, 380:605] = False
    steps = np.abs(np.diff(flat, axis=1))[surround[:, 1:] & surround[:, :-1]]
    assert change.max() > 10 and steps.max() <= 3


def test_progress_reports_stages_and_finishes(random_pipe: Pipeline) -> None:
    calls: list[tuple[str, float]] = []
    result = random_pipe.process(portrait(2), progress=lambda stage, fraction: calls.append((stage, fraction)))
    stages = [stage for stage, _ in calls]
    assert stages[0] == "detect" and stages[-1] == "done" and "network" in stages
    fractions = [fraction for _, fraction in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"detect", "filter", "network", "upsample", "blend"} <= set(result.timings)
    assert all(value >= 0 for value in result.timings.values())


def test_mixed_precision_stays_close_to_float32(random_pipe: Pipeline) -> None:
    pixels = portrait()
    bf16 = Pipeline(random_pipe.model, random_pipe.card, "cpu", mixed_precision=True)
    exact = random_pipe.process(pixels).pixels.astype(int)
    approximate = bf16.process(pixels).pixels.astype(int)
    assert np.abs(exact - approximate).mean() < 1.0


@pytest.mark.parametrize("strength", [-0.1, 1.5, float("nan")])
def test_strength_out_of_range_is_refused(strength: float) -> None:
    with pytest.raises(InvalidOptionError):
        Options(strength=strength)


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 2), np.uint8), np.zeros((64, 64, 3), np.int32), np.zeros((4, 64, 3), np.uint8), [[0]]],
    ids=["2d", "two-channels", "int32", "too-small", "list"],
)
def test_unsupported_pixel_arrays_are_refused(random_pipe: Pipeline, pixels) -> None:
    with pytest.raises(InvalidOptionError):
        random_pipe.process(pixels)


def test_missing_or_corrupt_weights_raise_weights_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError):
        Pipeline.load(weights=tmp_path / "absent.safetensors", device="cpu")
    path = save(tiny_model(), tmp_path / "model.safetensors")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError):
        Pipeline.load(weights=path, device="cpu")


def test_describe_names_device_and_card(random_pipe: Pipeline) -> None:
    description = random_pipe.describe()
    assert description["device"] == "cpu"
    assert description["model_card"]["config"]["input_size"] == 64


def test_faces_in_several_network_batches_give_the_same_result(random_pipe: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    from deepflash_core import pipeline as pipeline_module

    group = np.concatenate([portrait(index) for index in range(len(PORTRAITS))], axis=1)
    together = random_pipe.process(group)
    assert len(together.faces) == len(PORTRAITS)
    monkeypatch.setattr(pipeline_module, "MAX_BATCH", 1)
    one_by_one = random_pipe.process(group)
    assert np.abs(together.pixels.astype(int) - one_by_one.pixels.astype(int)).max() <= 1


def test_a_bilateral_grid_model_runs_and_starts_as_no_change(tmp_path: Path) -> None:
    from deepflash_core.gridnet import BilateralGridNet, GridNetConfig

    model = BilateralGridNet(GridNetConfig(input_size=64, grid_size=8, luma_bins=4, channels=2, guide_knots=4))
    pipe = Pipeline.load(weights=save(model, tmp_path / "grid.safetensors"), device="cpu")
    photo = portrait()
    result = pipe.process(photo, Options(whole_image=True))
    assert result.pixels.shape == photo.shape and result.pixels.dtype == photo.dtype
    assert int(np.abs(result.pixels.astype(int) - photo).max()) <= 1  # D = 0: only rounding


def test_an_evaluation_only_model_is_refused_by_the_pipeline(tmp_path: Path) -> None:
    from deepflash_core.network import DirectUNet

    path = save(DirectUNet(ModelConfig(width=0.125, input_size=64)), tmp_path / "direct.safetensors")
    with pytest.raises(WeightsError, match="evaluation only"):
        Pipeline.load(weights=path, device="cpu")
