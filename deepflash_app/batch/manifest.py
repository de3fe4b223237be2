"""The record of a batch job: one JSON line per photo, written when the job ends (or is stopped)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

MANIFEST_NAME = "deepflash-batch.jsonl"

DONE = "done"  # corrected and written by this run
SKIPPED = "skipped"  # its result was already complete: not read again
FAILED = "failed"  # reported with its error; nothing was written for it
NOT_RUN = "not run"  # the job was stopped before this photo was finished
STATUSES = (DONE, SKIPPED, FAILED, NOT_RUN)


@dataclass(frozen=True)
class Record:
    """What happened to one photo.

    Attributes:
        input: the photo's path or URI.
        output: the file its result is (or would be) written to.
        status: one of ``STATUSES``.
        faces: faces corrected (0 when failed or not run; a skipped photo keeps those of the run that did it).
        seconds: time spent on it (decode, correction and encode) by the run that did it; 0 when failed or not run.
        error: the one-line reason it failed, else empty.
    """

    input: str
    output: str
    status: str
    faces: int = 0
    seconds: float = 0.0
    error: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def write(records: Iterable[Record], path: Path) -> None:
    """Write the manifest atomically (temporary file, then rename), so it is either old or whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".deepflash-", suffix=".jsonl", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for record in records:
                out.write(record.to_json() + "\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def read(path: Path) -> list[Record]:
    """The records of a manifest written by :func:`write`."""
    with open(path, encoding="utf-8") as lines:
        return [Record(**json.loads(line)) for line in lines if line.strip()]


def read_done(path: Path) -> dict[str, tuple[int, float]]:
    """The faces and seconds of each photo an earlier run recorded as done (or skipped with them); none when
    there is no readable manifest at ``path``."""
    try:
        records = read(path)
    except (OSError, ValueError, TypeError):
        return {}
    return {record.input: (record.faces, record.seconds) for record in records if record.status in (DONE, SKIPPED)}


def summary(records: Iterable[Record]) -> dict[str, int]:
    """How many photos ended in each status."""
    counts = dict.fromkeys(STATUSES, 0)
    for record in records:
        counts[record.status] += 1
    return counts
