"""The pipeline's stages as its own timings name them, for every benchmark that reports a total.

A total is the sum of every entry of ``Result.timings``, never of a list written in a benchmark, and
before it is taken the entries are checked against the stages the core's code times (each
``timed(timings, "name", ...)`` call under ``deepflash_core``, read from the source). So a stage added to
the pipeline is counted by every benchmark without an edit here, and a run whose timings lack a stage
(or carry a name the code does not time) stops the benchmark with the names instead of printing a total
that leaves something out. A stage that the benchmark's options turn off is named by the benchmark
(``off``), with the options that turn it off.

Benchmarks run as scripts import it as ``from pipeline_stages import ...`` (their folder is on the path).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "deepflash_core"
TIMERS = ("timed", "_timed")
NETWORK = "network"


class StageMismatch(SystemExit):
    """The timings of a run and the stages the pipeline's code times disagree: the total would be wrong."""


@cache
def timed_stages() -> tuple[str, ...]:
    """Every stage name the core times."""
    sources = sorted(CORE.rglob("*.py"))
    names: list[str] = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _called_name(node.func) in TIMERS and len(node.args) >= 2:
                stage = node.args[1]
                if isinstance(stage, ast.Constant) and isinstance(stage.value, str):
                    names.append(stage.value)
    if NETWORK not in names:
        raise StageMismatch(f"no '{NETWORK}' stage is timed under {CORE}: the benchmarks cannot tell the network apart")
    return tuple(dict.fromkeys(names))


def checked(timings: Mapping[str, float], off: Iterable[str] = ()) -> dict[str, float]:
    """The pipeline's timings of one run, in the order they were taken, after checking that none is missing or unknown.

    Args:
        timings: ``Result.timings`` (seconds per stage).
        off: stages the benchmark's options turn off (e.g. ``backdrop`` with ``background="keep"``).

    Raises:
        StageMismatch: a stage the code times (and ``off`` does not name) is missing, or a name is unknown.
    """
    known = timed_stages()
    off = set(off)
    unknown = sorted(set(timings) - set(known))
    missing = [stage for stage in known if stage not in timings and stage not in off]
    ran_anyway = sorted(off & set(timings))
    if unknown or missing or ran_anyway:
        raise StageMismatch(
            "the pipeline's timings do not match the stages its code times "
            f"({', '.join(known)}): missing {missing or 'none'}, unknown {unknown or 'none'}, "
            f"said to be off but timed {ran_anyway or 'none'}; a total would leave a stage out")
    return {stage: float(seconds) for stage, seconds in timings.items()}


def total(timings: Mapping[str, float], off: Iterable[str] = ()) -> float:
    """Seconds of every stage of one run (checked)."""
    return sum(checked(timings, off).values())


def outside_network(timings: Mapping[str, float], off: Iterable[str] = ()) -> float:
    """Seconds of every stage but the network pass (checked)."""
    stages = checked(timings, off)
    return sum(seconds for stage, seconds in stages.items() if stage != NETWORK)


def _called_name(function: ast.expr) -> str:
    if isinstance(function, ast.Name):
        return function.id
    return function.attr if isinstance(function, ast.Attribute) else ""
