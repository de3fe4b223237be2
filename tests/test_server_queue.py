"""A full queue answers "busy" (never drops a request), and only images keep an auto-started server up."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import zmq

from deepflash_client import protocol, state_files
from deepflash_client.errors import ServerUnavailableError
from deepflash_client.options import Options
from deepflash_client.zmq_client import DeepFlashClient, ServerLaunch, ensure_server
from deepflash_server import lifecycle
from server_helpers import PYTHON_SERVER, free_port, running_server, server_environment, stop_server, wait_until_ready

REPLY_BOUND_S = 120.0
"""A generous bound for a reply that is due (a loaded machine delays it, never by minutes)."""


@pytest.fixture
def state_dir(tmp_path):
    with server_environment(tmp_path / "state"):
        yield tmp_path / "state"


def test_a_full_queue_answers_busy_and_every_request_gets_a_reply(state_dir, tiny_weights):
    sent = 8
    image = np.random.default_rng(0).integers(0, 256, (1000, 1000, 3), np.uint8)
    with running_server(tiny_weights, "--workers", "1", "--max-queue", "1") as (address, _pid):
        with DeepFlashClient(address, timeout_s=60, retries=0) as client:
            wait_until_ready(client)
        dealer = zmq.Context.instance().socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(address)
        try:
            for index in range(sent):
                header = protocol.encode_request("process", f"r{index}", protocol.ImageSpec(1000, 1000, 3, "u8"),
                                                 Options(whole_image=True))
                dealer.send_multipart([b"", header, image], copy=False)
            replies = []
            for _ in range(sent):
                assert dealer.poll(int(REPLY_BOUND_S * 1000)), f"{sent - len(replies)} requests got no reply"
                replies.append(protocol.parse_reply(dealer.recv_multipart()[1:]))
        finally:
            dealer.close()
    assert sorted(reply.request_id for reply in replies) == sorted(f"r{index}" for index in range(sent))
    outcomes = [reply.status if reply.status == "ok" else reply.fields["code"] for reply in replies]
    assert set(outcomes) == {"ok", protocol.E_BUSY}, outcomes  # one running and one queued at most: the rest busy
    assert outcomes.count("ok") <= sent - 1
    busy = next(reply for reply in replies if reply.status == "error")
    assert "busy" in busy.fields["message"] and busy.fields["log"]


def test_pings_and_info_do_not_keep_an_auto_started_server_up(state_dir, tiny_weights):
    address = f"tcp://127.0.0.1:{free_port()}"
    launch = ServerLaunch(command=PYTHON_SERVER, weights=str(tiny_weights), startup_timeout_s=180,
                          idle_exit_min=4 / 60)
    pid = ensure_server(address, launch)["pid"]
    answered = {"ping": 0, "info": 0}
    stop = threading.Event()

    def ask() -> None:  # a plug-in's status checks, several a second, until the server is gone
        with DeepFlashClient(address, timeout_s=5, retries=0) as client:
            while not stop.is_set():
                try:
                    client.ping()
                    answered["ping"] += 1
                    client.info()
                    answered["info"] += 1
                except ServerUnavailableError:
                    pass
                time.sleep(0.2)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        deadline = time.monotonic() + REPLY_BOUND_S
        while lifecycle.process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not lifecycle.process_alive(pid), "pings and info kept the auto-started server past its idle time"
    finally:
        stop.set()
        asker.join()
        stop_server(pid)
    assert answered["ping"] > 3 and answered["info"] > 3  # it was asked all along


def test_two_servers_started_at_once_on_one_ipc_path_leave_one_server(state_dir, tiny_weights, tmp_path):
    import subprocess

    address = f"ipc://{tmp_path}/deepflash.sock"
    servers = [subprocess.Popen([*PYTHON_SERVER, "--bind", address, "--weights", str(tiny_weights)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        with DeepFlashClient(address, timeout_s=60, retries=2) as client:
            serving = wait_until_ready(client)["pid"]
        other = next(server for server in servers if server.pid != serving)
        out, err = other.communicate(timeout=REPLY_BOUND_S)  # the other one leaves, reusing the first
        assert other.returncode == 0 and "reusing" in out, (out, err)
        assert lifecycle.read_pid_file(state_files.pid_path(address)).pid == serving
        with DeepFlashClient(address, timeout_s=60, retries=0) as client:
            assert client.ping()["pid"] == serving
    finally:
        for server in servers:
            if server.poll() is None:
                server.terminate()
                server.communicate(timeout=60)


def test_a_server_that_finds_the_ipc_path_locked_waits_instead_of_taking_it_over(state_dir, tiny_weights, tmp_path):
    """The moment of the race made to last: the path's lock is held (as by a server that is starting) and
    nobody answers yet; a second server must not bind the path."""
    import subprocess

    from deepflash_server import ipc_lock

    socket_file = tmp_path / "deepflash.sock"
    address = f"ipc://{socket_file}"
    assert ipc_lock.hold(address)  # this test process stands for the first server
    second = subprocess.Popen([*PYTHON_SERVER, "--bind", address, "--weights", str(tiny_weights)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + REPLY_BOUND_S
        log = state_files.log_path(address)
        while not socket_file.exists() and time.monotonic() < deadline and second.poll() is None:
            if log.is_file() and "waiting for it to answer" in log.read_text():
                break
            time.sleep(0.1)
        assert not socket_file.exists(), "the second server took over the ipc path of the first"
        assert second.poll() is None and "waiting for it to answer" in log.read_text()
    finally:
        second.kill()
        second.wait(timeout=60)
