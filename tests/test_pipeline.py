"""The pipeline with small models built here: shapes, dtypes, untouched pixels, strength, modes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepflash_client.errors import InvalidOptionError, NoFaceError, WeightsError
from deepflash_client.options import LOOK_AS_SHOT, Options
from deepflash_core.network.unet import FlashUNet, ModelConfig
from deepflash_core.network.weights import ModelCard, save_model
from deepflash_core.pipeline import Pipeline, Result
from portraits import EXAMPLES, FIXTURES

PORTRAITS = sorted(EXAMPLES.glob("congress_*.jpg"))
CONSTANT_OUTPUT = 0.6  # network output y everywhere -> correction D = 2y - 1 = 0.2
CORRECTION = 2 * CONSTANT_OUTPUT - 1
# The network's part alone: the photo's own look, so the global look stage changes nothing.
LOCAL = Options(look=LOOK_AS_SHOT)


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
    result = random_pipe.process(canvas, LOCAL)
    assert len(result.faces) == 1
    outside = ~crop_mask(result, *canvas.shape[:2])
    assert outside.sum() > canvas.shape[0] * canvas.shape[1] // 2
    assert np.array_equal(result.pixels[outside], canvas[outside])
    assert not np.array_equal(result.pixels[~outside], canvas[~outside])


def test_constant_correction_is_applied_exactly_on_the_person_and_nowhere_else(constant_pipe: Pipeline) -> None:
    canvas, (top, left) = portrait_on_noise()
    result = constant_pipe.process(canvas, Options(with_matte=True, look=LOOK_AS_SHOT))
    (face,) = result.faces
    x0, y0, x1, y1 = face.crop
    side = x1 - x0
    assert result.matte is not None and result.matte.shape == canvas.shape[:2] and result.matte.dtype == np.uint8
    # Well inside the crop, wherever the matte says "person", the full correction x - D applies.
    core = np.zeros(canvas.shape[:2], bool)
    core[y0 + side // 4 : y1 - side // 4, x0 + side // 4 : x1 - side // 4] = True
    person = core & (result.matte == 255)
    assert person.sum() > 0.3 * core.sum()
    expected = expected_full_correction(canvas[person], 255.0)
    assert np.abs(result.pixels[person].astype(int) - expected).max() <= 1
    # Off the person nothing changes, inside the crop or not.
    backdrop = result.matte == 0
    assert (backdrop & core).any() and np.array_equal(result.pixels[backdrop], canvas[backdrop])


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
    assert any("No person found" in warning for warning in result.warnings)
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
    result = constant_pipe.process(pair, Options(with_matte=True, look=LOOK_AS_SHOT))
    assert len(result.faces) == 2
    (a, b) = result.faces
    assert a.crop[2] > b.crop[0], "the two crops should overlap for this test"
    # Where both crops cover the person, the change is at most one D, and not nothing.
    both = np.zeros(pair.shape[:2], bool)
    both[max(a.crop[1], b.crop[1], 0) : min(a.crop[3], b.crop[3]), b.crop[0] : a.crop[2]] = True
    person = both & (result.matte == 255)
    assert person.sum() > 100
    change = np.abs(result.pixels[person].astype(int) - pair[person])
    full = np.abs(expected_full_correction(pair[person], 255.0) - pair[person])
    assert np.all(change <= full + 1)
    assert change.sum(axis=1).mean() > 0.5 * full.sum(axis=1).mean()


def test_face_is_fully_corrected_even_when_its_crop_runs_past_the_border(constant_pipe: Pipeline) -> None:
    pixels = portrait()
    result = constant_pipe.process(pixels, LOCAL)
    (face,) = result.faces
    assert face.crop[2] > pixels.shape[1], "this portrait's crop should extend past the right edge"
    left, top, right, bottom = face.box
    quarter_x, quarter_y = (right - left) // 4, (bottom - top) // 4
    core = (slice(top + quarter_y, bottom - quarter_y), slice(left + quarter_x, right - quarter_x))
    expected = expected_full_correction(pixels[core], 255.0)
    assert np.abs(result.pixels[core].astype(int) - expected).max() <= 1


def test_face_crop_leaves_no_edge_on_the_person_and_none_on_the_backdrop(constant_pipe: Pipeline) -> None:
    # A strong, constant correction over a crop well inside a canvas: the flat gray surround is the backdrop
    # and stays exactly as it was; on the person the change fades out toward the crop's outline (the neck,
    # the shoulders), never jumping between neighbouring pixels.
    canvas, _ = portrait_on_noise()
    canvas[:] = 128
    canvas[150:425, 380:605] = portrait()
    result = constant_pipe.process(canvas, Options(with_matte=True, look=LOOK_AS_SHOT))
    (face,) = result.faces
    x0, y0, x1, y1 = face.crop
    assert x0 > 0 and y0 > 0 and x1 < canvas.shape[1] and y1 < canvas.shape[0]
    change = np.abs(result.pixels.astype(int) - canvas).max(axis=2)
    assert change[result.matte == 0].max() == 0
    surround = np.ones_like(change, bool)
    surround[140:435, 370:615] = False  # the matte's edge may stray a few pixels past the pasted body
    assert change[surround].max() == 0, "no disc, no ring on the backdrop"
    outline = np.concatenate([change[y1 - 1, x0:x1], change[y0:y1, x0], change[y0:y1, x1 - 1]])
    assert outline.max() <= 1
    # Down the middle of the body, across the crop's bottom edge: a smooth fade, no step.
    assert y1 < 405, "the pasted body continues below the crop"
    rows = slice(y1 - 40, 410)
    # A column through the suit, where the matte is 1 all the way down.
    solid = [x for x in range(x0 + (x1 - x0) // 4, x1 - (x1 - x0) // 4) if result.matte[rows, x].min() == 255]
    assert len(solid) > 10
    column = change[rows, solid[len(solid) // 2]]
    assert column[0] > 20 and column[-1] == 0 and np.abs(np.diff(column)).max() <= 4


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


def test_red_eye_stage_changes_only_the_pupils_and_is_timed(random_pipe: Pipeline) -> None:
    pixels = np.asarray(Image.open(FIXTURES / "red_eye_portrait.jpg").convert("RGB"))
    with_stage = random_pipe.process(pixels)
    without = random_pipe.process(pixels, Options(red_eye=False))
    assert "eyes" in with_stage.timings and "eyes" not in without.timings
    differs = np.any(with_stage.pixels != without.pixels, axis=-1)
    face = with_stage.faces[0]
    eyes = [np.mean(face.landmarks[group], axis=0) for group in ("left_eye", "right_eye")]
    width = max(np.ptp(np.asarray(face.landmarks[group])[:, 0]) for group in ("left_eye", "right_eye"))
    ys, xs = np.nonzero(differs)
    assert len(ys) > 50
    near = np.min([np.hypot(xs - x, ys - y) for x, y in eyes], axis=0)
    assert (near < 0.5 * width).all()


def test_a_bilateral_grid_model_runs_and_starts_as_no_change(tmp_path: Path) -> None:
    from deepflash_core.network.gridnet import BilateralGridNet, GridNetConfig

    model = BilateralGridNet(GridNetConfig(input_size=64, grid_size=8, luma_bins=4, channels=2, guide_knots=4))
    pipe = Pipeline.load(weights=save(model, tmp_path / "grid.safetensors"), device="cpu")
    photo = portrait()
    result = pipe.process(photo, Options(whole_image=True))
    assert result.pixels.shape == photo.shape and result.pixels.dtype == photo.dtype
    assert int(np.abs(result.pixels.astype(int) - photo).max()) <= 1  # D = 0: only rounding


def test_an_evaluation_only_model_is_refused_by_the_pipeline(tmp_path: Path) -> None:
    from deepflash_core.network.unet import DirectUNet

    path = save(DirectUNet(ModelConfig(width=0.125, input_size=64)), tmp_path / "direct.safetensors")
    with pytest.raises(WeightsError, match="evaluation only"):
        Pipeline.load(weights=path, device="cpu")


def test_the_result_does_not_depend_on_torch_threads() -> None:
    # A batch job's workers run one thread each and must write the file `deepflash process` writes.
    pipe = Pipeline.load(device="cpu")  # the shipped model: its convolutions are wide enough to split over threads
    pixels = portrait(1).astype(np.float32) / 255.0  # float32 out: a difference in any last bit shows
    threads = torch.get_num_threads()
    try:
        results = []
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            results.append(pipe.process(pixels).pixels)
    finally:
        torch.set_num_threads(threads)
    assert not np.array_equal(results[0], pixels)
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], results[2])


def test_a_read_only_photo_is_corrected_without_a_warning(random_pipe: Pipeline) -> None:
    """A decoded photo may be read-only; the look stage and the upsampler only read it, and say nothing of it."""
    import warnings

    pixels = np.asarray(Image.fromarray(portrait()).resize((900, 1100)))  # large enough to be upsampled
    pixels.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = random_pipe.process(pixels, Options())
    assert result.pixels.shape == pixels.shape and result.pixels.flags.writeable
