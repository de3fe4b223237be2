"""The renderer's red-eye kinds: where the glow is, what is drawn without it, the declared ranges."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from deepflash_core.detection.face_mesh import Eye
from deepflash_train.renderer.params import declared_ranges
from deepflash_train.renderer.red_eye import KINDS, RedEyeParams, draw_red_eye


def face() -> tuple[np.ndarray, list[Eye]]:
    """A flat skin image with two eyes (a grey sclera ellipse, a dark iris) 40 px apart."""
    image = np.full((96, 128, 3), (0.75, 0.55, 0.45), np.float32)
    ys, xs = np.mgrid[:96, :128].astype(np.float32)
    eyes = []
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    for cx in (44.0, 84.0):
        image[((xs - cx) / 12) ** 2 + ((ys - 40) / 6) ** 2 <= 1] = (0.85, 0.85, 0.82)
        image[np.hypot(xs - cx, ys - 40) <= 5] = (0.25, 0.18, 0.12)
        opening = np.stack([cx + 12 * np.cos(t), 40 + 6 * np.sin(t)], axis=1).astype(np.float32)
        eyes.append(Eye((cx, 40.0), 5.0, opening, "mesh"))
    return image, eyes


STILL = dataclasses.replace(RedEyeParams.sample(np.random.default_rng(0)), blur_px=0.0, jpeg_quality=95)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_glows_in_its_pupils_and_is_warm_there(kind: str) -> None:
    image, eyes = face()
    render = draw_red_eye(image, eyes, kind, np.random.default_rng(1), params=STILL)
    assert render.image.shape == image.shape and render.image.dtype == np.float32
    lit = render.glow >= 0.5
    assert lit.sum() >= 6
    ys, xs = np.nonzero(lit)
    # The glow lies in the pupils, and there the image is warmer than the iris was.
    assert all(min(np.hypot(x - e.centre[0], y - e.centre[1]) for e in eyes) <= 5.5 for x, y in zip(xs, ys))
    assert (render.image[lit][:, 0] - render.image[lit][:, 2]).mean() > 0.2
    assert (render.far is not None) == (kind == "far_eye")


@pytest.mark.parametrize("kind", KINDS)
def test_without_the_glow_the_same_draw_has_none(kind: str) -> None:
    image, eyes = face()
    render = draw_red_eye(image, eyes, kind, np.random.default_rng(1), params=STILL, glow=False)
    assert not render.glow.any()
    pupils = np.hypot(*(np.mgrid[:96, :128][::-1] - np.array([44, 40])[:, None, None])) <= 3
    assert (render.image[pupils][:, 0] - render.image[pupils][:, 2]).mean() < 0.2


def test_the_far_eye_is_handed_off_its_true_centre_by_its_mesh_error() -> None:
    image, eyes = face()
    params = dataclasses.replace(STILL, mesh_error=0.3)
    render = draw_red_eye(image, eyes, "far_eye", np.random.default_rng(2), params=params)
    far = render.eyes[render.far]
    # Squeezed to far_scale of its width (0.9 + 0.1 far_scale of its height), the iris shrinks with it.
    squeezed = eyes[render.far].radius * (params.far_scale * (0.9 + 0.1 * params.far_scale)) ** 0.5
    assert np.hypot(far.centre[0] - eyes[render.far].centre[0], far.centre[1] - 40) == pytest.approx(0.3 * squeezed, rel=1e-4)
    assert abs(far.radius / squeezed - 1) <= 0.3 + 1e-6


def test_an_unknown_kind_is_refused() -> None:
    image, eyes = face()
    with pytest.raises(ValueError, match="unknown red-eye kind"):
        draw_red_eye(image, eyes, "purple", np.random.default_rng(0))


def test_the_shift_ranges_lie_outside_the_tuning_ranges() -> None:
    tuning, shift = declared_ranges(RedEyeParams), declared_ranges(RedEyeParams, shift=True)
    moved = [name for name in tuning if shift[name] != tuning[name]]
    assert {"pupil", "brightness", "far_scale", "mesh_error", "blur_px", "jpeg_quality"} <= set(moved)
    for name in moved:
        (a, b), (c, d) = tuning[name], shift[name]
        assert d <= a or c >= b, name
    drawn = RedEyeParams.sample(np.random.default_rng(3), shift=True)
    assert all(shift[name][0] <= getattr(drawn, name) <= shift[name][1] for name in moved)
