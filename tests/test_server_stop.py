"""Who started a server, its idle exit, and `deepflash stop`."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from deepflash_client import state_files
from deepflash_client.zmq_client import DeepFlashClient, ServerLaunch, ensure_server
from deepflash_server import lifecycle
from server_helpers import PYTHON_SERVER, free_port, server_environment, stop_server, wait_until_ready

DEEPFLASH = [sys.executable, "-m", "deepflash_app"]
EXIT_BOUND_S = 120.0
"""A generous bound for an exit that is due (a loaded machine can delay it, never by minutes)."""


@pytest.fixture
def state_dir(tmp_path):
    with server_environment(tmp_path / "state"):
        yield tmp_path / "state"


def deepflash(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DEEPFLASH, *arguments], capture_output=True, text=True, timeout=180)


def wait_gone(pid: int, timeout_s: float = EXIT_BOUND_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while lifecycle.process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not lifecycle.process_alive(pid)


def test_an_auto_started_server_says_so_and_exits_after_its_idle_time(state_dir, tiny_weights):
    address = f"tcp://127.0.0.1:{free_port()}"
    launch = ServerLaunch(command=PYTHON_SERVER, weights=str(tiny_weights), startup_timeout_s=180,
                          idle_exit_min=4 / 60)
    pid = ensure_server(address, launch)["pid"]
    try:
        record = lifecycle.read_pid_file(state_files.pid_path(address))
        assert record is not None and record.pid == pid
        assert (record.started_by, record.idle_exit_s) == (state_files.STARTED_BY_CLIENT, pytest.approx(4.0))
        with DeepFlashClient(address, timeout_s=60, retries=0) as client:
            info = client.info()
        assert info["started_by"] == state_files.STARTED_BY_CLIENT
        assert wait_gone(pid), "the auto-started server is still running after its idle time"
    finally:
        stop_server(pid)
    assert not state_files.pid_path(address).exists()
    assert "idle exit" in state_files.log_path(address).read_text()


def test_the_default_idle_exit_of_an_auto_started_server_is_set_by_the_environment(monkeypatch):
    from deepflash_client import launch

    monkeypatch.delenv("DEEPFLASH_IDLE_EXIT_MINUTES", raising=False)
    assert launch.auto_start_idle_exit_min() == launch.AUTO_START_IDLE_EXIT_MIN == 30
    monkeypatch.setenv("DEEPFLASH_IDLE_EXIT_MINUTES", "5")
    assert launch.auto_start_idle_exit_min() == 5
    for bad in ("soon", "-1", "nan", "inf"):
        monkeypatch.setenv("DEEPFLASH_IDLE_EXIT_MINUTES", bad)
        assert launch.auto_start_idle_exit_min() == launch.AUTO_START_IDLE_EXIT_MIN


def test_stop_stops_a_server_the_user_started_and_says_when_none_runs(state_dir, tiny_weights):
    address = f"tcp://127.0.0.1:{free_port()}"
    process = subprocess.Popen([*PYTHON_SERVER, "--bind", address, "--weights", str(tiny_weights)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with DeepFlashClient(address, timeout_s=60, retries=0) as probe:
            assert wait_until_ready(probe)["pid"] == process.pid
        status = deepflash("status", "--address", address)
        assert status.returncode == 0
        assert "started by `deepflash serve`; stays until stopped" in status.stdout
        stopped = deepflash("stop", "--address", address)
        assert stopped.returncode == 0, stopped.stderr
        assert f"Stopped the DeepFlash server (pid {process.pid}, started by `deepflash serve`) at {address}." \
            in stopped.stdout
        assert process.wait(timeout=EXIT_BOUND_S) == 0  # a clean exit, as on Ctrl-C
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not state_files.pid_path(address).exists()
    again = deepflash("stop", "--address", address)
    assert again.returncode == 0
    assert again.stdout.strip() == f"No DeepFlash server runs at {address}."


def test_stop_removes_the_stale_pid_file_of_a_server_that_is_gone(state_dir):
    address = f"tcp://127.0.0.1:{free_port()}"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    state_files.pid_path(address).parent.mkdir(parents=True, exist_ok=True)
    state_files.pid_path(address).write_text(f'{{"pid": {gone.pid}, "address": "{address}", "started": 0}}')
    result = deepflash("stop", "--address", address)
    assert result.returncode == 0
    assert "No DeepFlash server runs" in result.stdout
    assert not state_files.pid_path(address).exists()


def test_stop_refuses_a_server_on_another_machine(state_dir):
    result = deepflash("stop", "--address", "tcp://192.0.2.1:5557")
    assert result.returncode != 0
    assert "not on this machine" in result.stderr and "Traceback" not in result.stderr


def test_stop_of_another_users_server_says_so_in_one_line(state_dir, monkeypatch):
    from click.testing import CliRunner

    from deepflash_app.cli import cli

    address = f"tcp://127.0.0.1:{free_port()}"
    lifecycle.write_pid_file(state_files.pid_path(address), address)  # this process, recorded as a server does

    def not_permitted(pid, signum):  # what the kernel answers when another user's process is signalled
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(lifecycle.os, "kill", not_permitted)
    result = CliRunner().invoke(cli, ["stop", "--address", address, "--timeout", "1"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "another user" in lines[0] and str(os.getpid()) in lines[0], result.output
