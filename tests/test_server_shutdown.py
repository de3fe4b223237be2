"""A server stopped while it works: every request already sent still gets its reply."""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Iterator

import pytest
import zmq

from deepflash_client import protocol
from deepflash_client.options import Options
from deepflash_client.zmq_client import DeepFlashClient
from server_helpers import PYTHON_SERVER, free_port, server_environment, wait_until_ready

# A reply this large is still being written to the socket when the server closes it (87 MB, as a
# 5400x5400 photo).
SIDE = 5400
REQUESTS = 4


@pytest.fixture
def one_worker_server(tmp_path, tiny_weights) -> Iterator[tuple[str, subprocess.Popen]]:
    with server_environment(tmp_path):
        address = f"tcp://127.0.0.1:{free_port()}"
        process = subprocess.Popen([*PYTHON_SERVER, "--bind", address, "--weights", str(tiny_weights),
                                    "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with DeepFlashClient(address, timeout_s=60, retries=0) as probe:
                wait_until_ready(probe)
            yield address, process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=60)


def _receive(socket: zmq.Socket, timeout_s: float) -> protocol.Reply | None:
    if not socket.poll(int(timeout_s * 1000)):
        return None
    frames = socket.recv_multipart(copy=False)
    return protocol.parse_reply(frames[1:])  # after the empty delimiter


def _wait_until_received(address: str, count: int, before: int) -> None:
    """Wait until the server has read ``count`` requests besides ``info`` calls since it counted ``before``."""
    with DeepFlashClient(address, timeout_s=60, retries=0) as probe:
        for calls in range(1, 10_000):
            if probe.info()["requests"]["requests"] - before - calls >= count:
                return
            time.sleep(0.01)
    raise AssertionError(f"the server never read {count} requests")


def test_sigterm_after_the_first_reply_still_answers_every_request(one_worker_server):
    address, process = one_worker_server
    image = protocol.ImageSpec(SIDE, SIDE, 3, "u8")
    pixels = bytes(image.frame_bytes)
    with DeepFlashClient(address, timeout_s=60, retries=0) as probe:
        base = probe.info()["requests"]["requests"]
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(address)
    try:
        for index in range(REQUESTS):
            header = protocol.encode_request(protocol.OP_PROCESS, f"r{index}", image,
                                             Options(strength=0.0, whole_image=True))
            socket.send_multipart([b"", header, pixels], copy=False)
        first = _receive(socket, 300)
        assert first is not None and first.status == "ok"
        # Only requests the server has read can be answered: the last ones may still be crossing the socket.
        _wait_until_received(address, REQUESTS, before=base)
        process.send_signal(signal.SIGTERM)
        replies = [first]
        deadline = time.monotonic() + 120
        while len(replies) < REQUESTS and time.monotonic() < deadline:
            reply = _receive(socket, 1)
            if reply is not None:
                replies.append(reply)
            elif process.poll() is not None and _receive(socket, 2) is None:
                break
    finally:
        socket.close(linger=0)
        context.term()
    assert process.wait(timeout=60) == 0
    assert sorted(reply.request_id for reply in replies) == [f"r{index}" for index in range(REQUESTS)]
    for reply in replies:
        if reply.status == "ok":
            assert reply.pixels is not None and len(reply.pixels) == image.frame_bytes
        else:
            assert reply.fields["code"] == protocol.E_SHUTTING_DOWN
    # One worker takes the requests in order: r0 was answered and r1 running (the worker takes it as it
    # finishes r0) when the signal came, so both finish; the last one had not started and is refused. What
    # finished comes before what was refused.
    outcomes = [reply.status for reply in sorted(replies, key=lambda reply: reply.request_id)]
    finished = outcomes.count("ok")
    assert outcomes == ["ok"] * finished + ["error"] * (REQUESTS - finished)
    assert outcomes[:2] == ["ok", "ok"] and outcomes[-1] == "error"
