"""Face detection loads only the two dlib models it uses, and can load them in the background."""

import subprocess
import sys

from deepflash_core import faces
from deepflash_core.imageio import load_photo


def test_detection_loads_neither_face_recognition_nor_pkg_resources(portrait_path):
    # face_recognition loads all four dlib models on import (CNN detector, face encoder, two predictors).
    code = (
        "import sys\n"
        "from deepflash_core.faces import detect_faces\n"
        "from deepflash_core.imageio import load_photo\n"
        f"assert len(detect_faces(load_photo({str(portrait_path)!r}).pixels)) == 1\n"
        "print(sorted(m for m in ('face_recognition', 'pkg_resources') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_preloaded_models_find_the_same_face(portrait_path):
    pixels = load_photo(portrait_path).pixels
    faces.preload()
    faces.preload()  # a second call while loading (or after) starts nothing new
    first = faces.detect_faces(pixels)
    assert faces.detect_faces(pixels) == first
    assert len(first) == 1 and len(first[0].landmarks["chin"]) == 17
    assert len(first[0].landmarks["top_lip"]) == 12 and len(first[0].landmarks["bottom_lip"]) == 12
