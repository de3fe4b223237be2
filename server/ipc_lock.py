"""The lock of an ``ipc://`` path, held by the server that serves it for as long as it runs.

Binding an ipc path takes it over silently, even from a live server; two servers started at the same moment
would both ask, find nobody and bind, leaving one orphaned. The one that holds the lock binds; the other
waits for it to answer and reuses it.
"""

from __future__ import annotations

from typing import Any

from deepflash_client import state_files

_HELD: list[Any] = []
"""Open lock files of the ipc paths this process serves: a lock lasts as long as the process."""


def hold(address: str) -> bool:
    """Take the lock of ``address``'s ipc path for the life of this process; False when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: no ipc transport either
        return True
    path = state_files.lock_path(address)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a")  # noqa: SIM115 - held open until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _HELD.append(handle)
    return True
