"""MediaPipe's models as the product runs them: the shipped files, the crops they are given, the mesh's points."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from deepflash_core.detection import mediapipe_models, mesh_models
from deepflash_core.detection.mediapipe_models import Rect, crop_tensor


def test_the_models_ship_with_their_licence_and_notice() -> None:
    names = {p.name for p in mediapipe_models.MODELS.iterdir()}
    models = {mediapipe_models.SELFIE_SEGMENTATION, mediapipe_models.FACE_DETECTION,
              mediapipe_models.FACE_LANDMARK, mediapipe_models.IRIS_LANDMARK}
    assert models | {"LICENSE", "NOTICE"} <= names
    notice = (mediapipe_models.MODELS / "NOTICE").read_text()
    assert all(name in notice for name in models)
    assert "Apache License" in (mediapipe_models.MODELS / "LICENSE").read_text()


def test_an_unturned_crop_of_the_whole_image_maps_corners_to_corners() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    blob = crop_tensor(rgb, Rect(16, 16, 32, 32), 32, (0.0, 1.0))
    assert blob.shape == (1, 3, 32, 32)
    np.testing.assert_allclose(blob[0].transpose(1, 2, 0), rgb / 255.0, atol=1e-6)
    mirrored = crop_tensor(rgb, Rect(16, 16, 32, 32), 32, (-1.0, 1.0), mirror=True)
    np.testing.assert_allclose(mirrored[0].transpose(1, 2, 0), rgb[:, ::-1] / 127.5 - 1.0, atol=1e-5)


def test_a_turned_crop_and_its_points_agree() -> None:
    # A bright dot at a known place in the image must appear where Rect.to_image says the crop's pixel lies.
    rgb = np.zeros((200, 300, 3), np.uint8)
    rect = Rect(150.0, 90.0, 120.0, 120.0, math.radians(25))
    target = np.array([[0.7, 0.3]])
    x, y = rect.to_image(target)[0]
    cv2.circle(rgb, (round(x), round(y)), 3, (255, 255, 255), -1)
    blob = crop_tensor(rgb, rect, 64, (0.0, 1.0))[0, 0]
    row, column = np.unravel_index(np.argmax(cv2.GaussianBlur(blob, (5, 5), 0)), blob.shape)
    assert abs(column / 64 - 0.7) < 0.04 and abs(row / 64 - 0.3) < 0.04


def test_the_detector_has_one_anchor_per_output_row() -> None:
    assert mesh_models._ANCHORS.shape == (896, 2)
    assert 0 < mesh_models._ANCHORS.min() and mesh_models._ANCHORS.max() < 1


def test_the_mesh_puts_each_iris_inside_its_eye(portrait_path) -> None:
    rgb = np.asarray(Image.open(portrait_path).convert("RGB"))
    points = mesh_models.face_mesh(rgb)
    assert points is not None and points.shape == (478, 2)
    for (start, end), iris in zip(mesh_models.EYE_CORNERS, (points[468:473], points[473:478])):
        corners = points[[start, end]]
        width = float(np.hypot(*(corners[1] - corners[0])))
        centre = iris[0]
        # Between the corners, near the line joining them; the iris is about a fifth of the eye wide.
        assert corners[:, 0].min() < centre[0] < corners[:, 0].max()
        assert abs(centre[1] - corners[:, 1].mean()) < 0.3 * width
        radius = float(np.mean(np.hypot(*(iris[1:] - centre).T)))
        assert 0.12 * width < radius < 0.35 * width


def test_no_face_gives_no_mesh() -> None:
    assert mesh_models.face_mesh(np.full((240, 200, 3), 128, np.uint8)) is None


def test_the_person_is_found_and_the_backdrop_left_out(portrait_path) -> None:
    from deepflash_core.detection.segmentation import segment

    rgb = np.asarray(Image.open(portrait_path).convert("RGB"))
    coarse = segment(rgb)
    assert coarse.found
    height, width = coarse.values.shape
    assert coarse.values[height // 2, width // 2] > 0.9  # the face
    assert coarse.values[:5, :5].max() < 0.1  # the top corner of the backdrop


@pytest.mark.parametrize("name", ["face_detection_short_range.tflite", "iris_landmark.tflite"])
def test_each_model_loads_once(name: str) -> None:
    assert mediapipe_models.net(name) is mediapipe_models.net(name)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_the_mesh_sees_the_crops_darkest_channel_shrunk(portrait_path, monkeypatch, dtype) -> None:
    from deepflash_core.detection import face_mesh
    from deepflash_core.detection.faces import detect_faces
    from deepflash_core.pixels import PIXEL_SCALE, to_uint8

    rgb = np.asarray(Image.open(portrait_path).convert("RGB"))
    big = cv2.resize(rgb, (rgb.shape[1] * 4, rgb.shape[0] * 4), interpolation=cv2.INTER_CUBIC)  # crop > MESH_SIDE
    big = big.astype(np.float32) / 255 if dtype == np.float32 else big.astype(dtype) * int(PIXEL_SCALE[np.dtype(dtype)] // 255)
    face = detect_faces(big)[0]
    if dtype == np.float32:  # a NaN channel makes a pixel's darkest value what min() makes of it
        big[(face.box[1] + face.box[3]) // 2, (face.box[0] + face.box[2]) // 2, 1] = np.nan
    seen = []
    monkeypatch.setattr(face_mesh.mesh_models, "face_mesh", lambda crop: seen.append(crop))
    face_mesh.find_eyes(big, face)
    x0, y0, x1, y1 = face.crop
    crop = big[max(y0, 0) : y1, max(x0, 0) : x1, :3]
    # The reference: the crop in 8 bits, its smallest channel copied to all three, area-shrunk to the mesh's side.
    darkest = np.repeat(to_uint8(crop).min(axis=-1, keepdims=True), 3, axis=-1)
    factor = face_mesh.MESH_SIDE / max(darkest.shape[:2])
    assert factor < 1
    size = (round(darkest.shape[1] * factor), round(darkest.shape[0] * factor))
    expected = cv2.resize(darkest, size, interpolation=cv2.INTER_AREA)
    assert len(seen) == 1 and seen[0].flags.c_contiguous
    np.testing.assert_array_equal(seen[0], expected)
