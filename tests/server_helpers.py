"""Helpers shared by the test files that run real server processes on loopback."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from deepflash_client.zmq_client import DeepFlashClient, ServerLaunch, ensure_server
from deepflash_server import lifecycle

REPO = Path(__file__).resolve().parents[1]
PYTHON_SERVER = [sys.executable, "-m", "deepflash_app", "serve", "--device", "cpu"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server_environment(state_dir: Path) -> Iterator[None]:
    """Server processes find this checkout and keep their log and pid files in ``state_dir``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEEPFLASH_STATE_DIR", str(state_dir))
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        yield


def launch_for(weights: Path, *options: str) -> ServerLaunch:
    return ServerLaunch(command=[*PYTHON_SERVER, *options], weights=str(weights), startup_timeout_s=180)


@contextmanager
def running_server(weights: Path, *options: str) -> Iterator[tuple[str, int]]:
    """Start a detached server (as ``ensure_server`` does) on a free port; stop it afterwards."""
    address = f"tcp://127.0.0.1:{free_port()}"
    pid = ensure_server(address, launch_for(weights, *options))["pid"]
    try:
        yield address, pid
    finally:
        stop_server(pid)


def stop_server(pid: int, timeout_s: float = 60.0) -> None:
    if not lifecycle.process_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while lifecycle.process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if lifecycle.process_alive(pid):
        os.kill(pid, signal.SIGKILL)


def wait_until_ready(client: DeepFlashClient, timeout_s: float = 180.0) -> dict:
    """The ``ping`` reply once the model is loaded; fails the test when it is still loading after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while (reply := client.ping())["state"] == "loading":
        if time.monotonic() > deadline:
            raise AssertionError(f"the server at {client.address} still loads its model after {timeout_s:g} s")
        time.sleep(0.05)
    return reply
