"""Face detection on the bundled public-domain portraits."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from deepflash_core.detection.faces import (
    LANDMARK_GROUPS,
    Face,
    crop_for_box,
    detect_faces,
    landmarks_look_like_a_face,
    whole_image_face,
)
from portraits import STUDIO_PORTRAITS

PORTRAITS = STUDIO_PORTRAITS
LANDMARK_COUNTS = {
    "chin": 17,
    "left_eyebrow": 5,
    "right_eyebrow": 5,
    "nose_bridge": 4,
    "nose_tip": 5,
    "left_eye": 6,
    "right_eye": 6,
    "top_lip": 12,
    "bottom_lip": 12,
}


def read_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def contains(outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    return read_rgb(PORTRAITS[0])


@pytest.mark.parametrize("path", PORTRAITS, ids=lambda p: p.stem)
def test_one_face_per_portrait_with_68_landmarks_and_a_head_crop(path: Path) -> None:
    rgb = read_rgb(path)
    faces = detect_faces(rgb)
    assert len(faces) == 1
    face = faces[0]
    height, width = rgb.shape[:2]
    left, top, right, bottom = face.box
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    assert {name: len(points) for name, points in face.landmarks.items()} == LANDMARK_COUNTS
    for name in ("left_eye", "right_eye", "nose_tip"):
        x, y = np.mean(face.landmarks[name], axis=0)
        assert left <= x <= right and top <= y <= bottom, name
    x0, y0, x1, y1 = face.crop
    assert x1 - x0 == y1 - y0 == face.crop_size
    assert contains(face.crop, face.box)
    # Room for hair and forehead above the box, more than below it.
    assert top - y0 > y1 - bottom > 0


def test_detection_on_a_large_photo_maps_back_to_full_resolution(portrait: np.ndarray) -> None:
    small_face = detect_faces(portrait)[0]
    factor = 6
    big = cv2.resize(portrait, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    faces = detect_faces(big)
    assert len(faces) == 1
    big_face = faces[0]
    # The same eyes, in full-resolution pixels (within a few percent of the face size).
    tolerance = 0.05 * (big_face.box[2] - big_face.box[0])
    for name in ("left_eye", "right_eye"):
        expected = (np.mean(small_face.landmarks[name], axis=0) + 0.5) * factor - 0.5
        assert np.allclose(np.mean(big_face.landmarks[name], axis=0), expected, atol=tolerance), name


def test_every_face_is_found_left_to_right() -> None:
    images = [read_rgb(path) for path in PORTRAITS]
    group = np.concatenate(images, axis=1)
    faces = detect_faces(group)
    assert len(faces) == len(images)
    centres = [(face.box[0] + face.box[2]) / 2 for face in faces]
    assert centres == sorted(centres)
    for index, centre in enumerate(centres):
        assert index * 225 <= centre < (index + 1) * 225


def test_a_much_smaller_face_is_kept_or_dropped_by_relative_size(portrait: np.ndarray) -> None:
    big = cv2.resize(read_rgb(PORTRAITS[1]), None, fx=2.2, fy=2.2, interpolation=cv2.INTER_CUBIC)
    canvas = np.full((big.shape[0], big.shape[1] + portrait.shape[1], 3), 128, np.uint8)
    canvas[:, : big.shape[1]] = big
    canvas[: portrait.shape[0], big.shape[1] :] = portrait
    assert len(detect_faces(canvas, min_relative_size=0.2)) == 2
    kept = detect_faces(canvas, min_relative_size=0.6)
    assert len(kept) == 1 and kept[0].box[2] <= big.shape[1]


@pytest.mark.parametrize("kind", ["noise", "flat", "gradient"])
def test_no_face_in_images_without_one(kind: str) -> None:
    rng = np.random.default_rng(0)
    if kind == "noise":
        rgb = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    elif kind == "flat":
        rgb = np.full((300, 400, 3), 200, np.uint8)
    else:
        rgb = np.repeat(np.linspace(0, 255, 400, dtype=np.uint8)[None, :, None], 300, axis=0).repeat(3, axis=2)
    assert detect_faces(rgb) == []


def test_uint16_float_and_alpha_inputs_find_the_same_face(portrait: np.ndarray) -> None:
    reference = detect_faces(portrait)[0].box
    as_u16 = portrait.astype(np.uint16) * 257
    as_f32 = portrait.astype(np.float32) / 255
    with_alpha = np.dstack([portrait, np.full(portrait.shape[:2], 255, np.uint8)])
    for variant in (as_u16, as_f32, with_alpha):
        faces = detect_faces(variant)
        assert len(faces) == 1 and faces[0].box == reference


def test_landmark_sanity_rejects_upside_down_and_collapsed_layouts(portrait: np.ndarray) -> None:
    face = detect_faces(portrait)[0]
    assert landmarks_look_like_a_face(face.landmarks, face.box)
    height = portrait.shape[0]
    upside_down = {name: [(x, height - 1 - y) for x, y in points] for name, points in face.landmarks.items()}
    box = face.box
    flipped_box = (box[0], height - box[3], box[2], height - box[1])
    assert not landmarks_look_like_a_face(upside_down, flipped_box)
    centre = np.mean([p for points in face.landmarks.values() for p in points], axis=0)
    collapsed = {name: [tuple(centre + 0.05 * (np.array(p) - centre)) for p in points] for name, points in face.landmarks.items()}
    assert not landmarks_look_like_a_face(collapsed, face.box)
    missing = {name: points for name, points in face.landmarks.items() if name != "chin"}
    assert not landmarks_look_like_a_face(missing, face.box)


def test_crop_is_a_square_around_the_box_even_past_the_border() -> None:
    crop = crop_for_box((-10, 5, 90, 125))
    assert crop[2] - crop[0] == crop[3] - crop[1] == 240
    assert contains(crop, (-10, 5, 90, 125))
    assert crop[0] < -10 and crop[1] < 0


@pytest.mark.parametrize(("height", "width"), [(300, 200), (200, 300), (257, 257), (1, 5)])
def test_whole_image_face_covers_the_frame_with_a_centred_square(height: int, width: int) -> None:
    face = whole_image_face(height, width)
    assert isinstance(face, Face)
    assert face.box == (0, 0, width, height)
    assert face.landmarks == {}
    assert face.crop_size == max(height, width) == face.crop[3] - face.crop[1]
    assert contains(face.crop, face.box)
    x0, y0, x1, y1 = face.crop
    assert abs((x0 + x1) - width) <= 1 and abs((y0 + y1) - height) <= 1


def test_landmark_groups_are_face_recognitions() -> None:
    assert set(LANDMARK_GROUPS) == set(LANDMARK_COUNTS)


def test_face_to_dict_is_json_ready(portrait: np.ndarray) -> None:
    import json

    face = detect_faces(portrait)[0]
    data = json.loads(json.dumps(face.to_dict()))
    assert data["box"] == list(face.box) and data["crop"] == list(face.crop)
    assert len(data["landmarks"]["chin"]) == 17


def test_missing_face_models_are_one_line_naming_the_package_and_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from deepflash_client.errors import WeightsError
    from deepflash_core.detection import faces

    monkeypatch.setattr(faces, "_models", None)
    monkeypatch.setitem(sys.modules, "dlib", None)  # importing dlib now fails, as without the package
    with pytest.raises(WeightsError, match="dlib-bin") as raised:
        faces.detect_faces(np.zeros((64, 64, 3), np.uint8))
    assert "./install.sh" in str(raised.value) and "\n" not in str(raised.value)
