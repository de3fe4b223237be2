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
