"""Which process a pid names now: its start time and command line, to tell a server from a reused pid.

A pid file outlives its server after a crash, and the kernel hands the pid to the next process. The server
records its own identity beside its pid; a pid whose identity differs (or cannot be read) is not that server,
and nothing may signal it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def process_identity(pid: int) -> str | None:
    """The start time and command line of ``pid``, None when it is gone or they cannot be read here."""
    if pid <= 0:
        return None
    if Path("/proc/self/stat").exists():
        return _from_proc(pid)
    if sys.platform != "win32":
        return _from_ps(pid)
    return None


def _from_proc(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # Field 22, the start time in clock ticks since boot, counted after the parenthesised command name.
    fields = stat.rsplit(")", 1)[-1].split()
    if len(fields) < 20:
        return None
    arguments = command.replace(b"\0", b" ").decode(errors="replace").strip()
    return f"linux-start-ticks:{fields[19]} {arguments}"


def _from_ps(pid: int) -> str | None:
    try:
        listed = subprocess.run(["ps", "-o", "lstart=", "-o", "command=", "-p", str(pid)], capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    listed_line = listed.stdout.strip()
    return f"ps:{listed_line}" if listed.returncode == 0 and listed_line else None
