"""Detection apart from correction: torch-free, picklable, and the same result wherever it was made."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from deepflash_client.errors import InvalidOptionError, NoFaceError
from deepflash_client.options import Options
from deepflash_core.detection.detect import Detection, detect
from deepflash_core.pipeline import Pipeline
from test_pipeline import random_pipe  # noqa: F401  (fixture)
from portraits import path_of

# Photo and options: red pupils, glasses with glare, a plain portrait in the other modes.
CASES = [
    ("red_eye_portrait.jpg", Options(with_matte=True)),
    ("glare_portrait.jpg", Options()),
    ("congress_A000014.jpg", Options(whole_image=True, background="lift", with_matte=True)),
    ("congress_A000022.jpg", Options(strength=0.6, red_eye=False)),
]


def photo(name: str) -> np.ndarray:
    return np.asarray(Image.open(path_of(name)).convert("RGB"))


@pytest.fixture(scope="module")
def detected_elsewhere(tmp_path_factory: pytest.TempPathFactory) -> list[Detection]:
    """Each case detected in a new Python process that never imports torch, pickled back."""
    out = tmp_path_factory.mktemp("detections") / "detections.pickle"
    code = (
        "import pickle, sys\n"
        "import numpy as np\n"
        "from PIL import Image\n"
        "from deepflash_core.detection.detect import detect\n"
        "from deepflash_client.options import Options\n"
        f"cases = {[(str(path_of(name)), options.to_dict()) for name, options in CASES]!r}\n"
        "found = [detect(np.asarray(Image.open(path).convert('RGB')), Options(**options)) for path, options in cases]\n"
        "assert 'torch' not in sys.modules, 'detection imported torch'\n"
        f"pickle.dump(found, open({str(out)!r}, 'wb'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return pickle.loads(out.read_bytes())


def test_importing_detection_imports_no_torch() -> None:
    code = "import sys, deepflash_core.detection.detect; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("index", range(len(CASES)), ids=[name for name, _ in CASES])
def test_a_detection_made_in_another_process_gives_the_identical_result(
    random_pipe: Pipeline, detected_elsewhere: list[Detection], index: int  # noqa: F811
) -> None:
    name, options = CASES[index]
    pixels = photo(name)
    here = random_pipe.process(pixels, options)
    handed = random_pipe.process(pixels, options, detection=detected_elsewhere[index])
    assert np.array_equal(handed.pixels, here.pixels)
    assert not np.array_equal(here.pixels, pixels), "the case corrects something"
    assert handed.faces == here.faces and handed.warnings == here.warnings
    assert (handed.matte is None) == (options.with_matte is False)
    assert handed.matte is None or np.array_equal(handed.matte, here.matte)
    # The stages keep their names; the detection's own seconds count in them.
    assert {"detect", "matte", "network", "upsample"} <= handed.timings.keys()
    assert handed.timings["detect"] == detected_elsewhere[index].timings["detect"]
    assert ("eyes" in handed.timings) == options.red_eye


def test_eyes_are_found_only_when_the_eye_stage_runs() -> None:
    pixels = photo("red_eye_portrait.jpg")
    with_eyes = detect(pixels, Options())
    assert with_eyes.eyes is not None and len(with_eyes.eyes) == len(with_eyes.faces) >= 1
    assert all(len(found.eyes) == 2 for found in with_eyes.eyes)
    assert detect(pixels, Options(red_eye=False)).eyes is None
    assert detect(pixels, Options(strength=0.0)).eyes is None


def test_a_detection_for_other_pixels_or_options_is_refused(random_pipe: Pipeline) -> None:  # noqa: F811
    pixels = photo("congress_A000014.jpg")
    detection = detect(pixels, Options(red_eye=False))
    with pytest.raises(InvalidOptionError, match="shape"):
        random_pipe.process(pixels[:-2], Options(red_eye=False), detection=detection)
    with pytest.raises(InvalidOptionError, match="whole-image"):
        random_pipe.process(pixels, Options(whole_image=True, red_eye=False), detection=detection)
    with pytest.raises(InvalidOptionError, match="eyes"):
        random_pipe.process(pixels, Options(), detection=detection)
    # Another strength, the matte, or the backdrop need nothing else from the photo.
    assert random_pipe.process(pixels, Options(strength=0.3, red_eye=False, background="lift"), detection=detection)


def test_no_face_is_reported_by_detection_as_by_the_pipeline() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    with pytest.raises(NoFaceError, match="--whole-image"):
        detect(noise, Options())
