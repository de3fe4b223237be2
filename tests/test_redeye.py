"""Red-eye and eyeglass glare: reference values of the pure functions, then the rendered fixtures."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from deepflash_core.detection import face_mesh
from deepflash_core.detection.face_mesh import Eye, find_eyes, landmark_eyes
from deepflash_core.detection.faces import Face, detect_faces
from deepflash_core.eyes.glare import reduce_glare
from deepflash_core.eyes.redeye import is_glowing
from deepflash_core.eyes.stage import fix_eyes, fix_face_eyes
from deepflash_core.eyes.pupil_glow import PUPIL_REACH, find_glow
from portraits import path_of



def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(path_of(name)).convert("RGB"))


@pytest.fixture(scope="module")
def red_photo() -> tuple[np.ndarray, Face]:
    rgb = load("red_eye_portrait.jpg")
    return rgb, detect_faces(rgb)[0]


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
        # The mesh's iris radius is often a little short: the pupil is looked for a little past it.
        inside |= np.hypot(np.arange(rgb.shape[1])[None] - eye.centre[0], np.arange(rgb.shape[0])[:, None] - eye.centre[1]) <= PUPIL_REACH * eye.radius + 1.5
        assert is_glowing(find_glow(rgb, eye)) and not is_glowing(find_glow(result.pixels, eye))
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
        assert not is_glowing(find_glow(result.pixels, outcome.eye))


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
