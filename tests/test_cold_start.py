"""What a cold start loads: only the two dlib models detection uses, once, and
weights without first initialising the network at random."""

import subprocess
import sys

from deepflash_core.detection import faces
from deepflash_core.imageio import load_photo


def test_detection_loads_neither_face_recognition_nor_pkg_resources(portrait_path):
    # face_recognition loads all four dlib models on import (CNN detector, face encoder, two predictors).
    code = (
        "import sys\n"
        "from deepflash_core.detection.faces import detect_faces\n"
        "from deepflash_core.imageio import load_photo\n"
        f"assert len(detect_faces(load_photo({str(portrait_path)!r}).pixels)) == 1\n"
        "print(sorted(m for m in ('face_recognition', 'pkg_resources') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_face_models_load_once_and_find_the_same_face(portrait_path):
    pixels = load_photo(portrait_path).pixels
    models = faces.face_models()
    assert faces.face_models() is models  # a second call loads nothing new
    first = faces.detect_faces(pixels)
    assert faces.detect_faces(pixels) == first
    assert len(first) == 1 and len(first[0].landmarks["chin"]) == 17
    assert len(first[0].landmarks["top_lip"]) == 12 and len(first[0].landmarks["bottom_lip"]) == 12


def test_loading_weights_skips_the_random_initialisation(tiny_weights, monkeypatch):
    import torch

    from deepflash_core.network import unet, weights

    def refuse(self):
        raise AssertionError("the loaded weights replace this initialisation; it must not run")

    expected = {name: tensor.clone() for name, tensor in weights.load_model(tiny_weights)[0].state_dict().items()}
    monkeypatch.setattr(unet.FlashUNet, "reset_parameters", refuse)
    model, _ = weights.load_model(tiny_weights)
    loaded = model.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[name], expected[name]) for name in expected)


def test_the_hog_detector_is_cached_and_finds_the_same_faces(tmp_path, monkeypatch, portrait_path):
    import dlib

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    pixels = load_photo(portrait_path).pixels
    built_in = dlib.get_frontal_face_detector()
    first = faces._hog_detector()  # makes the cached copy
    cached = list((tmp_path / "deepflash").iterdir())
    assert [p.name for p in cached] == [f"frontal_face_detector-dlib-{dlib.__version__}.svm"]
    second = faces._hog_detector()  # reads it
    assert list(second(pixels, 1)) == list(first(pixels, 1)) == list(built_in(pixels, 1)) != []
    cached[0].write_bytes(b"damaged")
    assert list(faces._hog_detector()(pixels, 1)) == list(built_in(pixels, 1))
