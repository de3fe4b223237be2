"""The correction through the subject matte: the backdrop kept bit-identical or lifted, the no-person fallback."""

from __future__ import annotations


import cv2
import numpy as np
import pytest

from deepflash_client.errors import InvalidOptionError
from deepflash_client.options import LOOK_AS_SHOT
from deepflash_core.detection import segmentation
from deepflash_core.matte import refine
from deepflash_core.pipeline import Options, Pipeline
from test_pipeline import constant_pipe, portrait, random_pipe  # noqa: F401  (fixtures)


def flash_like(dtype: str) -> np.ndarray:
    """A portrait in one of the pixel formats the pipeline takes (alpha a ramp, so any change shows)."""
    rgb = portrait()
    height, width = rgb.shape[:2]
    if dtype == "u8":
        return rgb
    if dtype == "u16":
        return rgb.astype(np.uint16) * 257
    if dtype == "f32":
        return rgb.astype(np.float32) / 255
    alpha = (np.arange(height * width) % 251).reshape(height, width).astype(np.uint8)
    if dtype == "u8-rgba":
        return np.dstack([rgb, alpha])
    return np.dstack([rgb.astype(np.uint16) * 257, alpha.astype(np.uint16) * 261])


@pytest.mark.parametrize("dtype", ["u8", "u16", "f32", "u8-rgba", "u16-rgba"])
def test_keep_leaves_every_pixel_outside_the_person_bit_identical(random_pipe: Pipeline, dtype: str) -> None:  # noqa: F811
    pixels = flash_like(dtype)
    result = random_pipe.process(pixels, Options(with_matte=True))
    assert result.matte is not None and result.matte.shape == pixels.shape[:2] and result.matte.dtype == np.uint8
    outside = result.matte == 0
    assert 0.1 < outside.mean() < 0.9
    assert np.array_equal(result.pixels[outside], pixels[outside])
    if pixels.shape[2] == 4:
        assert np.array_equal(result.pixels[..., 3], pixels[..., 3])
    person = result.matte == 255
    assert not np.array_equal(result.pixels[person][:, :3], pixels[person][:, :3])


def test_matte_is_returned_only_when_asked_for(random_pipe: Pipeline) -> None:  # noqa: F811
    assert random_pipe.process(portrait()).matte is None


def hue(pixels: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(pixels.astype(np.float32) / 255, cv2.COLOR_RGB2HSV)[..., 0]


def test_lift_brightens_only_the_backdrop_and_keeps_its_hue(constant_pipe: Pipeline) -> None:  # noqa: F811
    pixels = portrait()
    keep = constant_pipe.process(pixels, Options(with_matte=True, look=LOOK_AS_SHOT))
    lift = constant_pipe.process(pixels, Options(background="lift", with_matte=True, look=LOOK_AS_SHOT))
    assert np.array_equal(keep.matte, lift.matte)
    person = lift.matte == 255
    assert np.array_equal(lift.pixels[person], keep.pixels[person]), "the person is the same in both modes"
    backdrop = lift.matte == 0
    before = pixels[backdrop].astype(int)
    after = lift.pixels[backdrop].astype(int)
    assert np.all(after >= before) and (after.sum(axis=1) - before.sum(axis=1)).mean() > 20
    # Hue kept: every channel scaled by the same factor, up to the rounding to whole levels.
    factor = after.sum(axis=1, keepdims=True) / np.maximum(before.sum(axis=1, keepdims=True), 1)
    assert np.abs(after - factor * before).max() <= 1.5
    coloured = (before.max(axis=1) - before.min(axis=1)) >= 15
    assert coloured.sum() > 500
    shift = np.abs(hue(after[coloured][None]) - hue(before[coloured][None]))
    assert np.median(np.minimum(shift, 360 - shift)) < 2.0


def test_lift_is_smooth_on_a_flat_backdrop(constant_pipe: Pipeline) -> None:  # noqa: F811
    canvas = np.full((500, 700, 3), 110, np.uint8)
    canvas[200:475, 240:465] = portrait()
    result = constant_pipe.process(canvas, Options(background="lift", with_matte=True))
    gain = result.pixels[:120].astype(float).mean(axis=2) / 110  # rows far above the head: backdrop only
    assert gain.min() > 1.05 and np.abs(np.diff(gain, axis=1)).max() <= 1.5 / 110


def test_a_face_the_matte_misses_gets_the_landmark_head_mask_and_a_warning(
    constant_pipe: Pipeline, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    # A segmentation model that sees nobody (as on a photo it fails on): the face crops still get corrected.
    blind = {"mask": np.zeros(segmentation.MODEL_SIDE ** 2, np.float32)}
    monkeypatch.setattr(segmentation, "run", lambda model, blob: blind)
    pixels = np.full((500, 700, 3), 128, np.uint8)
    pixels[200:475, 240:465] = portrait()
    result = constant_pipe.process(pixels, Options(with_matte=True, look=LOOK_AS_SHOT))
    assert len(result.warnings) == 1 and "No person found by the subject matte" in result.warnings[0]
    (face,) = result.faces
    left, top, right, bottom = face.box
    centre = (slice((top + bottom) // 2 - 5, (top + bottom) // 2 + 5), slice((left + right) // 2 - 5, (left + right) // 2 + 5))
    assert np.abs(result.pixels[centre].astype(int) - pixels[centre]).min() >= 40, "the face is corrected"
    assert result.matte[centre].min() == 255
    # No disc: the crop's corners and everything beyond the head are untouched.
    x0, y0, x1, y1 = face.crop
    assert np.array_equal(result.pixels[y0 : y0 + 15, x0 : x0 + 15], pixels[y0 : y0 + 15, x0 : x0 + 15])
    untouched = result.matte == 0
    assert untouched.mean() > 0.8 and np.array_equal(result.pixels[untouched], pixels[untouched])


def test_whole_image_mode_still_corrects_only_the_person(constant_pipe: Pipeline) -> None:  # noqa: F811
    pixels = portrait()
    result = constant_pipe.process(pixels, Options(whole_image=True, with_matte=True, look=LOOK_AS_SHOT))
    assert not result.warnings
    backdrop = result.matte == 0
    assert backdrop.mean() > 0.1 and np.array_equal(result.pixels[backdrop], pixels[backdrop])
    person = result.matte == 255
    assert np.abs(result.pixels[person].astype(int) - pixels[person]).mean() > 20


def test_unknown_background_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="keep, lift"):
        Options(background="blur")


@pytest.mark.parametrize("dtype", ["u8", "u16", "f32", "u16-rgba"])
def test_skipping_the_mattes_zeros_changes_no_pixel(random_pipe: Pipeline, monkeypatch, dtype: str) -> None:  # noqa: F811
    """The look and the face's correction are computed only over runs of columns where the matte is not zero:
    the result is bit for bit the one computed over every column."""
    from deepflash_core import pipeline as pipeline_module
    from deepflash_core.look import stage as look_stage
    from deepflash_core.reconstruction import blend, upsample

    monkeypatch.setattr(upsample, "CPU_STRIP_PIXELS", 1 << 13)  # strips of ~18 rows: spans that follow the head
    small = flash_like(dtype)
    pixels = cv2.resize(small, (small.shape[1] * 2, small.shape[0] * 2), interpolation=cv2.INTER_LINEAR)
    skipped = []

    def counted(subject: np.ndarray, box: tuple[int, int, int, int]):
        span = blend.matte_span(subject, box)

        def runs(first: int, end: int) -> list[tuple[int, int]]:
            found = span(first, end)
            skipped.append((box, box[2] - box[0] - sum(stop - start for start, stop in found)))
            return found
        return runs

    def every_column(subject: np.ndarray, box: tuple[int, int, int, int]):
        return lambda first, end: [(0, box[2] - box[0])]

    results = []
    for span in (counted, every_column):
        monkeypatch.setattr(pipeline_module, "matte_span", span)
        monkeypatch.setattr(look_stage, "matte_span", span)
        results.append(random_pipe.process(pixels, Options()))
    # Both stages (the look over the person's box, the face's correction over its crop) skipped columns.
    assert len({box for box, columns in skipped if columns > 0}) == 2
    assert sum(columns for _, columns in skipped) > 0.1 * pixels.shape[0] * pixels.shape[1] / 18
    assert not np.array_equal(results[0].pixels, pixels)
    assert np.array_equal(results[0].pixels, results[1].pixels)


def test_the_mattes_runs_of_columns() -> None:
    from deepflash_core.reconstruction.blend import SPAN_GAP, matte_span

    subject = np.zeros((40, 400), np.float32)
    subject[10:20, 50:60] = 0.5
    subject[12:14, 60 + SPAN_GAP - 1 : 70 + SPAN_GAP] = 1.0  # closer than SPAN_GAP: joined
    subject[15, 300:310] = 0.01  # far: a run of its own
    span = matte_span(subject, (20, 5, 380, 40))  # box (x0, y0, x1, y1): columns from 20, rows from 5
    assert span(0, 5) == []
    assert span(5, 11) == [(30, 50 + SPAN_GAP), (280, 290)]
    assert span(5, 10) == [(30, 50 + SPAN_GAP)]
    assert span(5, 7) == [(30, 40)]
    assert span(20, 35) == []
