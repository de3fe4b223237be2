"""Start and stop: log file, pid file, the port, stale processes, signals, memory figures."""

from __future__ import annotations

import errno
import json
import logging
import logging.handlers
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import zmq

from deepflash_client import protocol, state_files
from deepflash_client.errors import DeepFlashError, ServerUnavailableError
from deepflash_client.zmq_client import DeepFlashClient
from . import ipc_lock
from .process_identity import process_identity

log = logging.getLogger("deepflash.server")


class PortInUseError(DeepFlashError):
    """The port is held by a program that does not answer as a DeepFlash server."""


def setup_logging(log_file: Path) -> None:
    """Log to ``log_file`` (rotated at 5 MB), and to stderr as well when it is a terminal."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=5 << 20, backupCount=2, encoding="utf-8")
    handlers: list[logging.Handler] = [handler]
    if sys.stderr is not None and sys.stderr.isatty():
        handlers.append(logging.StreamHandler(sys.stderr))
    for each in handlers:
        each.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(message)s"))
        log.addHandler(each)
    log.setLevel(logging.INFO)
    log.propagate = False


@dataclass(frozen=True)
class PidRecord:
    """What a server writes to its pid file; ``process`` is its identity (see :mod:`deepflash_server.process_identity`)."""

    pid: int
    address: str
    started: float
    started_by: str = state_files.STARTED_BY_USER
    idle_exit_s: float | None = None
    process: str | None = None

    def is_running_server(self) -> bool:
        """Whether the pid still names the server that wrote this record: same start time and command line.

        A record without an identity proves nothing, so its pid is never taken for a server.
        """
        return self.process is not None and process_alive(self.pid) and process_identity(self.pid) == self.process

    def describe(self) -> str:
        """Who started the server and when it stops, in a few words for ``deepflash status``."""
        return describe_origin(self.started_by, self.idle_exit_s)


def started_by_text(started_by: str | None) -> str:
    """``started by …`` in words."""
    who = ("a client (editor plug-in) when none answered" if started_by == state_files.STARTED_BY_CLIENT
           else "`deepflash serve`")
    return f"started by {who}"


def describe_origin(started_by: str | None, idle_exit_s: float | None) -> str:
    """``started by …``, and the idle exit when there is one."""
    when = (f"exits after {idle_exit_s / 60:g} min without a request" if idle_exit_s
            else "stays until stopped (`deepflash stop`)")
    return f"{started_by_text(started_by)}; {when}"


def read_pid_file(path: Path) -> PidRecord | None:
    """The record in ``path``, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
        idle, process = data.get("idle_exit_s"), data.get("process")
        return PidRecord(int(data["pid"]), str(data["address"]), float(data["started"]),
                         str(data.get("started_by", state_files.STARTED_BY_USER)),
                         None if idle is None else float(idle), None if process is None else str(process))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_pid_file(path: Path, address: str, started_by: str = state_files.STARTED_BY_USER,
                   idle_exit_s: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + f".{os.getpid()}")
    temporary.write_text(json.dumps({"pid": os.getpid(), "address": address, "started": time.time(),
                                     "started_by": started_by, "idle_exit_s": idle_exit_s,
                                     "process": process_identity(os.getpid())}))
    temporary.replace(path)


def remove_pid_file(path: Path) -> None:
    """Remove ``path`` if it names this process (a newer server may own it by now)."""
    record = read_pid_file(path)
    if record is not None and record.pid == os.getpid():
        path.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if handle:
            ctypes.windll.kernel32.CloseHandle(handle)
        return bool(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def answering_server(address: str, timeout_s: float = 2.0) -> dict[str, Any] | None:
    """The ``ping`` reply of a DeepFlash server at ``address``, None when nothing answers."""
    try:
        with DeepFlashClient(address, timeout_s=timeout_s, retries=0) as client:
            reply = client.ping()
    except (ServerUnavailableError, DeepFlashError):
        return None
    return reply if reply.get("server") == "deepflash" else None


def bind(router: zmq.Socket, address: str, pid_file: Path, replace: bool) -> dict[str, Any] | None:
    """Bind ``router`` to ``address``; return the ``ping`` reply of a DeepFlash server already there instead.

    A DeepFlash server that holds the port without answering is stopped first when ``replace`` is set.

    Raises:
        PortInUseError: another program (or a hung server, without ``replace``) holds the port.
    """
    # Binding an ipc path that exists would silently take it over, so ask first there, holding the path's lock
    # from the question to the end of this process: a second server started at the same moment waits for the
    # first to answer and reuses it.
    if address.startswith("ipc://"):
        if not ipc_lock.hold(address):
            log.info("another server holds the lock of %s; waiting for it to answer", address)
            return _first_answer(address)
        if (running := answering_server(address)) is not None:
            return running
    try:
        router.bind(address)
        return None
    except zmq.ZMQError as error:
        if error.errno != errno.EADDRINUSE:
            raise PortInUseError(f"Cannot bind to {address}: {error.strerror}.") from None
    running = answering_server(address)
    if running is not None:
        return running
    record = read_pid_file(pid_file)
    port = state_files.port_of(address)
    if record is None or not record.is_running_server():
        raise PortInUseError(f"Port {port} ({address}) is already used by another program; choose another "
                             f"port with --bind tcp://127.0.0.1:PORT.")
    if not replace:
        raise PortInUseError(f"Port {port} is held by a DeepFlash server (pid {record.pid}) that does not answer; "
                             f"stop it with `deepflash stop --server {address}` or run `deepflash serve --replace`.")
    log.warning("replacing the unresponsive server pid %d", record.pid)
    try:
        stop_process(record.pid)
    except PermissionError:
        raise PortInUseError(f"Port {port} is held by another user's DeepFlash server (pid {record.pid}), which "
                             f"does not answer; only that user (or an administrator) can stop it.") from None
    try:
        router.bind(address)
    except zmq.ZMQError as error:
        raise PortInUseError(f"Cannot bind to {address} after stopping pid {record.pid}: {error.strerror}.") from None
    return None


IPC_STARTUP_WAIT_S = 120.0
"""How long a second server waits for the one that holds the ipc path's lock to answer."""


def _first_answer(address: str) -> dict[str, Any]:
    """The ``ping`` reply of the server that holds ``address``'s lock, once it answers."""
    deadline = time.monotonic() + IPC_STARTUP_WAIT_S
    while time.monotonic() < deadline:
        if (running := answering_server(address)) is not None:
            return running
        time.sleep(0.2)
    raise PortInUseError(f"Another DeepFlash server holds {address} but does not answer; stop it with "
                         f"`deepflash stop --server {address}`.")


def stop_process(pid: int, grace_s: float = 10.0, kill: bool = True) -> bool:
    """SIGTERM ``pid``, then (with ``kill``) SIGKILL if it is still there after ``grace_s``.

    Returns whether the process is gone.
    """
    log.info("stopping server pid %d", pid)
    os.kill(pid, signal.SIGTERM)
    if hasattr(signal, "SIGCONT"):
        os.kill(pid, signal.SIGCONT)  # a stopped (^Z) process only handles SIGTERM once it runs again
    deadline = time.monotonic() + grace_s
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if kill and process_alive(pid) and os.name != "nt":
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
    return not process_alive(pid)


@dataclass(frozen=True)
class StopOutcome:
    """What :func:`stop_server` did: the server's pid (None when none ran), whether it is gone, in words."""

    pid: int | None
    stopped: bool
    message: str


def stop_server(address: str, timeout_s: float = 60.0) -> StopOutcome:
    """Stop the DeepFlash server at ``address`` on this machine with SIGTERM, as Ctrl-C would.

    The server answers the images it holds and exits; one that still runs after ``timeout_s`` is left
    alone (the message says how to end it). A hung server named by the pid file is stopped the same way.

    Raises:
        DeepFlashError: ``address`` is not on this machine.
    """
    if not protocol.is_local(address):
        raise DeepFlashError(f"{address} is not on this machine; stop that server where it runs.")
    pid_file = state_files.pid_path(address)
    record = read_pid_file(pid_file)
    running = answering_server(address)
    pid = int(running["pid"]) if running is not None else None
    stale = ""
    if pid is None and record is not None:
        if record.is_running_server():
            pid = record.pid
        else:
            pid_file.unlink(missing_ok=True)  # the server is gone; its file is stale
            if process_alive(record.pid):
                stale = (f" Removed its stale pid file, which named pid {record.pid}: that process is not a "
                         f"DeepFlash server, so it was left alone.")
    if pid is None:
        return StopOutcome(None, False, f"No DeepFlash server runs at {address}.{stale}")
    origin = f", {started_by_text(record.started_by)}" if record is not None and record.pid == pid else ""
    try:
        stopped = stop_process(pid, grace_s=timeout_s, kill=False)
    except PermissionError:
        return StopOutcome(pid, False, f"The DeepFlash server (pid {pid}) at {address} belongs to another user; "
                                       f"only that user (or an administrator) can stop it.")
    if stopped:
        return StopOutcome(pid, True, f"Stopped the DeepFlash server (pid {pid}{origin}) at {address}.")
    return StopOutcome(pid, False, f"The DeepFlash server (pid {pid}) at {address} is still running after "
                                   f"{timeout_s:g} s; wait for it, or end it with `kill -9 {pid}`.")


def on_termination(callback: Callable[[], None]) -> None:
    """Call ``callback`` on SIGINT and SIGTERM (and SIGBREAK on Windows)."""
    def handler(signum: int, _frame: Any) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        callback()

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)


def memory_usage() -> dict[str, int | None]:
    """Resident memory of this process now and at its peak, in bytes (None where unknown)."""
    current = peak = None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    except OSError:
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            peak *= 1 if sys.platform == "darwin" else 1024
        except ImportError:
            pass
    return {"rss_bytes": current, "peak_rss_bytes": peak}
