"""What one correction gives back, wherever it ran (this process or a DeepFlash server)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from deepflash_client.summary import ResultSummary

if TYPE_CHECKING:
    from deepflash_core.detection.faces import Face

ProgressCallback = Callable[[str, float], None]
"""Called with a stage name and the fraction of the work done, in [0, 1]."""


@dataclass
class Result:
    """The corrected pixels (same shape and dtype as the input) and what was done.

    Attributes:
        pixels: the corrected photo.
        faces: the corrected faces (:class:`deepflash_core.detection.faces.Face`), one pseudo-face in whole-image mode.
        timings: seconds per stage.
        warnings: one-line notes worth showing to the user.
        matte: the subject matte, ``(H, W)`` uint8, when it was asked for and could be made.
    """

    pixels: np.ndarray
    faces: list[Face]
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    matte: np.ndarray | None = None

    def summary(self) -> ResultSummary:
        """What a server's reply carries besides the pixels and the matte (faces as dicts, timings, warnings)."""
        return ResultSummary(faces=[face.to_dict() for face in self.faces],
                             timings={str(stage): float(seconds) for stage, seconds in self.timings.items()},
                             warnings=[str(warning) for warning in self.warnings])

    @classmethod
    def from_summary(cls, pixels: np.ndarray, summary: ResultSummary, matte: np.ndarray | None = None) -> Result:
        """The result a server's reply describes: its pixels and matte, and its summary's faces turned back into
        :class:`~deepflash_core.detection.faces.Face` objects."""
        from deepflash_core.detection.faces import Face

        return cls(pixels, [Face.from_dict(face) for face in summary.faces], dict(summary.timings),
                   list(summary.warnings), matte)


@contextmanager
def timed(timings: dict[str, float], stage: str, clock: Callable[[], float] = time.perf_counter) -> Iterator[None]:
    """Add the seconds the block takes (by ``clock``) to ``timings[stage]``."""
    start = clock()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + clock() - start
