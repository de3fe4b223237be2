"""The look descriptor on faces with known looks, the reference checks, the presets and the global transform."""

from __future__ import annotations

import dataclasses
import json
import shlex

import cv2
import numpy as np
import pytest
from PIL import Image

from deepflash_client.errors import InvalidOptionError, LookReferenceError, NoFaceError
from deepflash_client.options import DEFAULT_LOOK, LOOK_AS_SHOT, LOOK_FIELDS, LOOK_NAMES, Options
from deepflash_core.detection.faces import Face, detect_faces, whole_image_face
from deepflash_core.look import Look, describe
from deepflash_core.look.axes import FaceAxes
from deepflash_core.look.presets import load_preset, preset_names, requested_look
from deepflash_core.look.transfer import apply_transform, plan_transform
from portraits import EXAMPLES



def photo(name: str = "congress_A000022.jpg") -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / name).convert("RGB"))


@pytest.fixture(scope="module")
def studio() -> tuple[np.ndarray, Face]:
    pixels = photo()
    return pixels, detect_faces(pixels)[0]


def in_lab(pixels: np.ndarray, change) -> np.ndarray:
    """``pixels`` with ``change(L, a, b) -> (L, a, b)`` applied to the whole frame in CIELAB."""
    lab = cv2.cvtColor(pixels.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    lab[..., 0], lab[..., 1], lab[..., 2] = change(lab[..., 0], lab[..., 1], lab[..., 2])
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)


def flash_like(pixels: np.ndarray) -> np.ndarray:
    """The whole frame made globally flash-like: L* -> 0.6 L* + 40, a* -> 0.5 a* - 2, b* -> 0.5 b* + 6."""
    return in_lab(pixels, lambda L, a, b: (0.6 * L + 40, 0.5 * a - 2, 0.5 * b + 6))


def face_lab(pixels: np.ndarray, face: Face) -> np.ndarray:
    """Mean CIELAB over the face's inner box (cheeks, nose, eyes)."""
    left, top, right, bottom = face.box
    inner = pixels[top + (bottom - top) // 4 : bottom - (bottom - top) // 4, left + (right - left) // 4 : right - (right - left) // 4]
    return cv2.cvtColor(inner.astype(np.float32) / 255, cv2.COLOR_RGB2Lab).reshape(-1, 3).mean(0)


def test_the_look_follows_the_one_field_list_and_round_trips_through_its_vector(studio):
    assert tuple(f.name for f in dataclasses.fields(Look)) == LOOK_NAMES
    look = describe(*studio)
    assert look.complete and Look.from_vector(look.as_vector()) == look
    for value, field in zip(look.as_vector(), LOOK_FIELDS):
        assert field.low <= value <= field.high, field.name
    assert np.all(np.abs(look.as_condition()) <= 1.0)
    assert Look.from_vector([None] * len(LOOK_FIELDS)).resolve(look) == look


def test_the_descriptor_is_deterministic(studio):
    assert describe(*studio) == describe(studio[0].copy(), studio[1])


@pytest.mark.parametrize("vector", [[0.0] * 11, ["1"] * 12, [float("nan")] + [0.0] * 11, [101.0] + [0.0] * 11])
def test_vectors_of_the_wrong_length_or_out_of_range_are_refused(vector):
    with pytest.raises(InvalidOptionError, match="look"):
        Options(look=vector)


def test_a_look_crosses_the_wire_as_a_list_and_comes_back_equal(studio):
    options = Options(look=describe(*studio).as_vector())
    assert json.loads(json.dumps(options.to_dict()))["look"] == list(options.look)
    assert Options.from_dict(json.loads(json.dumps(options.to_dict()))) == options


def test_the_white_follows_a_colour_cast_and_the_skin_seen_from_it_does_not(studio):
    pixels, face = studio
    before = describe(pixels, face)
    after = describe(in_lab(pixels, lambda L, a, b: (L, a + 8, b - 6)), face)
    assert after.white_a - before.white_a == pytest.approx(8, abs=1.5)
    assert after.white_b - before.white_b == pytest.approx(-6, abs=1.5)
    assert after.face_chroma == pytest.approx(before.face_chroma, abs=1.5)


def test_paler_skin_has_less_chroma_and_a_brighter_light_higher_levels(studio):
    pixels, face = studio
    before = describe(pixels, face)
    pale = describe(in_lab(pixels, lambda L, a, b: (L, 0.5 * a, 0.5 * b)), face)
    assert pale.face_chroma == pytest.approx(0.5 * before.face_chroma, rel=0.2)
    brighter = describe(in_lab(pixels, lambda L, a, b: (0.8 * L + 20, a, b)), face)
    assert brighter.white_lightness > before.white_lightness + 5
    assert brighter.black_lightness > before.black_lightness + 10


@pytest.mark.parametrize("side", [-1, 1])
def test_a_key_light_from_one_side_shows_in_key_x(studio, side):
    pixels, face = studio
    width = pixels.shape[1]
    ramp = 2.0 ** (side * 1.5 * (np.arange(width) / width - 0.5))  # 1.5 stops across the frame
    linear = (pixels.astype(np.float32) / 255) ** 2.2 * ramp[None, :, None]
    lit = (np.clip(linear, 0, 1) ** (1 / 2.2) * 255).round().astype(np.uint8)
    assert side * (describe(lit, face).key_x - describe(pixels, face).key_x) > 0.4


def test_bad_references_get_one_clear_line(studio):
    pixels, face = studio
    with pytest.raises(NoFaceError):
        describe(pixels, whole_image_face(*pixels.shape[:2]))
    grey = np.repeat(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    with pytest.raises(LookReferenceError, match="greyscale"):
        describe(grey, face, reference=True)
    flat = (pixels // 64) * 64 + 32  # a poster: a handful of flat colours
    with pytest.raises(LookReferenceError, match="not a drawing"):
        describe(flat, face, reference=True)
    small = cv2.resize(pixels, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    quarter = Face(tuple(v // 4 for v in face.box),
                   {name: [(x / 4, y / 4) for x, y in points] for name, points in face.landmarks.items()},
                   tuple(v // 4 for v in face.crop))
    with pytest.raises(LookReferenceError, match="px wide"):
        describe(small, quarter, reference=True)
    describe(grey, face)  # a photo being corrected is described whatever it is


def test_the_shipped_presets_carry_their_provenance():
    names = preset_names()
    assert {"neutral-studio", "warm-studio", "keep-colour", DEFAULT_LOOK} <= set(names)
    for name in names:
        preset = load_preset(name)
        assert preset.description and preset.command.startswith("deepflash look")
        assert not any(word.startswith("/") for word in shlex.split(preset.command)), "no path of the machine that wrote it"
        assert len(preset.sources) >= 10
        assert all(source["file"] and source["licence"] and source["attribution"] for source in preset.sources)
        # The preset is the median of its sources' looks, number by number.
        for field in LOOK_NAMES:
            value = getattr(preset.look, field)
            if value is not None:
                assert value == pytest.approx(np.median([s["look"][field] for s in preset.sources]), abs=1e-3)
    keep = load_preset("keep-colour").look
    assert keep.white_a is None and keep.white_b is None and keep.face_hue is not None  # the light's colour only
    assert requested_look(LOOK_AS_SHOT) == Look()
    with pytest.raises(InvalidOptionError, match="neutral-studio"):
        requested_look("no-such-look")


def test_asking_for_the_photos_own_look_changes_nothing(studio):
    pixels, face = studio
    own = describe(pixels, face)
    output = pixels.copy()
    transform = plan_transform(own, own)
    assert transform.is_identity
    apply_transform(pixels, output, transform, np.ones(pixels.shape[:2], np.float32))
    assert np.array_equal(output, pixels)
    assert plan_transform(own, Look()).is_identity


def test_a_globally_flash_like_portrait_is_brought_back_to_its_own_look(studio):
    pixels, face = studio
    flash = flash_like(pixels)
    output = flash.copy()
    apply_transform(flash, output, plan_transform(describe(flash, face), describe(pixels, face)),
                    np.ones(pixels.shape[:2], np.float32))
    truth, before, after = (face_lab(image, face) for image in (pixels, flash, output))
    chroma = lambda lab: np.hypot(lab[1], lab[2])  # noqa: E731
    assert abs(after[0] - truth[0]) < 0.3 * abs(before[0] - truth[0])
    assert abs(chroma(after) - chroma(truth)) < 0.3 * abs(chroma(before) - chroma(truth))


def test_the_matte_bounds_the_move_and_strength_scales_it(studio):
    pixels, face = studio
    flash = flash_like(pixels)
    transform = plan_transform(describe(flash, face), describe(pixels, face))
    matte = np.zeros(pixels.shape[:2], np.float32)
    matte[:, : pixels.shape[1] // 2] = 1.0
    full, half = flash.copy(), flash.copy()
    apply_transform(flash, full, transform, matte)
    apply_transform(flash, half, transform, matte, strength=0.5)
    right = np.s_[:, pixels.shape[1] // 2 :]
    assert np.array_equal(full[right], flash[right]) and np.array_equal(half[right], flash[right])
    moved = np.abs(full.astype(int) - flash)[:, : pixels.shape[1] // 2].mean()
    halfway = np.abs(half.astype(int) - flash)[:, : pixels.shape[1] // 2].mean()
    assert moved > 5 and halfway == pytest.approx(moved / 2, rel=0.15)


def test_people_corrected_toward_one_look_keep_their_order_of_skin_lightness():
    people = [photo(name) for name in ("congress_A000014.jpg", "congress_A000055.jpg")]
    faces = [detect_faces(pixels)[0] for pixels in people]
    before = [describe(p, f).face_lightness for p, f in zip(people, faces)]
    assert abs(before[0] - before[1]) > 10  # two clearly different skins
    for name in ("warm-studio", "neutral-studio"):
        after = []
        for pixels, face in zip(people, faces):
            flash = flash_like(pixels)
            output = flash.copy()
            apply_transform(flash, output, plan_transform(describe(flash, face), load_preset(name).look),
                            np.ones(pixels.shape[:2], np.float32))
            after.append(describe(output, face).face_lightness)
        assert (after[0] > after[1]) == (before[0] > before[1]), name


@pytest.mark.parametrize("side", [-1.0, 1.0])
def test_asking_for_a_key_from_one_side_moves_the_modelling_that_way(studio, side):
    pixels, face = studio
    own = describe(pixels, face)
    output = pixels.copy()
    wanted = dataclasses.replace(own, key_x=own.key_x + side)
    apply_transform(pixels, output, plan_transform(own, wanted, FaceAxes.of(face)), np.ones(pixels.shape[:2], np.float32))
    assert describe(output, face).key_x - own.key_x == pytest.approx(side, abs=0.25)
    assert plan_transform(own, wanted, FaceAxes.of(face)).key_turn == (side, 0.0)
    assert plan_transform(own, wanted).is_identity  # without the face's frame the modelling is left alone


def test_a_white_reference_coloured_like_skin_leaves_the_photos_colour_alone(studio):
    pixels, face = studio
    own = dataclasses.replace(describe(pixels, face), white_a=11.7, white_b=17.5)  # the "white" read was skin
    transform = plan_transform(own, requested_look("neutral-studio"))
    assert transform.white_from == transform.white_to
    assert transform.chroma_gain == 1.0 and transform.hue_turn_deg == 0.0
    # A white the eyes give keeps the colour move.
    trusted = dataclasses.replace(own, white_a=-3.6, white_b=6.2)
    assert plan_transform(trusted, requested_look("neutral-studio")).white_to != (-3.6, 6.2)


def _lab_patch(lightness: float, chroma: float, hue_deg: float) -> np.ndarray:
    hue = np.radians(hue_deg)
    return np.array([[[lightness, chroma * np.cos(hue), chroma * np.sin(hue)]]], np.float32)


def test_the_chroma_scaling_is_the_skins_white_hair_and_clothes_keep_their_colour():
    """Pale flash skin regains its colour; a white beard as pale as it (only lighter) and a navy suit do not."""
    from deepflash_core.look.transfer import LookTransform

    move = LookTransform(chroma_gain=2.0, skin_hue_deg=60.0, skin_lightness=70.0, white_lightness=92.0)

    def chroma_after(lightness: float, chroma: float, hue_deg: float) -> float:
        return float(np.hypot(*move.apply_lab(_lab_patch(lightness, chroma, hue_deg))[0, 0, 1:]))

    assert chroma_after(65.0, 7.0, 60.0) == pytest.approx(14.0, rel=1e-4)  # skin: the whole scaling
    assert chroma_after(81.0, 7.0, 60.0) == pytest.approx(10.5, rel=1e-3)  # halfway to the white: half the scaling
    assert chroma_after(93.0, 7.0, 60.0) == pytest.approx(7.0, rel=1e-4)  # white hair: as pale as before
    assert chroma_after(30.0, 7.0, 60.0 + 180.0) == pytest.approx(7.0, rel=0.02)  # a navy suit keeps its colour
    assert 7.0 < chroma_after(65.0, 7.0, 60.0 + 60.0) < 14.0  # a hue beside the skin's: part of it


def test_the_hue_turn_is_the_skins_a_white_beard_is_not_turned_to_its_colour():
    from deepflash_core.look.transfer import LookTransform

    move = LookTransform(hue_turn_deg=-60.0, skin_hue_deg=120.0, skin_lightness=70.0, white_lightness=92.0)

    def hue_after(lightness: float) -> float:
        a, b = move.apply_lab(_lab_patch(lightness, 6.0, 120.0))[0, 0, 1:]
        return float(np.degrees(np.arctan2(b, a)))

    assert hue_after(65.0) == pytest.approx(60.0, abs=0.5)  # the skin: the whole turn
    assert hue_after(93.0) == pytest.approx(120.0, abs=0.5)  # a white beard as pale as it: none


@pytest.mark.parametrize("shift", [-30.0, -3.0, 30.0])
def test_the_network_is_asked_for_the_requested_face_lightness_only_a_bounded_way_past_the_global_part(studio, shift):
    """A reference of another skin must not make the network carry the face to that skin's lightness."""
    from deepflash_core.look.stage import NETWORK_FACE_BAND, correct_look

    pixels, face = studio
    own = describe(pixels, face)
    wanted = dataclasses.replace(own, face_lightness=float(np.clip(own.face_lightness + shift, 0, 100)))
    output = pixels.copy()
    condition = correct_look(pixels, output, [face], np.ones(pixels.shape[:2], np.float32),
                             Options(look=wanted.as_vector()), [])
    transform = plan_transform(own, wanted, FaceAxes.of(face))
    moved = transform.gain * own.face_lightness + transform.offset
    assert abs(condition.face_lightness - moved) <= NETWORK_FACE_BAND + 1e-6
    # Within the band the request is passed on as it is; every other number is the request's.
    if abs(wanted.face_lightness - moved) <= NETWORK_FACE_BAND:
        assert condition.face_lightness == pytest.approx(wanted.face_lightness)
    assert dataclasses.replace(condition, face_lightness=wanted.face_lightness) == wanted
