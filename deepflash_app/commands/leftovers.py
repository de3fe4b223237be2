"""What an uninstalled plug-in leaves behind, said after ``--uninstall`` and removed by ``--purge``.

Three things outlive a plug-in's folder: the user's DeepFlash folder (the plug-ins' logs and the Krita
docker's settings), the servers' state folder (their logs and pid files) and a server that may still
run at the plug-in's address.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from deepflash_client import protocol, state_files
from deepflash_editor.paths import user_config_dir
from deepflash_editor.settings import install_record


@dataclass(frozen=True)
class RunningServer:
    """A live server at the plug-in's address: its pid and whether a client (a plug-in) started it."""

    pid: int
    auto_started: bool
    origin: str


@dataclass(frozen=True)
class Leftovers:
    """What stays after a plug-in is removed; a folder is None when it does not exist."""

    address: str
    config_dir: Path | None
    state_dir: Path | None
    server: RunningServer | None


def recorded_address(plugin_dir: Path) -> str:
    """The server address in the install record of ``plugin_dir`` (the default when there is none)."""
    record = install_record(plugin_dir)
    record.load()
    return record["address"]


def find(address: str) -> Leftovers:
    """Look for what stays: the two folders and a server at ``address``."""
    from deepflash_server import lifecycle

    config, state = user_config_dir(), state_files.state_dir()
    server = None
    if protocol.is_local(address):
        record = lifecycle.read_pid_file(state_files.pid_path(address))
        answer = lifecycle.answering_server(address)
        if answer is not None or (record is not None and record.is_running_server()):
            pid = int(answer["pid"]) if answer is not None else record.pid
            ours = record is not None and record.pid == pid
            auto = ours and record.started_by == state_files.STARTED_BY_CLIENT
            server = RunningServer(pid, auto, record.describe() if ours else "started outside DeepFlash's records")
    return Leftovers(address, config if config.is_dir() else None, state if state.is_dir() else None, server)


def describe(left: Leftovers, purge_command: str) -> list[str]:
    """Lines saying what stays and how to remove it (none when nothing stays)."""
    lines = []
    if left.config_dir is not None:
        lines.append(f"  {left.config_dir}: the plug-ins' logs and settings")
    if left.state_dir is not None:
        lines.append(f"  {left.state_dir}: the server's logs")
    if left.server is not None:
        lines.append(f"  a DeepFlash server at {left.address} (pid {left.server.pid}, {left.server.origin}); "
                     f"stop it with `deepflash stop --server {left.address}`")
    if not lines:
        return []
    return ["Left in place:", *lines, f"Remove them with `{purge_command}` (a server you started with "
                                      "`deepflash serve` is left running)."]


def purge(left: Leftovers) -> list[str]:
    """Stop a server a plug-in started, then remove the folders (keeping a running server's own files)."""
    from deepflash_server import lifecycle

    lines = []
    if left.server is not None and left.server.auto_started:
        lines.append(lifecycle.stop_server(left.address).message)
    elif left.server is not None:
        lines.append(f"Left running the DeepFlash server at {left.address} (pid {left.server.pid}, "
                     f"{left.server.origin}); stop it with `deepflash stop --server {left.address}`.")
    if left.config_dir is not None:
        shutil.rmtree(left.config_dir, ignore_errors=True)
        lines.append(f"Removed {left.config_dir}")
    if left.state_dir is not None:
        kept, others = _remove_state(left.state_dir)
        if kept:
            lines.append(f"Removed the DeepFlash server files in {left.state_dir} except those of running servers "
                         f"({', '.join(kept)})")
        elif others:
            lines.append(f"Removed the DeepFlash server files in {left.state_dir}; the folder stays, as it holds "
                         f"other files")
        else:
            lines.append(f"Removed {left.state_dir}")
    return lines


def _remove_state(folder: Path) -> tuple[list[str], bool]:
    """Remove the files servers wrote in ``folder``, but a running server's pid file and logs, and the folder
    when nothing else is left in it; returns the kept names and whether other files stay."""
    from deepflash_server import lifecycle

    kept: set[str] = set()
    for pid_file in folder.glob("server-*.pid"):
        record = lifecycle.read_pid_file(pid_file)
        if record is not None and record.is_running_server():
            stem = pid_file.name.removesuffix(".pid")
            kept |= {path.name for path in folder.glob(f"{stem}.*")}
    for path in state_files.server_files(folder):
        if path.name not in kept:
            path.unlink(missing_ok=True)
    others = any(path.name not in kept for path in folder.iterdir())
    if not kept and not others:
        folder.rmdir()
    return sorted(kept), others
