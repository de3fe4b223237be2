"""Randomised studio targets, identity pairs, the shift test's held-out ranges and the pair maker."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from deepflash_train.renderer import FlashParams, FlashRenderer
from deepflash_train.renderer.studio_look import (IDENTITY_PROBABILITY, StudioLook, backdrop, key_light,
                                                 restyle)
from deepflash_train.dataset import IDENTITY_AUGMENTATION, Augmentation, make_pair
from deepflash_train.evaluate import face_lightness_std
from deepflash_train.landmarks import detect_landmarks


@pytest.fixture(scope="module")
def portrait(portrait_path):
    rgb = np.asarray(Image.open(portrait_path).convert("RGB"))
    return rgb, detect_landmarks(rgb)[0]


def _neutral(**changes) -> StudioLook:
    """A look that changes nothing but what ``changes`` says."""
    base = dict(backdrop_kind=0, backdrop_value=0.5, backdrop_hue=120.0, backdrop_saturation=0.8, backdrop_texture=0.0,
                exposure_stops=0.0, wb_red=1.0, wb_blue=1.0, saturation=1.0, key_strength=0.0, key_azimuth_deg=45.0,
                key_side=0.0, key_elevation_deg=20.0, key_wrap=0.2)
    base.update(changes)
    return StudioLook(**base)


@pytest.mark.parametrize("cls", [FlashParams, StudioLook])
def test_shift_ranges_lie_outside_the_training_ranges(cls) -> None:
    train, shift = cls.ranges(), cls.ranges(shift=True)
    held_out = [name for name in train if train[name] != shift[name]]
    assert held_out
    for name in held_out:
        (low, high), (shift_low, shift_high) = train[name], shift[name]
        assert shift_high < low or shift_low > high, name


def test_flash_white_balance_is_cold_and_warm_and_skin_can_be_pale() -> None:
    draws = [FlashParams.sample(np.random.default_rng(seed)) for seed in range(400)]
    red = np.array([p.wb_gains[0] for p in draws])
    blue = np.array([p.wb_gains[2] for p in draws])
    assert (red < blue).any() and (red > blue).any()  # cold and warm flash photos
    assert min(p.saturation for p in draws) < 0.4
    shifted = [FlashParams.sample(np.random.default_rng(seed), shift=True) for seed in range(50)]
    assert all(p.wb_gains[0] > 1.1 for p in shifted)  # warmer than anything in training


def test_identity_pairs_are_drawn_at_their_rate_and_never_in_the_shift_test() -> None:
    looks = [StudioLook.sample(np.random.default_rng(seed)) for seed in range(2000)]
    share = np.mean([look.identity for look in looks])
    assert IDENTITY_PROBABILITY - 0.03 < share < IDENTITY_PROBABILITY + 0.03
    assert IDENTITY_PROBABILITY >= 0.10
    assert not any(StudioLook.sample(np.random.default_rng(seed), shift=True).identity for seed in range(200))


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_backdrops_have_the_drawn_colour_on_average(kind) -> None:
    look = _neutral(backdrop_kind=kind, backdrop_value=0.6, backdrop_saturation=0.0, backdrop_texture=0.1)
    image = backdrop((48, 40), look, np.random.default_rng(0))
    assert image.shape == (48, 40, 3) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert abs(float(image.mean()) - 0.6) < 0.15


def test_restyle_replaces_the_backdrop_through_the_matte_only() -> None:
    rng = np.random.default_rng(0)
    studio = rng.uniform(0.2, 0.8, (32, 32, 3)).astype(np.float32)
    matte = np.zeros((32, 32), np.float32)
    matte[8:24, 8:24] = 1.0
    out = restyle(studio, matte, _neutral(), np.random.default_rng(1))
    assert np.allclose(out[8:24, 8:24], studio[8:24, 8:24], atol=2e-3)  # the person is kept
    green = out[0:4, 0:4].reshape(-1, 3).mean(axis=0)
    assert green[1] > green[0] + 0.15 and green[1] > green[2] + 0.15  # hue 120°: a green backdrop
    kept = restyle(studio, matte, dataclasses.replace(_neutral(), keep_backdrop=True), np.random.default_rng(1))
    assert np.allclose(kept, studio, atol=2e-3)
    brighter = restyle(studio, matte, _neutral(exposure_stops=0.4), np.random.default_rng(1))
    assert float(brighter[8:24, 8:24].mean()) > float(studio[8:24, 8:24].mean()) + 0.03


def test_key_light_adds_modelling_to_the_face_and_leaves_the_backdrop(portrait) -> None:
    rgb, face = portrait
    from deepflash_train.dataset import face_from_points, face_hull

    studio = rgb.astype(np.float32) / 255
    crop_face = face_from_points(face.landmarks, face.box, (0, 0, rgb.shape[1], rgb.shape[0]))
    ctx = FlashRenderer().prepare(studio, crop_face)
    lit = key_light(studio, ctx, _neutral(key_strength=0.8, key_azimuth_deg=60.0, key_wrap=0.0))
    hull = face_hull(face.landmarks, rgb.shape[:2])
    assert face_lightness_std(lit, hull) > 1.15 * face_lightness_std(studio, hull)
    backdrop_mask = ctx.subject < 0.01
    assert backdrop_mask.any()
    assert np.abs(lit - studio)[backdrop_mask].max() < 0.01
    unchanged = key_light(studio, ctx, _neutral(key_strength=0.0))
    assert np.abs(unchanged - studio).max() < 2e-3


def _pair(portrait, seed: int, **options):
    rgb, face = portrait
    return make_pair(rgb, face, 64, Augmentation.from_index(IDENTITY_AUGMENTATION), FlashRenderer(),
                     np.random.default_rng(seed), **options)[:3]


def _identity_seed() -> int:
    return next(seed for seed in range(500) if StudioLook.sample(np.random.default_rng(seed)).identity)


def test_identity_pairs_give_the_target_as_input(portrait) -> None:
    seed = _identity_seed()
    flash, studio, hull = _pair(portrait, seed)
    assert np.array_equal(flash, studio)
    assert hull.shape == (64, 64) and 0.05 < hull.mean() < 0.9
    # Evaluation asks for no identity pairs: the same draw then renders a flash photo.
    flash, studio, _ = _pair(portrait, seed, identity_pairs=False)
    assert np.abs(flash - studio).mean() > 0.01


def test_large_renders_are_scaled_to_the_training_size(portrait) -> None:
    flash, studio, hull = _pair(portrait, 3, render_size=160, shift=True)
    assert flash.shape == studio.shape == (64, 64, 3) and hull.shape == (64, 64)
    assert np.abs(flash - studio).mean() > 0.01


def test_no_flash_pairs_are_identity_pairs_even_where_none_is_drawn(portrait) -> None:
    seed = next(seed for seed in range(500) if not StudioLook.sample(np.random.default_rng(seed)).identity)
    flash, studio, _ = _pair(portrait, seed, no_flash=True)
    assert np.array_equal(flash, studio)


def _look_pair(portrait, seed: int, augmentation: int = IDENTITY_AUGMENTATION, **options):
    rgb, face = portrait
    return make_pair(rgb, face, 128, Augmentation.from_index(augmentation), FlashRenderer(), np.random.default_rng(seed),
                     look_input=True, **options)


def test_the_look_input_takes_the_flash_toward_the_targets_look(portrait) -> None:
    from skimage.color import rgb2lab

    seed = next(seed for seed in range(500) if not StudioLook.sample(np.random.default_rng(seed)).identity)
    pair = _look_pair(portrait, seed)
    assert pair.look.dtype == np.float32 and pair.look.ndim == 1 and np.all(np.abs(pair.look) <= 1.0)
    face = pair.face > 0.5

    def lightness_and_chroma(image: np.ndarray) -> np.ndarray:
        lab = rgb2lab(image)[face]
        return np.array([lab[:, 0].mean(), np.hypot(lab[:, 1], lab[:, 2]).mean()])

    target = lightness_and_chroma(pair.studio)
    before = np.abs(lightness_and_chroma(pair.flash) - target)
    after = np.abs(lightness_and_chroma(pair.look_flash) - target)
    assert np.all(after < 0.5 * before), (before, after)


def test_an_identity_pair_asks_for_its_own_look_and_is_left_alone(portrait) -> None:
    pair = _look_pair(portrait, _identity_seed())
    assert np.array_equal(pair.flash, pair.studio)
    assert np.abs(pair.look_flash - pair.flash).max() < 1e-6


def test_a_flipped_pair_asks_for_the_key_light_on_the_other_side(portrait) -> None:
    from deepflash_client.options import LOOK_NAMES

    seed = next(seed for seed in range(500) if not StudioLook.sample(np.random.default_rng(seed)).identity)
    plain = _look_pair(portrait, seed, IDENTITY_AUGMENTATION)
    flipped = _look_pair(portrait, seed, IDENTITY_AUGMENTATION + 10)  # the same crop, flipped
    key_x = LOOK_NAMES.index("key_x")
    assert np.array_equal(flipped.flash, plain.flash[:, ::-1])
    assert flipped.look[key_x] == pytest.approx(-plain.look[key_x], abs=1e-6)
    others = [i for i in range(len(plain.look)) if i != key_x]
    np.testing.assert_allclose(flipped.look[others], plain.look[others])


def test_the_look_input_carries_the_key_lights_move_as_the_pipeline_does(portrait) -> None:
    """The network reads the flash after the whole global move, key light included (the pipeline's order)."""
    from deepflash_core.look.axes import FaceAxes
    from deepflash_core.look.descriptor import describe
    from deepflash_train.dataset import face_from_points
    from deepflash_train.look_input import look_pair

    rgb, marks = portrait
    face = face_from_points(marks.landmarks, marks.box, (0, 0, rgb.shape[1], rgb.shape[0]))
    flash = rgb.astype(np.float32) / 255.0
    across, _ = FaceAxes.of(face).grid(0, 0, rgb.shape[1], rgb.shape[0])
    # The same photo with the key light moved to the image's right: one stop across the face.
    target = np.clip(flash * np.exp2(np.clip(across, -0.6, 0.6))[..., None], 0.0, 1.0).astype(np.float32)
    matte = np.ones(rgb.shape[:2], np.float32)
    moved, _ = look_pair(flash, target, face, matte)
    own, wanted, got = (describe(image, face).key_x for image in (flash, target, moved))
    assert wanted > own + 0.5
    assert abs(got - wanted) < 0.5 * abs(own - wanted), (own, wanted, got)
