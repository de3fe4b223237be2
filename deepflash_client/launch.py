"""Starting a DeepFlash server on this machine: the command, the detached process, the wait for its model.

:class:`~deepflash_client.zmq_client.DeepFlashClient` decides when (nothing answers and starting is allowed) and
calls :func:`~deepflash_client.zmq_client.ensure_server`, which hands :func:`start_server` its ``ping``: this
module imports no client. Standard library only.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepflash_client import protocol, state_files
from deepflash_client.errors import ServerStartError, ServerUnavailableError
from deepflash_client.protocol import DEFAULT_ADDRESS

AUTO_START_IDLE_EXIT_MIN = 30.0
"""How long a server started by a client stays without an image to correct; ``DEEPFLASH_IDLE_EXIT_MINUTES``
overrides it (0: stay until stopped)."""


def auto_start_idle_exit_min() -> float:
    """The idle exit of an auto-started server, in minutes (0: none)."""
    value = os.environ.get("DEEPFLASH_IDLE_EXIT_MINUTES", "").strip()
    try:
        minutes = float(value) if value else AUTO_START_IDLE_EXIT_MIN
    except ValueError:
        return AUTO_START_IDLE_EXIT_MIN
    return minutes if math.isfinite(minutes) and minutes >= 0 else AUTO_START_IDLE_EXIT_MIN


@dataclass
class ServerLaunch:
    """How :func:`ensure_server` starts a server when none answers.

    Attributes:
        command: the ``deepflash serve`` command line (without ``--bind``); found by
            :func:`default_serve_command` when None.
        weights: ``--weights`` for the new server, None for the installed default.
        device: ``--device`` for the new server.
        startup_timeout_s: how long to wait for the new server's first ``ping`` (it loads the model first).
        allowed: asked once, when no server answers, whether to start one (a setting, or a question to the
            user); the server is not started when it returns False.
        idle_exit_min: the new server exits after this many minutes without an image to correct (0: it
            stays); None reads :func:`auto_start_idle_exit_min`.
    """

    command: Sequence[str] | None = None
    weights: str | None = None
    device: str | None = None
    startup_timeout_s: float = 120.0
    allowed: Callable[[], bool] = lambda: True
    idle_exit_min: float | None = None


def default_serve_command() -> list[str]:
    """The command that starts a server: ``DEEPFLASH_SERVE_COMMAND``, else ``deepflash serve`` beside this
    Python or on PATH."""
    override = os.environ.get("DEEPFLASH_SERVE_COMMAND")
    if override:
        return shlex.split(override)
    beside = Path(sys.executable).with_name("deepflash.exe" if os.name == "nt" else "deepflash")
    executable = str(beside) if beside.is_file() else shutil.which("deepflash")
    if executable:
        return [executable, "serve"]
    raise ServerUnavailableError("Cannot find the `deepflash` command to start a server; install DeepFlash "
                                 "or set DEEPFLASH_SERVE_COMMAND.")


def start_server(address: str, launch: ServerLaunch | None, ping: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Return ``ping()``'s reply from the server at ``address``, starting a detached one when none answers.

    ``ping`` asks the server at ``address`` once, raising :class:`ServerUnavailableError` when nothing answers.

    Raises:
        ServerUnavailableError: the address is not on this machine, or the new server did not answer in
            ``launch.startup_timeout_s`` (the message quotes the last line of its log).
    """
    launch = launch or ServerLaunch()
    try:
        return ping()
    except ServerUnavailableError:
        pass
    if not protocol.is_local(address):
        raise ServerUnavailableError(f"No DeepFlash server answers at {address}, and a server can only be "
                                     "started on this machine.")
    process = _spawn(address, launch)
    deadline = time.monotonic() + launch.startup_timeout_s
    while time.monotonic() < deadline:
        try:
            reply = ping()
        except ServerUnavailableError:
            if process.poll() not in (None, 0):
                break
        else:  # a new server answers while it loads the model; wait until it is ready or has failed
            if reply.get("state") == "ready" or reply.get("pid") != process.pid:
                return reply
            if reply.get("state") == "failed":
                break
        time.sleep(0.2)
    log = state_files.log_path(address)
    raise ServerStartError(f"The DeepFlash server started for {address} did not answer "
                           f"({_last_line(log) or 'no log output'}); see {log}.")


def _spawn(address: str, launch: ServerLaunch) -> subprocess.Popen[bytes]:
    command = list(launch.command or default_serve_command()) + ["--bind", address]
    if launch.weights:
        command += ["--weights", str(launch.weights)]
    if launch.device:
        command += ["--device", launch.device]
    idle_exit = auto_start_idle_exit_min() if launch.idle_exit_min is None else launch.idle_exit_min
    command += ["--started-by", state_files.STARTED_BY_CLIENT]
    if idle_exit > 0:
        command += ["--idle-exit", f"{idle_exit:g}"]
    log = state_files.log_path(address)
    log.parent.mkdir(parents=True, exist_ok=True)
    # The server writes its own log; its stderr goes there too so a crash before logging starts is kept.
    try:
        with open(log, "ab") as stderr:
            return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                    close_fds=True, **_detached())
    except OSError as error:  # the command is gone (environment moved or deleted) or the log is not writable
        raise ServerStartError(f"Cannot start a DeepFlash server with {command[0]}: "
                               f"{error.strerror or error}.") from None


def _detached() -> dict[str, Any]:
    if os.name == "nt":
        flags = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        return {"creationflags": flags}
    return {"start_new_session": True}


def _last_line(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 4096))
            lines = handle.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""
