"""The client: Lazy Pirate retries, a server dying mid-request, automatic restart, and the stdio helper."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import numpy as np
import pytest
import zmq

from deepflash_client import protocol, state_files
from deepflash_client.client_base import BaseClient
from deepflash_client.errors import InvalidOptionError, ServerError, ServerUnavailableError
from deepflash_client.options import Options
from deepflash_client.stdio_client import StdioClient
from deepflash_client.zmq_client import DeepFlashClient, ServerLaunch, ensure_server
from deepflash_server import lifecycle
from server_helpers import free_port, launch_for, running_server, server_environment, stop_server, wait_until_ready


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("state")
    with server_environment(directory):
        yield directory


def test_no_server_gives_a_clear_error_after_every_retry(state_dir):
    address = f"tcp://127.0.0.1:{free_port()}"
    client = DeepFlashClient(address, timeout_s=0.5, retries=2)
    with pytest.raises(ServerUnavailableError) as caught:
        client.ping()
    message = str(caught.value)
    assert address in message and "3 attempts" in message
    assert str(state_files.log_path(address)) in message


def test_nothing_listening_is_said_after_one_attempt(state_dir):
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(ServerUnavailableError) as caught:
        DeepFlashClient(address, timeout_s=30, retries=2).process(BIG, 1200, 1200)
    message = str(caught.value)
    assert message.startswith(f"No DeepFlash server answers at {address} (nothing listens on the port)")
    assert "attempts" not in message and "stopped answering" not in message


def test_a_lost_reply_is_retried_on_a_fresh_socket(state_dir):
    """A responder that ignores the first request: the client must resend on a new socket."""
    address = f"tcp://127.0.0.1:{free_port()}"
    context = zmq.Context.instance()
    router = context.socket(zmq.ROUTER)
    router.bind(address)
    peers: list[bytes] = []

    def respond() -> None:
        for attempt in range(2):
            identity, empty, header = router.recv_multipart()
            peers.append(identity)
            if attempt == 1:
                request_id = protocol.parse_request([header], protocol.Limits()).request_id
                router.send_multipart([identity, empty, protocol.encode_reply("ping", request_id, pid=1)])

    responder = threading.Thread(target=respond)
    responder.start()
    try:
        reply = DeepFlashClient(address, timeout_s=1.0, retries=1).ping()
    finally:
        responder.join(5)
        router.close(linger=0)
    assert reply["pid"] == 1
    assert len(peers) == 2 and peers[0] != peers[1]  # the second attempt came from a new socket


def test_a_server_shutting_down_is_asked_again_and_named_when_none_takes_over(state_dir):
    """A server replaced on its address answers what it holds with "shutting down": the client asks again."""
    address = f"tcp://127.0.0.1:{free_port()}"
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.bind(address)

    def respond(answers: int, successor_answers: bool) -> None:
        for attempt in range(answers):
            identity, empty, header = router.recv_multipart()
            request_id = protocol.parse_request([header], protocol.Limits()).request_id
            if successor_answers and attempt == answers - 1:
                reply = protocol.encode_reply("ping", request_id, pid=2)
            else:
                reply = protocol.encode_error(protocol.E_SHUTTING_DOWN, "The server is shutting down.", "ping", request_id)
            router.send_multipart([identity, empty, reply])

    try:
        responder = threading.Thread(target=respond, args=(2, True))
        responder.start()
        assert DeepFlashClient(address, timeout_s=5.0, retries=1).ping()["pid"] == 2
        responder.join(5)
        responder = threading.Thread(target=respond, args=(1, False))
        responder.start()
        with pytest.raises(ServerUnavailableError, match="the server shut down"):
            DeepFlashClient(address, timeout_s=5.0, retries=0).ping()
        responder.join(5)
    finally:
        router.close(linger=0)


def _responder(address: str, replies: int, ops: list[str]) -> threading.Thread:
    """A ROUTER that answers ``replies`` requests like a warm server (ping with limits, process echoing pixels)."""
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.bind(address)

    def respond() -> None:
        try:
            for _ in range(replies):
                identity, empty, *frames = router.recv_multipart()
                request = protocol.parse_request(frames, protocol.Limits())
                ops.append(request.op)
                fields = {"limits": protocol.Limits().to_dict()} if request.op == "ping" else {}
                if request.op == "process":
                    image = request.image
                    fields = dict(width=image.width, height=image.height, channels=image.channels, dtype=image.dtype)
                router.send_multipart([identity, empty, protocol.encode_reply(request.op, request.request_id, **fields),
                                       *frames[1:]])
        finally:
            router.close(linger=1000)

    thread = threading.Thread(target=respond)
    thread.start()
    return thread


def test_a_call_on_a_warm_server_takes_two_round_trips_and_the_next_one(state_dir):
    address = f"tcp://127.0.0.1:{free_port()}"
    ops: list[str] = []
    responder = _responder(address, 3, ops)
    try:
        with DeepFlashClient(address, timeout_s=10, retries=0) as client:
            first = client.process(BIG, 1200, 1200)
            client.process(BIG, 1200, 1200)
    finally:
        responder.join(10)
    assert ops == ["ping", "process", "process"]  # the ping finds the server and brings its limits
    assert first.pixels == BIG.tobytes()


def test_a_stopped_local_server_is_reported_at_once_and_not_started_without_permission(state_dir, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    asked = []
    launch = ServerLaunch(command=[str(tmp_path / "never-run")], allowed=lambda: asked.append(1) or False)
    client = DeepFlashClient(address, timeout_s=30, retries=0, auto_start=launch)
    started = time.monotonic()
    with pytest.raises(ServerUnavailableError, match="nothing listens"):
        client.process(BIG, 1200, 1200)
    assert time.monotonic() - started < 10  # not the 30 s timeout
    assert asked == [1] and not state_files.log_path(address).exists()


def test_wrong_buffer_length_is_refused_before_sending(state_dir):
    client = DeepFlashClient(f"tcp://127.0.0.1:{free_port()}", timeout_s=0.2, retries=0)
    with pytest.raises(InvalidOptionError, match="bytes of pixels"):
        client.process(b"\0" * 10, 2, 2)


def _kill_when_running(address: str, pid: int) -> threading.Thread:
    """SIGKILL the server once it reports a request in progress."""
    def watch() -> None:
        with DeepFlashClient(address, timeout_s=10, retries=0) as watcher:
            for _ in range(2000):
                if watcher.info()["running"]:
                    os.kill(pid, signal.SIGKILL)
                    return
                time.sleep(0.005)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


BIG = np.random.default_rng(1).integers(0, 256, (1200, 1200, 3), np.uint8)
WHOLE = Options(whole_image=True)


def test_server_killed_mid_request_is_noticed_before_a_liveness_ping_could_time_out(state_dir, tiny_weights):
    with running_server(tiny_weights) as (address, pid):
        # A liveness ping waits up to 60 s for a busy server; a killed local one refuses connections at once.
        client = DeepFlashClient(address, timeout_s=120, retries=2, ping_timeout_s=60)
        wait_until_ready(client)
        killer = _kill_when_running(address, pid)
        started = time.monotonic()
        with pytest.raises(ServerUnavailableError) as caught:
            client.process(BIG, 1200, 1200, options=WHOLE)
        elapsed = time.monotonic() - started
        killer.join()
    assert not lifecycle.process_alive(pid)
    message = str(caught.value)
    assert f"The DeepFlash server at {address} stopped answering during the request" in message
    assert str(state_files.log_path(address)) in message and "attempts" not in message  # not resent to a dead server
    assert elapsed < client.ping_timeout_s


def test_server_killed_mid_request_is_restarted_by_an_auto_start_client(state_dir, tiny_weights):
    with running_server(tiny_weights) as (address, pid):
        client = DeepFlashClient(address, timeout_s=60, retries=0, auto_start=launch_for(tiny_weights),
                                 ping_timeout_s=3)
        wait_until_ready(client)
        killer = _kill_when_running(address, pid)
        reply = client.process(BIG, 1200, 1200, options=WHOLE)
        killer.join()
        new_pid = client.ping()["pid"]
        try:
            assert not lifecycle.process_alive(pid) and new_pid != pid
            assert (reply.image.width, reply.image.height, len(reply.pixels)) == (1200, 1200, BIG.nbytes)
            assert reply.pixels != BIG.tobytes()
        finally:
            stop_server(new_pid)


def test_ensure_server_starts_one_server_and_then_reuses_it(state_dir, tiny_weights):
    address = f"tcp://127.0.0.1:{free_port()}"
    first = ensure_server(address, launch_for(tiny_weights))
    try:
        second = ensure_server(address, launch_for(tiny_weights))
        assert second["pid"] == first["pid"]
        assert lifecycle.read_pid_file(state_files.pid_path(address)).pid == first["pid"]
    finally:
        stop_server(first["pid"])


def test_ensure_server_does_not_start_servers_for_other_machines(state_dir):
    with pytest.raises(ServerUnavailableError, match="only be started on this machine"):
        ensure_server("tcp://192.0.2.1:5557", ServerLaunch(startup_timeout_s=1))


def test_ensure_server_reports_a_server_that_cannot_start(state_dir, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    launch = ServerLaunch(command=[sys.executable, "-m", "deepflash_app", "serve", "--device", "cpu"],
                          weights=str(tmp_path / "missing.safetensors"), startup_timeout_s=120)
    with pytest.raises(ServerUnavailableError, match="missing.safetensors") as caught:
        ensure_server(address, launch)
    assert str(state_files.log_path(address)) in str(caught.value)


class CannedReply(BaseClient):
    """A client whose every call gets one given reply, whatever the transport."""

    def __init__(self, address: str, reply: protocol.Reply) -> None:
        self.address, self.timeout_s, self.reply = address, 1.0, reply

    def _call(self, frames, timeout_s, fail_fast=False):
        return self.reply


def test_errors_about_a_server_on_another_machine_name_its_host_not_a_log_file_here(state_dir):
    address = f"tcp://192.0.2.1:{free_port()}"  # a documentation address: never this machine, never answers
    clients = (DeepFlashClient(address, timeout_s=0.2, retries=0),
               StdioClient(python=sys.executable, address=address, timeout_s=0.2, retries=0, auto_start=False))
    for client in clients:
        with pytest.raises(ServerUnavailableError) as caught:
            client.ping()
        message = str(caught.value)
        assert message.count("host is 192.0.2.1") == 1 and "`deepflash status` there" in message
        assert str(state_dir) not in message and ".log" not in message
    failed = protocol.Reply("info", "x", "error", {"code": "internal", "message": "It broke.",
                                                   "log": "/srv/deepflash/server-5557.log"})
    with pytest.raises(ServerError) as caught:
        CannedReply(address, failed).info()
    assert str(caught.value) == "It broke. (server log on 192.0.2.1: /srv/deepflash/server-5557.log)"
    local = f"tcp://127.0.0.1:{free_port()}"
    failed.fields.pop("log")
    with pytest.raises(ServerError, match=f"server log: {state_files.log_path(local)}"):
        CannedReply(local, failed).info()


def test_stdio_client_gives_the_same_answers_as_the_zmq_client(state_dir, tiny_weights):
    image = np.random.default_rng(7).integers(0, 256, (40, 56, 3), np.uint8)
    with running_server(tiny_weights) as (address, _pid):
        direct = DeepFlashClient(address, timeout_s=60)
        helper = StdioClient(python=sys.executable, address=address, timeout_s=60, auto_start=False)
        assert helper.ping()["pid"] == direct.ping()["pid"]
        through_helper = helper.process(image, 56, 40, options=WHOLE)
        assert through_helper.pixels == direct.process(image, 56, 40, options=WHOLE).pixels
        with pytest.raises(ServerError) as caught:
            helper.process(np.zeros((40, 56, 3), np.uint8), 56, 40)
        assert caught.value.code == "no_face"
    with pytest.raises(ServerUnavailableError, match=address):
        StdioClient(python=sys.executable, address=address, timeout_s=0.5, retries=0, auto_start=False).ping()
