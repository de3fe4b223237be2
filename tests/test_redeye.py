"""Red-eye and eyeglass glare: reference values of the pure functions, then the rendered fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepflash_core import face_mesh
from deepflash_core.eyes import fix_eyes, fix_face_eyes
from deepflash_core.face_mesh import Eye, find_eyes, landmark_eyes
from deepflash_core.faces import Face, detect_faces
from deepflash_core.glare import reduce_glare
from deepflash_core.redeye import DARK_PUPIL, RED_EYE_THRESHOLD, correct_eye, dark_pupil, eye_score, pupil_red_share, redness

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / name).convert("RGB"))


@pytest.fixture(scope="module")
def red_photo() -> tuple[np.ndarray, Face]:
    rgb = load("red_eye_portrait.jpg")
    return rgb, detect_faces(rgb)[0]


def synthetic_eye(
    red: bool,
    size: int = 64,
    iris: tuple[float, float, float] = (0.45, 0.3, 0.2),
    sclera_colour: tuple[float, float, float] = (0.9, 0.88, 0.86),
    pupil_radius: float = 6.0,
    catchlight_radius: float = 1.5,
) -> tuple[np.ndarray, Eye]:
    """Skin, a white sclera ellipse, an iris (brown by default), a pupil (red or dark) and a white catchlight."""
    ys, xs = np.mgrid[:size, :size].astype(np.float32)
    image = np.empty((size, size, 3), np.float32)
    image[:] = (0.8, 0.6, 0.5)
    centre = size / 2
    opening = np.array([(centre - 24, centre), (centre, centre - 12), (centre + 24, centre), (centre, centre + 12)], np.float32)
    sclera = ((xs - centre) / 24) ** 2 + ((ys - centre) / 12) ** 2 <= 1
    image[sclera] = sclera_colour
    d = np.hypot(xs - centre, ys - centre)
    image[sclera & (d <= 9)] = iris
    image[sclera & (d <= pupil_radius)] = (0.75, 0.12, 0.12) if red else (0.06, 0.05, 0.05)
    image[np.hypot(xs - centre - 2, ys - centre + 2) <= catchlight_radius] = (0.98, 0.98, 0.98)
    return image, Eye((centre, centre), 9.0, opening, "mesh")


# A red-brown iris under a warm cast: the white of the eye is cream, the iris nearly as red as a pale
# red pupil; its pupil is small (daylight), so the pupil-sized scored disc is mostly iris.
RED_BROWN_IRIS = {"iris": (0.6, 0.24, 0.16), "sclera_colour": (0.95, 0.85, 0.75), "pupil_radius": 2.0}


def test_redness_reference_values() -> None:
    rgb = np.array([[0.75, 0.12, 0.12], [0.8, 0.6, 0.5], [0.06, 0.05, 0.05], [0.2, 0.5, 0.9], [1.0, 1.0, 1.0]], np.float32)
    expected = [0.63 / 1.09, 0.2 / 2.0, 0.01 / 0.26, 0.0, 0.0]
    np.testing.assert_allclose(redness(rgb), expected, rtol=1e-5)


def test_dark_pupil_is_neutral_and_darker_than_green_and_blue() -> None:
    rgb = np.array([[0.7, 0.2, 0.3]], np.float32)
    pupil = dark_pupil(rgb)
    assert np.ptp(pupil) == 0 and pupil[0, 0] < 0.2


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_red_pupil_is_darkened_catchlight_kept_and_nothing_outside_the_disc_changes(dtype) -> None:
    image, eye = synthetic_eye(red=True)
    scale = {np.uint8: 255, np.uint16: 65535, np.float32: 1}[dtype]
    pixels = image.astype(np.float32) if dtype is np.float32 else np.round(image * scale).astype(dtype)
    before = pixels.copy()
    outcome = correct_eye(pixels, eye)
    assert outcome.corrected and outcome.score > RED_EYE_THRESHOLD
    assert pixels.dtype == before.dtype
    c = int(eye.centre[0])
    pupil = pixels[c - 3 : c + 4, c - 5 : c - 1].astype(np.float32) / scale
    assert redness(pupil).max() < 0.05 and pupil.max() < 0.15
    np.testing.assert_array_equal(pixels[c - 2, c + 2], before[c - 2, c + 2])  # the catchlight
    ys, xs = np.mgrid[: pixels.shape[0], : pixels.shape[1]]
    changed = np.any(pixels != before, axis=-1)
    assert changed.any()
    assert (np.hypot(xs[changed] - outcome.eye.centre[0], ys[changed] - outcome.eye.centre[1]) <= eye.radius).all()
    assert eye_score(pixels, eye) < RED_EYE_THRESHOLD


def test_an_eye_that_is_not_red_is_left_bit_identical() -> None:
    image, eye = synthetic_eye(red=False)
    pixels = np.round(image * 255).astype(np.uint8)
    before = pixels.copy()
    outcome = correct_eye(pixels, eye)
    assert not outcome.corrected and outcome.score < RED_EYE_THRESHOLD
    np.testing.assert_array_equal(pixels, before)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_dark_pupil_in_a_red_brown_iris_under_warm_light_is_left_bit_identical(dtype) -> None:
    image, eye = synthetic_eye(red=False, **RED_BROWN_IRIS)
    scale = {np.uint8: 255, np.uint16: 65535, np.float32: 1}[dtype]
    pixels = image.copy() if dtype is np.float32 else np.round(image * scale).astype(dtype)
    before = pixels.copy()
    outcome = correct_eye(pixels, eye)
    # The redness score alone would call this eye red; the dark pupil says it is not.
    assert outcome.score >= RED_EYE_THRESHOLD
    assert outcome.pupil_red_share < DARK_PUPIL and not outcome.corrected
    np.testing.assert_array_equal(pixels, before)


def test_the_score_is_taken_on_the_pupil_not_on_a_red_brown_iris_around_it() -> None:
    image, eye = synthetic_eye(red=False, **{**RED_BROWN_IRIS, "pupil_radius": 3.0})
    # The iris around the dark pupil is as red as a pale red pupil, the pupil the mesh points at is not.
    assert redness(np.array(RED_BROWN_IRIS["iris"]), 1.5) - redness(np.array(RED_BROWN_IRIS["sclera_colour"]), 1.5) > 2 * RED_EYE_THRESHOLD
    assert eye_score(image, eye) < RED_EYE_THRESHOLD / 2


def test_a_red_pupil_in_a_red_brown_iris_under_warm_light_is_fixed() -> None:
    image, eye = synthetic_eye(red=True, **RED_BROWN_IRIS)
    pixels = np.round(image * 255).astype(np.uint8)
    outcome = correct_eye(pixels, eye)
    assert outcome.corrected and outcome.pupil_red_share >= 1.0
    c = int(eye.centre[0])
    assert redness(pixels[c - 1 : c + 2, c - 1 : c + 1] / 255.0).max() < 0.05


def test_pupil_red_share_reference_values() -> None:
    dark, eye = synthetic_eye(red=False)
    red, _ = synthetic_eye(red=True)
    # Darkest 2.7 px disc: the dark pupil's red (0.06) over the iris ring's (0.45); the red pupil's 0.75 over 0.45.
    assert pupil_red_share(dark, eye) == pytest.approx(0.06 / 0.45, rel=1e-3)
    assert pupil_red_share(red, eye) == pytest.approx(0.75 / 0.45, rel=1e-3)
    # An opening that shows the pupil but no iris: nothing to compare with, so nothing says it is red.
    pupil_only = Eye(eye.centre, eye.radius, np.array([(27, 32), (32, 28), (37, 32), (32, 36)], np.float32), "mesh")
    assert pupil_red_share(red, pupil_only) == 0.0
    assert not correct_eye(red.copy(), pupil_only).corrected


def test_the_catchlight_does_not_dilute_the_score() -> None:
    small, eye = synthetic_eye(red=True, catchlight_radius=0.5)
    large, _ = synthetic_eye(red=True, catchlight_radius=3.0)
    assert eye_score(large, eye) == pytest.approx(eye_score(small, eye), abs=1e-3)


def test_alpha_is_untouched_on_rgba() -> None:
    image, eye = synthetic_eye(red=True)
    alpha = np.random.default_rng(0).integers(0, 65536, image.shape[:2], dtype=np.uint16)
    pixels = np.dstack([np.round(image * 65535).astype(np.uint16), alpha])
    assert correct_eye(pixels, eye).corrected
    np.testing.assert_array_equal(pixels[..., 3], alpha)


def test_rendered_red_pupils_are_fixed_and_only_they_change(red_photo) -> None:
    rgb, face = red_photo
    result = fix_eyes(rgb, face)
    assert len(result.outcomes) == 2
    assert all(o.corrected for o in result.outcomes)
    changed = np.any(result.pixels != rgb, axis=-1)
    ys, xs = np.nonzero(changed)
    inside = np.zeros(changed.shape, bool)
    for outcome in result.outcomes:
        eye = outcome.eye
        inside |= np.hypot(np.arange(rgb.shape[1])[None] - eye.centre[0], np.arange(rgb.shape[0])[:, None] - eye.centre[1]) <= eye.radius
        assert eye_score(result.pixels, eye) < RED_EYE_THRESHOLD <= eye_score(rgb, eye)
    assert len(ys) > 50 and not (changed & ~inside).any()


@pytest.mark.parametrize("name", ["congress_A000055.jpg", "congress_A000022.jpg", "flash_portrait.jpg"])
def test_eyes_without_red_eye_are_bit_identical(name: str) -> None:
    rgb = load(name)
    face = detect_faces(rgb)[0]
    eyes = find_eyes(rgb, face)
    output = rgb.copy()
    report = fix_face_eyes(output, eyes, glasses=False)
    assert len(report.outcomes) == 2 and not any(o.corrected for o in report.outcomes)
    np.testing.assert_array_equal(output, rgb)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_other_dtypes_give_the_uint8_correction(red_photo, dtype) -> None:
    rgb, face = red_photo
    scale = 65535 if dtype is np.uint16 else 1.0
    pixels = (rgb.astype(np.float64) / 255 * scale).astype(np.float32)
    pixels = np.round(pixels).astype(dtype) if dtype is np.uint16 else pixels
    reference = fix_eyes(rgb, face).pixels.astype(np.float32) / 255
    result = fix_eyes(pixels, face)
    assert result.pixels.dtype == dtype and all(o.corrected for o in result.outcomes)
    np.testing.assert_allclose(result.pixels.astype(np.float32) / scale, reference, atol=2.5 / 255)


def test_without_the_mesh_the_68_landmarks_locate_the_pupils(red_photo, monkeypatch) -> None:
    rgb, face = red_photo
    monkeypatch.setattr(face_mesh.mesh_models, "face_mesh", lambda rgb: None)
    eyes = find_eyes(rgb, face)
    assert [e.source for e in eyes] == ["landmarks", "landmarks"]
    assert [e.centre for e in eyes] == [e.centre for e in landmark_eyes(face)]
    result = fix_eyes(rgb, face)
    assert all(o.corrected for o in result.outcomes)
    for outcome in result.outcomes:
        assert eye_score(result.pixels, outcome.eye) < RED_EYE_THRESHOLD


def test_the_mesh_finds_irises_near_the_68_point_eye_centres(red_photo) -> None:
    rgb, face = red_photo
    mesh = find_eyes(rgb, face)
    assert [e.source for e in mesh] == ["mesh", "mesh"]
    for found, rough in zip(sorted(mesh, key=lambda e: e.centre), sorted(landmark_eyes(face), key=lambda e: e.centre)):
        assert np.hypot(found.centre[0] - rough.centre[0], found.centre[1] - rough.centre[1]) < rough.radius
        assert 0.6 < found.radius / rough.radius < 1.6


def lens(spot_radius: float, spot_y: int = 48, level: float = 1.0) -> tuple[np.ndarray, Eye]:
    """A grey lens over an eye 40 px wide, with a white glare spot above the eye."""
    image = np.full((120, 120, 3), 0.45, np.float32)
    opening = np.array([(40, 70), (60, 62), (80, 70), (60, 78)], np.float32)
    ys, xs = np.mgrid[:120, :120]
    image[np.hypot(xs - 60, ys - spot_y) <= spot_radius] = level
    return image, Eye((60.0, 70.0), 8.0, opening, "mesh")


def test_a_small_glare_spot_is_inpainted_from_the_lens_and_nothing_else_changes() -> None:
    image, eye = lens(3.0)
    before = image.copy()
    outcome = reduce_glare(image, eye)
    assert (outcome.inpainted, outcome.left) == (1, 0)
    assert abs(image[48, 60].mean() - 0.45) < 0.05
    ys, xs = np.nonzero(np.any(image != before, axis=-1))
    assert (np.hypot(xs - 60, ys - 48) <= 3.0 + 3).all()


def test_a_large_glare_spot_is_left_and_noted() -> None:
    image, eye = lens(7.0, spot_y=52)
    before = image.copy()
    report = fix_face_eyes(image, [eye], glasses=True)
    assert (report.glare_inpainted, report.glare_left) == (0, 1)
    assert len(report.warnings) == 1 and "glare" in report.warnings[0]
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize(("spot", "why"), [
    ((4.0, 40, 1.0), "reaches past the lens area: skin beyond the frame"),
    ((3.0, 48, 0.93), "no clipped core: skin shine, not the flash mirrored"),
    ((9.0, 50, 1.0), "larger than any mirrored flash: a lit patch of skin"),
])
def test_bright_spots_that_are_not_the_flash_mirrored_are_left_without_a_note(spot: tuple[float, int, float], why: str) -> None:
    image, eye = lens(*spot)
    before = image.copy()
    report = fix_face_eyes(image, [eye], glasses=True)
    assert (report.glare_inpainted, report.glare_left) == (0, 0), why
    assert report.warnings == []
    np.testing.assert_array_equal(image, before)


def test_a_spot_barely_brighter_than_the_lens_around_it_is_not_glare() -> None:
    image, eye = lens(3.0)
    image[30:60, 45:75] = 0.8  # a bright lens (lit skin behind it): the spot hardly stands out
    ys, xs = np.mgrid[:120, :120]
    image[np.hypot(xs - 60, ys - 48) <= 3.0] = 1.0
    before = image.copy()
    report = fix_face_eyes(image, [eye], glasses=True)
    assert (report.glare_inpainted, report.glare_left) == (0, 0)
    np.testing.assert_array_equal(image, before)


def test_glare_is_not_looked_for_without_glasses() -> None:
    image, eye = lens(3.0)
    before = image.copy()
    report = fix_face_eyes(image, [eye], glasses=False)
    assert report.glare_inpainted == report.glare_left == 0
    np.testing.assert_array_equal(image, before)


def test_rendered_glare_on_glasses_is_found() -> None:
    rgb = load("glare_portrait.jpg")
    result = fix_eyes(rgb, detect_faces(rgb)[0])
    assert result.glare_inpainted + result.glare_left == 2
    assert all(not o.corrected for o in result.outcomes)
