"""Keep native libraries' start-up logging off the user's terminal.

Native libraries such as Ray's core write their start-up notes
straight to the process's standard error, past Python's ``sys.stderr`` and unaffected by Python's
logging levels; a photographer running ``deepflash process`` would see a dozen lines of them on every
run. They appear while a graph is built and during its first run (or while a job's workers start), so
only those moments are silenced; Python exceptions still propagate.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at the null device for the duration (callers hold their model's lock)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all: nothing to protect
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
