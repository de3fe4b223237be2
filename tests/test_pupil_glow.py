"""Red-eye as real flash photos show it, on small drawn eyes: every kind fixed, every normal eye left alone."""

from __future__ import annotations

import numpy as np
import pytest

from deepflash_core.detection.face_mesh import Eye
from deepflash_core.eyes.redeye import correct_eye
from deepflash_core.eyes.pupil_glow import LUMA, eye_footing, find_glow, warmth

SKIN = (0.8, 0.6, 0.5)
SCLERA = (0.9, 0.88, 0.86)
BROWN = (0.45, 0.3, 0.2)
DARK = (0.06, 0.05, 0.05)
WHITE = (0.98, 0.98, 0.98)


def drawn_eye(iris=BROWN, pupil=DARK, pupil_radius=3.0, scale=1.0, catchlight=1.5, sclera=SCLERA, core=None, ring=None,
              hazel=None, lens=None, off=(0.0, 0.0)) -> tuple[np.ndarray, Eye]:
    """Skin, a sclera ellipse, an iris, a pupil, a white catchlight; optionally a pale core, a ring glow
    around a dark centre, a hazel inner iris, a lens ``(tint, transmission, haze)`` over it all.

    ``scale`` shrinks the eye (a far eye); ``off`` moves the centre the stage is given (an unsure mesh).
    """
    size = 64
    ys, xs = np.mgrid[:size, :size].astype(np.float32)
    image = np.empty((size, size, 3), np.float32)
    image[:] = SKIN
    c = size / 2
    a, b, r = 24 * scale, 12 * scale, 9 * scale
    t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    opening = np.stack([c + a * np.cos(t), c + b * np.sin(t)], axis=1).astype(np.float32)
    inside = ((xs - c) / a) ** 2 + ((ys - c) / b) ** 2 <= 1
    d = np.hypot(xs - c, ys - c)
    image[inside] = sclera
    image[inside & (d <= r)] = iris
    if hazel is not None:
        image[inside & (d <= hazel[0])] = hazel[1]
    image[inside & (d <= pupil_radius)] = pupil
    if core is not None:
        image[inside & (d <= core[0])] = core[1]
    if ring is not None:  # (inner radius, colour): a glowing ring, the centre dark
        image[inside & (d <= pupil_radius) & (d > ring[0])] = ring[1]
        image[inside & (d <= ring[0])] = DARK
    image[np.hypot(xs - c - 2 * scale, ys - c + 2 * scale) <= catchlight] = WHITE
    if lens is not None:
        tint, transmission, haze = lens
        image = image * np.float32(transmission) * np.array(tint, np.float32) + np.float32(haze)
    return np.clip(image, 0, 1).astype(np.float32), Eye((c + off[0], c + off[1]), r, opening, "mesh")


GREY_LENS = ((1.0, 1.0, 1.0), 0.7, 0.1)
BROWN_LENS = ((1.0, 0.85, 0.7), 0.8, 0.06)

GLOWING = {
    "red": {"pupil": (0.8, 0.15, 0.12), "pupil_radius": 6.0},
    "amber": {"pupil": (0.95, 0.6, 0.2), "pupil_radius": 6.0},
    "golden": {"pupil": (0.95, 0.8, 0.35), "pupil_radius": 5.0},
    "pale_core": {"pupil": (0.95, 0.6, 0.2), "pupil_radius": 6.0, "core": (3.0, (1.0, 0.95, 0.8))},
    "ring": {"pupil": (0.9, 0.3, 0.15), "pupil_radius": 6.0, "ring": (3.5, (0.9, 0.3, 0.15))},
    "through_grey_lens": {"pupil": (0.6, 0.22, 0.2), "pupil_radius": 6.0, "lens": GREY_LENS},
    "through_brown_lens": {"pupil": (0.7, 0.2, 0.25), "pupil_radius": 6.0, "lens": BROWN_LENS},
    "far_eye": {"pupil": (0.85, 0.35, 0.15), "pupil_radius": 3.5, "scale": 0.65, "catchlight": 1.0, "off": (1.5, -0.8)},
}

NORMAL = {
    "brown": {},
    "hazel": {"iris": (0.4, 0.42, 0.25), "hazel": (5.5, (0.6, 0.45, 0.2))},
    "amber_iris": {"iris": (0.7, 0.5, 0.2)},
    "red_brown_iris_under_warm_light": {"iris": (0.6, 0.24, 0.16), "sclera": (0.95, 0.85, 0.75), "pupil_radius": 2.0},
    "light_blue": {"iris": (0.45, 0.6, 0.75)},
    "large_catchlight": {"pupil_radius": 4.0, "catchlight": 2.5},
    "wide_dark_pupil": {"pupil_radius": 6.0},
    "behind_a_brown_lens": {"lens": BROWN_LENS},
    "behind_a_grey_lens": {"lens": GREY_LENS, "iris": (0.55, 0.35, 0.2)},
    "far_eye": {"scale": 0.65, "catchlight": 1.0, "off": (1.5, -0.8), "pupil_radius": 2.0},
}


def as_dtype(image: np.ndarray, dtype) -> tuple[np.ndarray, float]:
    scale = {np.uint8: 255, np.uint16: 65535, np.float32: 1}[dtype]
    return (image.copy() if dtype is np.float32 else np.round(image * scale).astype(dtype)), scale


def test_warmth_reference_values() -> None:
    rgb = np.array([[0.8, 0.15, 0.12], [0.95, 0.6, 0.2], [0.98, 0.98, 0.98], [0.45, 0.6, 0.75]], np.float32)
    expected = [0.68 / 2.07, 0.75 / 2.75, 0.0, -0.3 / 2.8]
    np.testing.assert_allclose(warmth(rgb), expected, rtol=1e-5)


def test_the_footing_takes_a_lens_tint_and_haze_off() -> None:
    plain, eye = drawn_eye()
    tinted, _ = drawn_eye(lens=BROWN_LENS)
    mask = np.zeros(plain.shape[:2], bool)
    mask[20:44, 8:56] = True
    sclera = np.zeros_like(mask)
    sclera[31:34, 12:16] = True
    a, _ = eye_footing(plain, mask, sclera)
    b, _ = eye_footing(tinted, mask, sclera)
    # The white of the eye comes out neutral and the iris the same colour, lens or not.
    np.testing.assert_allclose(b[32, 14], b[32, 14].mean(), atol=1e-3)
    np.testing.assert_allclose(b[32, 25] / b[32, 25].sum(), a[32, 25] / a[32, 25].sum(), atol=0.02)


@pytest.mark.parametrize("kind", sorted(GLOWING))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_each_kind_of_glow_becomes_a_dark_pupil_with_its_catchlight(kind: str, dtype) -> None:
    spec = GLOWING[kind]
    image, eye = drawn_eye(**spec)
    pixels, scale = as_dtype(image, dtype)
    before = pixels.copy()
    outcome = correct_eye(pixels, eye)
    assert outcome.corrected, kind
    after = pixels.astype(np.float32) / scale
    s = spec.get("scale", 1.0)
    ys, xs = np.mgrid[:64, :64]
    d = np.hypot(xs - 32, ys - 32)
    catch = np.hypot(xs - 32 - 2 * s, ys - 32 + 2 * s) <= spec.get("catchlight", 1.5) + 1
    pupil = (d <= spec["pupil_radius"]) & ~catch
    rim = (d > spec["pupil_radius"]) & (d <= spec["pupil_radius"] + 1)
    # The whole glow is gone: dark and neutral; its edge is feathered into the iris, no warmer than
    # the iris itself (no orange ring).
    assert (after[pupil][:, 0] - after[pupil][:, 2]).max() < 0.08, kind
    assert (after[pupil] @ np.array([0.3, 0.59, 0.11])).max() < 0.25, kind
    assert (after[rim][:, 0] - after[rim][:, 2]).max() <= 0.26, kind
    # The catchlight's core is kept; nothing changes outside the iris circle.
    centre = (32 - round(2 * s), 32 + round(2 * s))
    np.testing.assert_array_equal(pixels[centre], before[centre])
    changed = np.any(pixels != before, axis=-1)
    assert (d[changed] <= 9 * s * 1.15 + 2).all()


@pytest.mark.parametrize("kind", sorted(NORMAL))
def test_a_normal_eye_is_left_bit_identical(kind: str) -> None:
    image, eye = drawn_eye(**NORMAL[kind])
    for dtype in (np.uint8, np.uint16, np.float32):
        pixels, _ = as_dtype(image, dtype)
        before = pixels.copy()
        assert not correct_eye(pixels, eye).corrected, (kind, dtype)
        np.testing.assert_array_equal(pixels, before)


def test_an_unsure_iris_centre_is_moved_onto_the_glow() -> None:
    image, eye = drawn_eye(**GLOWING["red"], off=(4.0, 0.0))
    glow = find_glow(image, eye)
    ys, xs = np.nonzero(glow.region)
    x0, y0 = glow.window[:2]
    assert abs(xs.mean() + x0 - 32) < 1.0 and abs(ys.mean() + y0 - 32) < 1.0


def test_the_three_pixel_types_give_the_same_correction() -> None:
    image, eye = drawn_eye(**GLOWING["pale_core"])
    results = []
    for dtype in (np.uint8, np.uint16, np.float32):
        pixels, scale = as_dtype(image, dtype)
        correct_eye(pixels, eye)
        results.append(pixels.astype(np.float32) / scale)
    np.testing.assert_allclose(results[1], results[2], atol=1e-4)
    np.testing.assert_allclose(results[0], results[2], atol=2.5 / 255)


def test_alpha_is_untouched_on_rgba() -> None:
    image, eye = drawn_eye(**GLOWING["amber"])
    alpha = np.random.default_rng(0).integers(0, 65536, image.shape[:2], dtype=np.uint16)
    pixels = np.dstack([np.round(image * 65535).astype(np.uint16), alpha])
    assert correct_eye(pixels, eye).corrected
    np.testing.assert_array_equal(pixels[..., 3], alpha)


def test_a_crescent_glow_is_fixed_with_its_dark_centre() -> None:
    image, eye = drawn_eye(**GLOWING["ring"])
    ys, xs = np.mgrid[:64, :64]
    d = np.hypot(xs - 32, ys - 32)
    # Only the right half of the ring glows (a crescent); the left half is dark pupil.
    image[(d <= 6.0) & (xs < 31)] = DARK
    before = image.copy()
    assert correct_eye(image, eye).corrected
    pupil = (d <= 6.0) & ~(np.hypot(xs - 34, ys - 30) <= 2.5)
    assert (image[pupil][:, 0] - image[pupil][:, 2]).max() < 0.08
    assert (image[pupil] @ np.array([0.3, 0.59, 0.11], np.float32)).max() < 0.25
    assert np.array_equal(image[d > 9 * 1.15 + 2], before[d > 9 * 1.15 + 2])


def test_a_red_ring_over_the_whole_iris_is_fixed() -> None:
    # The glow reaches the iris's edge: no iris is seen around it, but no iris is this red.
    image, eye = drawn_eye(pupil=(0.9, 0.2, 0.12), pupil_radius=8.5, ring=(4.0, (0.9, 0.2, 0.12)))
    assert correct_eye(image, eye).corrected
    ys, xs = np.mgrid[:64, :64]
    ring = (np.hypot(xs - 32, ys - 32) <= 8.0) & ~(np.hypot(xs - 34, ys - 30) <= 2.5)
    assert (image[ring][:, 0] - image[ring][:, 2]).max() < 0.08


def test_a_catchlight_tinted_by_the_glow_keeps_its_brightness_and_loses_the_tint() -> None:
    image, eye = drawn_eye(**GLOWING["red"])
    ys, xs = np.mgrid[:64, :64]
    catch = np.hypot(xs - 34, ys - 30) <= 1.5
    image[catch] = (0.98, 0.82, 0.8)  # a small highlight reddened by the glow around it (JPEG's colour)
    assert correct_eye(image, eye).corrected
    kept = image[catch] / np.array(SCLERA, np.float32)  # its colour against the white of the eye
    assert (image[catch] @ LUMA).min() > 0.75
    assert warmth(kept).max() < 0.01 < warmth(np.array([0.98, 0.8, 0.77]) / np.array(SCLERA))


def test_a_glow_beside_the_given_iris_is_found_and_fixed() -> None:
    # The mesh's iris slid half a radius off a golden glowing pupil: the glow is re-centred on. The
    # lashes along the upper lid are the eye's darkest pixels (its black level), as in a photo.
    # The iris is a light hazel: the centre given on it is no dark pupil.
    image, eye = drawn_eye(**GLOWING["golden"], iris=(0.5, 0.5, 0.35), off=(5.0, 0.0))
    image[21:23, 22:43] = DARK
    assert correct_eye(image, eye).corrected
    ys, xs = np.mgrid[:64, :64]
    pupil = (np.hypot(xs - 32, ys - 32) <= 5.0) & ~(np.hypot(xs - 34, ys - 30) <= 2.5)
    assert (image[pupil][:, 0] - image[pupil][:, 2]).max() < 0.08


@pytest.mark.parametrize("iris", [(0.7, 0.5, 0.2), (0.6, 0.24, 0.16)])
def test_a_light_iris_beside_the_given_centre_is_left_alone(iris) -> None:
    image, eye = drawn_eye(iris=iris, pupil_radius=2.5, off=(9.0, 0.0))
    before = image.copy()
    assert not correct_eye(image, eye).corrected
    np.testing.assert_array_equal(image, before)
