"""The files a DeepFlash server keeps on its machine, one log and one pid file per address.

The server writes them; ``deepflash status``, ``deepflash stop``, the uninstaller and a client starting a
server read them. Standard library only: the editor plug-ins carry it (``deepflash install`` copies the whole kit).
"""

from __future__ import annotations

import os
from pathlib import Path

from deepflash_client.protocol import host_of, is_local
from deepflash_client.user_folders import user_folder

STARTED_BY_USER = "user"
"""A pid file's ``started_by`` for a server started with ``deepflash serve``."""
STARTED_BY_CLIENT = "client"
"""A pid file's ``started_by`` for a server a client (an editor plug-in) started when none answered."""


def port_of(address: str) -> str:
    """A short, file-name-safe key for an address: the TCP port, or a sanitised ipc path."""
    tail = address.rsplit(":", 1)[-1] if address.startswith("tcp://") else address.split("://", 1)[-1]
    return "".join(ch if ch.isalnum() else "_" for ch in tail)[-60:] or "default"


def state_dir() -> Path:
    """Where the server keeps its log and pid files (``DEEPFLASH_STATE_DIR`` overrides)."""
    override = os.environ.get("DEEPFLASH_STATE_DIR")
    if override:
        return Path(override)
    return user_folder("state") / "deepflash"


def log_path(address: str) -> Path:
    """The log file of the server at ``address``."""
    return state_dir() / f"server-{port_of(address)}.log"


def pid_path(address: str) -> Path:
    """The pid file of the server at ``address``: JSON with pid, address, start time, who started it
    (``started_by``) and its idle exit (``idle_exit_s``, null when it stays)."""
    return state_dir() / f"server-{port_of(address)}.pid"


SERVER_FILE_PATTERNS = ("server-*.log", "server-*.log.[0-9]", "server-*.pid", "server-*.pid.[0-9]*", "server-*.lock")
"""The files servers write into the state folder: logs (rotated ones too), pid files and their temporary copies.
Only these are removed on a purge: the folder may be one the user keeps other files in."""


def server_files(folder: Path) -> list[Path]:
    """The files in ``folder`` that match :data:`SERVER_FILE_PATTERNS`."""
    return sorted({path for pattern in SERVER_FILE_PATTERNS for path in folder.glob(pattern) if path.is_file()})


def lock_path(address: str) -> Path:
    """The lock file of the server at an ``ipc://`` address: held while it runs, so that a second server started
    at the same moment does not take over the path."""
    return state_dir() / f"server-{port_of(address)}.lock"


def log_note(address: str, reported: str | None = None) -> str:
    """Where an error message sends the user to read the log of the server at ``address``.

    A server on this machine: its log file (``reported`` by the server, else the one its address gives).
    A server on another machine keeps its log there, so the note names that host instead of a path here.
    """
    if is_local(address):
        return f"server log: {reported or log_path(address)}"
    if reported:
        return f"server log on {host_of(address)}: {reported}"
    return f"the server's host is {host_of(address)}: `deepflash status` there shows its state and log file"
