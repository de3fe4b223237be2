"""Benchmarks run on any machine: the portrait collection comes from --data or $DEEPFLASH_PORTRAITS."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_no_benchmark_names_a_machine_path_for_the_portraits():
    machine_paths = re.compile(r"""["'](/work/|/home/|/Users/)|["']shared["']\s*/\s*["']data""")
    offending = [f"{path.name}:{number}" for path in sorted(BENCHMARKS.glob("*.py"))
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if machine_paths.search(line) or "parent / \"shared\"" in line]
    assert not offending, "take the collection from --data or $DEEPFLASH_PORTRAITS: " + ", ".join(offending)


def test_a_file_of_the_collection_is_found_through_the_environment(tmp_path, monkeypatch):
    from deepflash_train.config import PORTRAITS_ENV, collection_file

    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "a.jpg").write_bytes(b"x")
    monkeypatch.setenv(PORTRAITS_ENV, str(tmp_path))
    assert collection_file("set/a.jpg") == tmp_path / "set" / "a.jpg"
    assert collection_file("set/missing.jpg") is None
    monkeypatch.delenv(PORTRAITS_ENV)
    assert collection_file("set/a.jpg") is None


def test_the_look_benchmarks_render_a_held_out_case_from_a_bundled_portrait(monkeypatch):
    """bench_look, bench_keys_on and the look contact sheet build their cases with look_cases.render."""
    import numpy as np
    from PIL import Image

    from deepflash_core.detection.faces import detect_faces
    from portraits import EXAMPLES

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import look_cases

    rgb = np.asarray(Image.open(EXAMPLES / "congress_A000022.jpg").convert("RGB"))
    face = max((f for f in detect_faces(rgb) if f.landmarks), key=lambda f: f.box[2] - f.box[0])
    for plain in (False, True):
        case = look_cases.render(rgb, face, seed=7, plain=plain)
        assert case.flash.shape == case.target.shape == (look_cases.SIZE, look_cases.SIZE, 3)
        assert case.flash.dtype == case.target.dtype == np.uint8 and case.hull.dtype == bool and case.hull.any()
        assert np.abs(case.flash.astype(int) - case.target).mean() > 2, "the flash differs from its target"
