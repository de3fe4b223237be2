"""The virtual flash studio: reproducible, physically sane flash renders of studio portraits."""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest
from PIL import Image

from deepflash_core.detection.faces import Face, detect_faces
from deepflash_train.renderer import FlashParams, FlashRenderer, RenderInputError
from deepflash_train.renderer.flash import flash_light
from deepflash_train.renderer.geometry import normals
from deepflash_train.renderer.params import GLARE_PROBABILITY, RED_EYE_PROBABILITY
from deepflash_train.renderer.shading import LUMA, srgb_to_linear
from portraits import EXAMPLES, FIXTURES

def _face_of(rgb_u8: np.ndarray) -> Face:
    face = detect_faces(rgb_u8)[0]
    return Face(box=face.box, landmarks=face.landmarks)


def _scaled(face: Face, factor: float) -> Face:
    marks = {k: [(x * factor, y * factor) for x, y in v] for k, v in face.landmarks.items()}
    box = tuple(int(round(c * factor)) for c in face.box)
    return Face(box=box, landmarks=marks)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def portrait(portrait_path) -> tuple[np.ndarray, Face]:
    rgb = np.asarray(Image.open(portrait_path).convert("RGB"))
    return rgb.astype(np.float32) / 255, _face_of(rgb)


@pytest.fixture(scope="module")
def context(portrait):
    studio, face = portrait
    return FlashRenderer().prepare(studio, face)


def _luma(img: np.ndarray) -> np.ndarray:
    return srgb_to_linear(img) @ LUMA


def _regions(context) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the face's skin and of the backdrop well away from the person."""
    skin = context.skin > 0.5
    far = cv2.dilate((context.subject > 0.05).astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
    return skin, far


def test_same_seed_renders_the_same_image(portrait) -> None:
    studio, face = portrait
    a, pa = FlashRenderer().render(studio, face, np.random.default_rng(11))
    b, pb = FlashRenderer().render(studio, face, np.random.default_rng(11))
    assert np.array_equal(a, b)
    assert pa == pb


def test_different_seeds_render_different_images(context) -> None:
    renderer = FlashRenderer()
    a, pa = renderer.render_prepared(context, np.random.default_rng(1))
    b, pb = renderer.render_prepared(context, np.random.default_rng(2))
    assert pa != pb
    assert float(np.abs(a - b).mean()) > 0.01


def test_prepared_path_matches_simple_path(portrait, context) -> None:
    studio, face = portrait
    simple, _ = FlashRenderer().render(studio, face, np.random.default_rng(5))
    prepared, _ = FlashRenderer().render_prepared(context, np.random.default_rng(5))
    assert np.array_equal(simple, prepared)


@pytest.mark.parametrize("seed", range(4))
def test_output_is_finite_float_image_in_range(portrait, context, seed) -> None:
    studio, _ = portrait
    flash, params = FlashRenderer().render_prepared(context, np.random.default_rng(seed))
    assert flash.dtype == np.float32
    assert flash.shape == studio.shape
    assert np.isfinite(flash).all()
    assert flash.min() >= 0.0 and flash.max() <= 1.0
    assert params["exposure_gain"] > 0


def test_sampled_parameters_stay_in_their_documented_ranges() -> None:
    rng = np.random.default_rng(0)
    ranges = FlashParams.ranges()
    draws = [FlashParams.sample(rng) for _ in range(300)]
    for name, (low, high) in ranges.items():
        values = np.array([getattr(p, name) for p in draws], dtype=np.float64)
        if name in ("red_eye", "glare"):  # events: zero when they do not happen
            expected = 300 * (RED_EYE_PROBABILITY if name == "red_eye" else GLARE_PROBABILITY)
            values = values[values > 0]
            assert abs(len(values) - expected) < 0.25 * expected + 10, name
        assert values.min() >= low and values.max() <= high, name
        assert values.max() - values.min() > 0.5 * (high - low), name  # the range is really explored


def test_head_proxy_has_unit_normals_and_the_nose_nearest(context) -> None:
    frame = context.light_frame  # the proxy lives at the light-transport resolution
    params = FlashParams.sample(np.random.default_rng(3))
    z = context.parts.height(params.head_depth, params.nose_height, params.relief)
    n = normals(z, frame.width)
    assert np.allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4)
    assert (n[..., 2] > 0).all()  # a height field seen from the camera faces the camera
    light = flash_light(z, context.parts.subject, frame, params)
    y, x = np.unravel_index(np.argmin(light.depth), light.depth.shape)
    tip = frame.landmarks["nose_bridge"][-1]
    assert np.linalg.norm(np.array([x, y]) - tip) < 0.08 * frame.width
    # The backdrop is behind the whole person.
    assert light.depth[context.parts.subject < 0.01].min() > light.depth[context.parts.subject > 0.99].max()


def test_flash_irradiance_falls_off_toward_the_silhouette(context) -> None:
    params = FlashParams.sample(np.random.default_rng(4))
    z = context.parts.height(params.head_depth, params.nose_height, params.relief)
    light = flash_light(z, context.parts.subject, context.light_frame, params)
    u, v = context.light_frame.grid(*z.shape)
    head = context.parts.head_mask > 0.9
    centre = head & (np.abs(u) < 0.1) & (np.abs(v + 0.15) < 0.1)  # mid-forehead
    rim = head & (np.abs(u) > 0.42) & (np.abs(v) < 0.3)  # the cheeks' and temples' edges
    assert centre.any() and rim.any()
    assert light.diffuse[centre].mean() > 1.3 * light.diffuse[rim].mean()


@pytest.mark.parametrize("seed", range(5))
def test_face_stands_out_from_the_backdrop_more_than_in_the_studio(portrait, context, seed) -> None:
    studio, _ = portrait
    flash, _ = FlashRenderer().render_prepared(context, np.random.default_rng(seed))
    skin, far = _regions(context)
    assert skin.sum() > 100 and far.sum() > 100
    ratio_studio = _luma(studio)[skin].mean() / _luma(studio)[far].mean()
    ratio_flash = _luma(flash)[skin].mean() / _luma(flash)[far].mean()
    assert ratio_flash > 1.3 * ratio_studio


def test_auto_exposure_keeps_the_face_bright_but_not_blown(context) -> None:
    skin = context.skin > 0.5
    levels, clipped = [], []
    for seed in range(8):
        flash, params = FlashRenderer().render_prepared(context, np.random.default_rng(seed))
        levels.append(float(_luma(flash)[skin].mean()))
        clipped.append(float((flash[skin].min(axis=-1) > 0.98).mean()))
    # Metered on the face: mean linear skin luminance near the sampled 0.30–0.50 target.
    assert 0.2 < min(levels) and max(levels) < 0.7  # (tone curve and clipping move it a little)
    assert max(clipped) < 0.25  # highlights clip, the face as a whole does not


@pytest.mark.parametrize("seed", range(5))
def test_skin_turns_colder(portrait, context, seed) -> None:
    studio, _ = portrait
    flash, _ = FlashRenderer().render_prepared(context, np.random.default_rng(seed))
    skin, _ = _regions(context)
    warm_studio = studio[skin][:, 0].mean() / studio[skin][:, 2].mean()
    warm_flash = flash[skin][:, 0].mean() / flash[skin][:, 2].mean()
    assert warm_flash < warm_studio


def test_specular_highlights_are_near_white(context) -> None:
    base = FlashParams.sample(np.random.default_rng(6))
    # A neutral camera cast: the shine takes the light's colour, which is then white.
    shiny = dataclasses.replace(base, specular=0.8, oil_forehead=1.0, oil_nose=1.0, shininess=30.0, red_eye=0.0,
                                cast_green=1.0)
    matte = dataclasses.replace(shiny, specular=0.0)
    with_shine, _ = FlashRenderer().render_prepared(context, np.random.default_rng(6), shiny)
    without, _ = FlashRenderer().render_prepared(context, np.random.default_rng(6), matte)
    skin = context.skin > 0.5
    gain = (with_shine - without).mean(axis=-1)
    spots = skin & (gain > np.quantile(gain[skin], 0.97))
    hi = with_shine[spots]
    chroma = (hi.max(axis=-1) - hi.min(axis=-1)) / np.maximum(hi.max(axis=-1), 1e-3)
    plain = without[skin]
    plain_chroma = (plain.max(axis=-1) - plain.min(axis=-1)) / np.maximum(plain.max(axis=-1), 1e-3)
    assert hi.mean() > 0.8
    assert np.median(chroma) < 0.5 * np.median(plain_chroma)


def test_red_eye_reddens_the_pupils(context) -> None:
    params = dataclasses.replace(
        FlashParams.sample(np.random.default_rng(8)),
        red_eye=1.0,
        catchlight=0.5,
        glare=0.0,
        exposure=0.45,
        saturation=0.9,
    )
    red, _ = FlashRenderer().render_prepared(context, np.random.default_rng(8), params)
    plain, _ = FlashRenderer().render_prepared(
        context, np.random.default_rng(8), dataclasses.replace(params, red_eye=0.0)
    )
    for side in ("left_eye", "right_eye"):
        x, y = np.round(np.mean(context.frame.landmarks[side], axis=0)).astype(int)
        patch = (slice(y - 1, y + 2), slice(x - 1, x + 2))
        redness = lambda img: float(img[patch][..., 0].mean() - img[patch][..., 1:].mean())  # noqa: E731
        assert redness(red) > redness(plain) + 0.1


@pytest.mark.parametrize("angle, side", [(0.0, -1), (180.0, 1)])
def test_hard_shadow_falls_away_from_the_flash(context, angle, side) -> None:
    params = dataclasses.replace(
        FlashParams.sample(np.random.default_rng(9)),
        flash_angle_deg=angle,
        flash_offset_cm=2.0,
        distance_cm=30.0,
        background_cm=40.0,
        flash_size_cm=0.1,
    )
    z = context.parts.height(params.head_depth, params.nose_height, params.relief)
    light = flash_light(z, context.parts.subject, context.light_frame, params)
    shadow = (light.visibility < 0.5) & (context.parts.subject < 0.5)
    assert shadow.sum() > 20
    xs = np.nonzero(shadow)[1]
    centre_x = np.nonzero(context.parts.subject > 0.5)[1].mean()
    # flash to the right (0°) throws the outline to the left of the person, and back.
    assert side * (xs.mean() - centre_x) > 0


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_any_resolution_gives_the_same_look(portrait, factor) -> None:
    studio, face = portrait
    h, w = studio.shape[:2]
    size = (int(round(w * factor)), int(round(h * factor)))
    resized = np.clip(cv2.resize(studio, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC), 0, 1)
    renderer = FlashRenderer()
    ref_ctx = renderer.prepare(studio, face)
    ctx = renderer.prepare(resized, _scaled(face, factor))
    ref, ref_params = renderer.render_prepared(ref_ctx, np.random.default_rng(21))
    out, params = renderer.render_prepared(ctx, np.random.default_rng(21))
    assert out.shape == (size[1], size[0], 3)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert {k: v for k, v in params.items() if k != "exposure_gain"} == {
        k: v for k, v in ref_params.items() if k != "exposure_gain"
    }
    # Same parameters, same lighting: the low frequencies agree across resolutions.
    small = (max(w // 8, 8), max(h // 8, 8))
    a = cv2.resize(ref, small, interpolation=cv2.INTER_AREA)
    b = cv2.resize(out, small, interpolation=cv2.INTER_AREA)
    assert float(np.abs(a - b).mean()) < 0.05


def test_bad_inputs_raise_one_line_errors(portrait) -> None:
    studio, face = portrait
    renderer = FlashRenderer()
    with pytest.raises(RenderInputError, match="landmarks lack"):
        renderer.render(studio, Face(box=face.box, landmarks={}), np.random.default_rng(0))
    with pytest.raises(RenderInputError, match=r"\(H, W, 3\)"):
        renderer.render(studio[..., 0], face, np.random.default_rng(0))
    with pytest.raises(RenderInputError, match="matte shape"):
        renderer.prepare(studio, face, matte=np.ones((4, 4), np.float32))


def test_given_matte_is_used(portrait) -> None:
    studio, face = portrait
    everything = np.ones(studio.shape[:2], np.float32)
    ctx = FlashRenderer().prepare(studio, face, matte=everything)
    assert ctx.subject.min() == pytest.approx(1.0)
    assert math.isfinite(float(FlashRenderer().render_prepared(ctx, np.random.default_rng(0))[0].sum()))


def test_demo_fixture_is_reproduced_by_its_script(tmp_path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixture", FIXTURES / "make_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "flash.jpg"
    module.make_fixture(out=out)
    committed = np.asarray(Image.open(EXAMPLES / "flash_portrait.jpg"), dtype=np.float32) / 255
    again = np.asarray(Image.open(out), dtype=np.float32) / 255
    assert again.shape == committed.shape
    assert float(np.abs(again - committed).mean()) < 0.02  # same render up to JPEG and landmark jitter


def test_contact_sheet_pairs_targets_with_renders(tmp_path) -> None:
    from pathlib import Path

    from deepflash_train.renderer.contact_sheet import make_contact_sheet

    portraits = Path(__file__).resolve().parents[2] / "shared" / "data" / "portraits"
    if not portraits.is_dir():
        pytest.skip("the studio portrait collection (../shared/data/portraits) is not bundled")
    out = tmp_path / "sheet.jpg"
    used = make_contact_sheet(portraits / "congress_225x275", out, count=2, size=64, columns=2)
    assert len(used) == 2
    assert Image.open(out).size == (4 * 64, 64)


@pytest.mark.parametrize("case", ["tiny", "half_outside", "flat_grey", "black"])
def test_awkward_inputs_still_render(portrait, case) -> None:
    studio, face = portrait
    if case == "tiny":
        image, face = cv2.resize(studio, (34, 41), interpolation=cv2.INTER_AREA), _scaled(face, 34 / studio.shape[1])
    elif case == "half_outside":
        cut = int(np.mean(face.landmarks["nose_bridge"], axis=0)[0])
        image = np.ascontiguousarray(studio[:, cut:])
        marks = {k: [(x - cut, y) for x, y in v] for k, v in face.landmarks.items()}
        face = Face(box=face.box, landmarks=marks)
    else:
        image = np.full_like(studio, 0.5 if case == "flat_grey" else 0.0)
    flash, _ = FlashRenderer().render(image, face, np.random.default_rng(0))
    assert flash.shape == image.shape
    assert np.isfinite(flash).all() and flash.min() >= 0 and flash.max() <= 1


def test_glasses_are_detected_and_mirror_the_flash(context) -> None:
    renderer = FlashRenderer()
    scores = {}
    for name in ("congress_A000014.jpg", "congress_A000055.jpg"):  # with and without glasses
        rgb = np.asarray(Image.open(EXAMPLES / name).convert("RGB"))
        scores[name] = renderer.prepare(rgb.astype(np.float32) / 255, _face_of(rgb)).glasses
    assert scores == {"congress_A000014.jpg": True, "congress_A000055.jpg": False}

    # The reflection half an eye width above each eye's centre, on the lens over the lid (a neutral camera
    # cast: the reflection is the light's colour, white).
    base = dataclasses.replace(
        FlashParams.sample(np.random.default_rng(12)), glare_dx=0.0, glare_dy=-0.5, glare_size=0.15, cast_green=1.0
    )
    glare, _ = renderer.render_prepared(context, np.random.default_rng(12), dataclasses.replace(base, glare=2.0))
    plain, _ = renderer.render_prepared(context, np.random.default_rng(12), dataclasses.replace(base, glare=0.0))
    frame = context.frame
    for side in ("left_eye", "right_eye"):
        pts = frame.landmarks[side]
        spot = pts.mean(axis=0) - 0.5 * float(np.linalg.norm(pts[3] - pts[0])) * frame.down
        x, y = np.round(spot).astype(int)
        assert glare[y, x].min() > 0.9  # white
        assert glare[y, x].mean() > plain[y, x].mean() + 0.1


def test_each_flash_component_can_be_switched_off(context) -> None:
    """Switching a component off changes the render where that component acts, and nothing else is drawn differently."""
    from deepflash_train.renderer.params import FLASH_COMPONENTS

    full, params = FlashRenderer().render_prepared(context, np.random.default_rng(4))
    for name in FLASH_COMPONENTS:
        partial, record = FlashRenderer(off=(name,)).render_prepared(context, np.random.default_rng(4))
        assert record[f"with_{name}"] is False
        assert {k: v for k, v in record.items() if not k.startswith("with_") and k != "exposure_gain"} == \
            {k: v for k, v in params.items() if not k.startswith("with_") and k != "exposure_gain"}
        assert np.abs(partial - full).max() > 0.05, name
    with pytest.raises(ValueError, match="unknown flash components"):
        FlashRenderer(off=("lens flare",))


def test_without_clipping_no_pixel_reaches_white_and_hue_is_kept(context) -> None:
    from deepflash_train.renderer.camera import roll_off

    bright = np.array([[[3.0, 1.5, 0.75], [0.2, 0.1, 0.05]]], np.float32)
    rolled = roll_off(bright, 0.8)
    assert rolled.max() < 1.0
    np.testing.assert_allclose(rolled[0, 0] / rolled[0, 0, 0], [1.0, 0.5, 0.25], rtol=1e-5)
    np.testing.assert_allclose(rolled[0, 1], bright[0, 1])  # below the knee: untouched
    flash, _ = FlashRenderer(off=("clipping", "noise")).render_prepared(context, np.random.default_rng(2))
    assert flash.max() < 1.0
