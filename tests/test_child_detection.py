"""The first photo detected in a child process: the same detection, and any failure falls back unseen."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deepflash_client.options import Options
from deepflash_core.corrector import InProcessCorrector
from deepflash_core.detection import child
from deepflash_core.detection import detect as detect_module
from deepflash_core.detection.child import ChildDetection
from deepflash_core.detection.detect import detect
from deepflash_core.imageio import load_photo
from deepflash_core.pipeline import Pipeline
from test_pipeline import random_pipe  # noqa: F401  (fixture)

FIXTURES = Path(__file__).parent / "fixtures"
PHOTO = FIXTURES / "red_eye_portrait.jpg"
# The failures are simulated in this process and inherited by a forked child.
needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform")
# How a new process starts its detection child: forking where that is the platform's default.
CHILD = "child fork" if multiprocessing.get_all_start_methods()[0] == "fork" else "child spawn"


# In a new process: the child's detection (fork at a cold start, or spawn) against this process's own.
COMPARE = """
import sys
import numpy as np
from deepflash_client.options import Options
from deepflash_core.detection import child
from deepflash_core.imageio import load_photo
method = sys.argv[1]
import multiprocessing
if multiprocessing.get_all_start_methods()[0] == "fork":
    assert child.start_method() == "fork", "a new process starts its child by forking"
child.start_method = lambda: method
options = Options(strength=0.7)
ahead = child.ChildDetection.start({path!r}, options)
pixels = load_photo({path!r}).pixels
found = ahead.result(pixels, options)
from deepflash_core.detection.detect import detect
here = detect(pixels, options)
def eyes(d):
    return [(e.centre, e.radius, e.opening.tobytes(), e.source, f.glasses) for f in d.eyes for e in f.eyes]
print(found is not None and len(found.eyes) == 1 and len(eyes(found)) == 2)
print(found.faces == here.faces, eyes(found) == eyes(here), found.shape == here.shape,
      np.array_equal(found.coarse.values, here.coarse.values), np.array_equal(found.coarse.photo, here.coarse.photo))
"""


@pytest.mark.parametrize("method", [m for m in ("fork", "spawn") if m in multiprocessing.get_all_start_methods()])
def test_the_child_detects_what_this_process_would(method: str) -> None:
    result = subprocess.run([sys.executable, "-c", COMPARE.format(path=str(PHOTO)), method], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True", "True True True True True"]


def test_a_process_that_may_hold_thread_pools_spawns_its_child() -> None:
    # pytest has imported torch, OpenCV and MediaPipe by now; a forked child would lack their threads.
    import cv2  # noqa: F401

    assert child.start_method() == "spawn"


def raises(pixels, options):
    raise RuntimeError("a bug in detection")


def crashes(pixels, options):
    os._exit(3)


def unpicklable(pixels, options):
    return lambda: "a detection that cannot be sent"


def hangs(pixels, options):
    time.sleep(60)


@needs_fork
@pytest.mark.parametrize("failure", [raises, crashes, unpicklable, hangs])
def test_a_failing_child_falls_back_to_detecting_here(
    failure, random_pipe: Pipeline, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture  # noqa: F811
) -> None:
    monkeypatch.setattr(child, "start_method", lambda: "fork")  # the child inherits the failure
    monkeypatch.setattr(child, "ANSWER_TIMEOUT_S", 3.0)
    options = Options()
    with monkeypatch.context() as patch:
        patch.setattr(detect_module, "detect", failure)
        ahead = ChildDetection.start(PHOTO, options)
    pixels = load_photo(PHOTO).pixels
    corrected = InProcessCorrector(random_pipe, ahead=ahead).correct(pixels, options)
    assert np.array_equal(corrected.pixels, random_pipe.process(pixels, options).pixels)
    assert ahead._answer is None, "the child's failure was noticed"
    assert "Traceback" not in capfd.readouterr().err, "the child prints nothing"
    ahead._process.join(timeout=10)
    assert not ahead._process.is_alive()


@needs_fork
def test_the_childs_detection_is_used_only_for_its_own_pixels_and_options(monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = load_photo(PHOTO).pixels
    made = detect(pixels, Options())
    monkeypatch.setattr(child, "start_method", lambda: "fork")
    monkeypatch.setattr(detect_module, "detect", lambda pixels, options: made)  # what the child answers

    assert ChildDetection.start(PHOTO, Options()).result(pixels, Options(strength=0.5)) is None
    changed = pixels.copy()
    changed[0, 0, 0] ^= 1
    assert ChildDetection.start(PHOTO, Options()).result(changed, Options()) is None
    found = ChildDetection.start(PHOTO, Options()).result(pixels, Options())
    assert found is not None and found.faces == made.faces


# `deepflash` with the child's start method and answers recorded (True where its detection was used).
RECORDING_CLI = """
import os, sys
from deepflash_core.detection import child
used, methods = [], []
original_start, original_result = child.ChildDetection.start.__func__, child.ChildDetection.result
def start(cls, path, options):
    methods.append(child.start_method())
    return original_start(cls, path, options)
def result(self, pixels, options):
    found = original_result(self, pixels, options)
    used.append(found is not None)
    return found
child.ChildDetection.start = classmethod(start)
child.ChildDetection.result = result
if os.environ.get("FAIL_IN_CHILD"):
    original_detect_file = child.detect_file
    def detect_file(path, options, connection):  # runs in the child
        from deepflash_core.detection import detect as detect_module
        def failing(*args, **kwargs):
            raise RuntimeError("a bug in detection")
        detect_module.detect = failing
        original_detect_file(path, options, connection)
    child.detect_file = detect_file
from deepflash_app.cli import main
try:
    main()
finally:
    print("child", *methods, "used:", used)
"""


def deepflash(*args: object, fail_in_child: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAIL_IN_CHILD": "1" if fail_in_child else ""}
    return subprocess.run([sys.executable, "-c", RECORDING_CLI, *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


def test_the_cli_writes_the_same_file_whether_the_child_detected_the_photo_or_not(tmp_path: Path, tiny_weights: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("p0.jpg", "p1.jpg"):  # the first is detected in the child, the second in this process
        shutil.copyfile(PHOTO, folder / name)
    run = deepflash("process", folder, "--out-dir", tmp_path / "out", "--weights", tiny_weights, "-q")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"{CHILD} used: [True]"
    first, second = (tmp_path / "out" / "p0.jpg").read_bytes(), (tmp_path / "out" / "p1.jpg").read_bytes()
    assert first == second

    failed = deepflash("process", folder / "p0.jpg", "-o", tmp_path / "fallback.jpg", "--weights", tiny_weights,
                       fail_in_child=True)
    assert failed.returncode == 0, failed.stderr
    assert failed.stdout.strip() == f"{CHILD} used: [False]"
    assert failed.stderr.splitlines() == [f"deepflash: wrote {tmp_path / 'fallback.jpg'}"]
    assert (tmp_path / "fallback.jpg").read_bytes() == first


def test_an_unreadable_first_photo_is_reported_as_before_and_the_next_one_corrected(tmp_path: Path, tiny_weights: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"not a photo")
    shutil.copyfile(PHOTO, folder / "b.jpg")
    run = deepflash("process", folder, "--out-dir", tmp_path / "out", "--weights", tiny_weights, "-q")
    assert run.returncode == 1
    assert run.stdout.strip() == f"{CHILD} used: [False]"  # offered to b.jpg, made for a.jpg
    errors = [line for line in run.stderr.splitlines() if line.startswith("deepflash:")]
    assert len(errors) == 1 and errors[0].startswith(f"deepflash: {folder / 'a.jpg'}: ")
    assert "Traceback" not in run.stderr
    assert (tmp_path / "out" / "b.jpg").is_file() and not (tmp_path / "out" / "a.jpg").exists()
