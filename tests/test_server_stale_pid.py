"""A pid file that names a process which is not the DeepFlash server: nothing signals it.

A pid file outlives its server when the machine crashed or the server was killed; its pid may since belong to
anything. ``stop``, ``status`` and ``serve --replace`` must prove a process is the server before acting on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from deepflash_client import state_files
from deepflash_server import lifecycle
from server_helpers import free_port, server_environment

DEEPFLASH = [sys.executable, "-m", "deepflash_app"]

# An unrelated program that ignores SIGTERM and, with an argument, holds a TCP port without speaking ZeroMQ.
BYSTANDER = """
import signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if len(sys.argv) > 1:
    listener = socket.socket()
    listener.bind(("127.0.0.1", int(sys.argv[1])))
    listener.listen()
print("ready", flush=True)
time.sleep(600)
"""


@pytest.fixture
def state_dir(tmp_path):
    with server_environment(tmp_path / "state"):
        yield tmp_path / "state"


@pytest.fixture
def bystander_factory():
    started: list[subprocess.Popen] = []

    def start(*arguments: str) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", BYSTANDER, *arguments], stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "ready"
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def forge_pid_file(address: str, pid: int, **extra) -> None:
    """A pid file as a crashed server or a hand would leave it: the repro's fields, and ``extra``."""
    path = state_files.pid_path(address)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "address": address, "started": 1, **extra}))


def deepflash(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DEEPFLASH, *arguments], capture_output=True, text=True, timeout=180)


# the repro's record, and one a server wrote before its pid went to another program (another start time)
RECORDS = [{}, {"process": "linux-start-ticks:1 python -m deepflash_app serve"}]


@pytest.mark.parametrize("extra", RECORDS, ids=["bare", "other-start"])
def test_stop_never_signals_a_process_that_is_not_the_server(state_dir, bystander_factory, extra):
    address = f"tcp://127.0.0.1:{free_port()}"
    bystander = bystander_factory()
    forge_pid_file(address, bystander.pid, **extra)
    result = deepflash("stop", "--address", address, "--timeout", "2")
    time.sleep(0.3)
    assert bystander.poll() is None, "stop signalled a process that is not a DeepFlash server"
    assert result.returncode == 0, result.stderr
    assert "Stopped" not in result.stdout
    assert f"No DeepFlash server runs at {address}" in result.stdout
    assert "not a DeepFlash server" in result.stdout and str(bystander.pid) in result.stdout
    assert not state_files.pid_path(address).exists()


@pytest.mark.parametrize("extra", RECORDS, ids=["bare", "other-start"])
def test_status_does_not_call_another_process_a_server(state_dir, bystander_factory, extra):
    address = f"tcp://127.0.0.1:{free_port()}"
    bystander = bystander_factory()
    forge_pid_file(address, bystander.pid, **extra)
    result = deepflash("status", "--address", address, "--timeout", "1")
    assert result.returncode == 3
    assert "server process" not in result.stdout and "--replace" not in result.stdout
    assert f"No DeepFlash server answers at {address}" in result.stdout
    assert bystander.poll() is None


def test_serve_replace_leaves_another_program_on_the_port_alone(state_dir, bystander_factory, tiny_weights):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bystander = bystander_factory(str(port))
    forge_pid_file(address, bystander.pid)
    result = deepflash("serve", "--device", "cpu", "--bind", address, "--weights", str(tiny_weights), "--replace")
    assert bystander.poll() is None, "serve --replace killed a process that is not a DeepFlash server"
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "ZMQError" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"Port {port}" in lines[0] and "another program" in lines[0]


def test_a_servers_own_record_proves_its_process(state_dir):
    """The record a server writes names this very process; the same pid with another start time does not."""
    address = f"tcp://127.0.0.1:{free_port()}"
    path = state_files.pid_path(address)
    lifecycle.write_pid_file(path, address)
    record = lifecycle.read_pid_file(path)
    assert record is not None and record.is_running_server()
    forge_pid_file(address, record.pid, **RECORDS[1])
    assert not lifecycle.read_pid_file(path).is_running_server()
    forge_pid_file(address, record.pid)
    assert not lifecycle.read_pid_file(path).is_running_server()
