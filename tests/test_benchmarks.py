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
