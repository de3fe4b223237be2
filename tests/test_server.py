"""A real server process on loopback: round trips, concurrency, load, and its lifecycle.

Helpers that start and stop servers live in ``server_helpers.py``, shared with the other server test files.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import zmq
from PIL import Image

from deepflash_client import protocol, state_files
from deepflash_client.errors import ServerError, ServerUnavailableError
from deepflash_client.options import Options
from deepflash_client.zmq_client import CurveKeys, DeepFlashClient
from deepflash_server import lifecycle

from server_helpers import PYTHON_SERVER, free_port, running_server, server_environment, wait_until_ready


def portrait(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


# --- fixtures -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def state_dir(tmp_path_factory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("state")
    with server_environment(directory):
        yield directory


@pytest.fixture(scope="module")
def server(state_dir, tiny_weights) -> Iterator[str]:
    with running_server(tiny_weights) as (address, _pid):
        yield address


@pytest.fixture(scope="module")
def client(server) -> Iterator[DeepFlashClient]:
    with DeepFlashClient(server, timeout_s=60, retries=1) as client:
        wait_until_ready(client)
        yield client


@pytest.fixture(scope="module")
def pipeline(tiny_weights):
    from deepflash_core.pipeline import Pipeline

    return Pipeline.load(weights=tiny_weights, device="cpu")


# --- requests ---------------------------------------------------------------------------------------------------

def _variant(rgb: np.ndarray, dtype: str, channels: int) -> np.ndarray:
    if dtype == "u16":
        rgb = rgb.astype(np.uint16) * 257
    elif dtype == "f32":
        rgb = rgb.astype(np.float32) / 255.0
    if channels == 4:
        alpha = np.random.default_rng(4).integers(0, 256, rgb.shape[:2]).astype(rgb.dtype)
        rgb = np.dstack([rgb, alpha])
    return np.ascontiguousarray(rgb)


@pytest.mark.parametrize(("dtype", "channels", "whole_image"), [("u8", 3, False), ("u16", 4, False),
                                                                ("f32", 3, True)])
def test_server_result_is_bit_identical_to_the_in_process_pipeline(client, pipeline, portrait_path, dtype,
                                                                   channels, whole_image):

    pixels = _variant(portrait(portrait_path), dtype, channels)
    height, width = pixels.shape[:2]
    reply = client.process(pixels, width, height, channels, dtype, Options(strength=0.8, whole_image=whole_image))
    expected = pipeline.process(pixels, Options(strength=0.8, whole_image=whole_image))
    assert reply.image == protocol.ImageSpec(width, height, channels, dtype)
    assert reply.pixels == expected.pixels.tobytes()
    assert not np.array_equal(expected.pixels, pixels)  # the comparison is about a real correction
    assert reply.summary.faces == [face.to_dict() for face in expected.faces]
    assert reply.summary.warnings == expected.warnings
    assert {"queue", "decode", "pipeline", "server_total"} <= set(reply.summary.timings)


def test_no_face_is_an_error_reply_naming_the_log(client, state_dir):
    blank = np.full((64, 64, 3), 128, np.uint8)
    with pytest.raises(ServerError) as caught:
        client.process(blank, 64, 64)
    assert caught.value.code == "no_face"
    assert str(state_dir) in str(caught.value) and "\n" not in str(caught.value)


def test_info_reports_device_model_limits_and_memory(client, state_dir):
    info = client.info()
    assert info["device"] == "cpu" and info["state"] == "ready"
    assert info["model"]["name"] == "tiny-random-test-model"
    assert info["limits"]["max_pixels"] == protocol.DEFAULT_MAX_PIXELS
    assert info["log"].startswith(str(state_dir))
    assert info["memory"]["rss_bytes"] > 10_000_000


def test_ping_is_answered_while_images_are_processing(server, client):
    big = np.random.default_rng(0).integers(0, 256, (1000, 1000, 3), np.uint8)
    header = protocol.encode_request("process", "slow", protocol.ImageSpec(1000, 1000, 3, "u8"),
                                     Options(whole_image=True))
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(server)
    try:
        for _ in range(3):
            dealer.send_multipart([b"", header, big], copy=False)
        busy_seen = None
        deadline = time.monotonic() + 120  # bounded by time, not by polls: a loaded machine starts late
        while busy_seen is None and time.monotonic() < deadline:
            info = client.info()
            if info["running"]:
                busy_seen = info
            time.sleep(0.01)
        assert busy_seen is not None, "no request was ever seen running"
        assert client.ping()["state"] == "ready"
        replies = [protocol.parse_reply(dealer.recv_multipart()[1:]) for _ in range(3)]
    finally:
        dealer.close()
    assert busy_seen["running"] + busy_seen["queued"] >= 1
    assert [reply.status for reply in replies] == ["ok"] * 3


LOAD_STRENGTH = 0.0
"""The load test measures the server (sockets, queue, workers, pipeline calls), not the network: at
strength 0 the pipeline returns after its checks, so 800 requests fit in seconds. Inference throughput is
measured by benchmarks/bench_server.py."""


def test_load_of_8_clients_times_100_requests_has_no_failures(server, client, pipeline):

    clients, per_client = 8, 100
    images = [np.random.default_rng(seed).integers(0, 256, (48, 64, 3), np.uint8) for seed in range(clients)]
    expected = [pipeline.process(image, Options(strength=LOAD_STRENGTH, whole_image=True)).pixels.tobytes()
                for image in images]
    failures: list[str] = []
    done = [0] * clients

    def work(index: int) -> None:
        with DeepFlashClient(server, timeout_s=60, retries=0) as own:
            for _ in range(per_client):
                try:
                    reply = own.process(images[index], 64, 48, options=Options(strength=LOAD_STRENGTH, whole_image=True))
                except Exception as error:  # every kind of failure counts, none may happen
                    failures.append(f"{type(error).__name__}: {error}")
                    continue
                if reply.pixels != expected[index]:
                    failures.append(f"client {index}: wrong pixels")
                done[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(f"\nload: {clients}x{per_client} requests, {len(failures)} failures, {elapsed:.1f} s, "
          f"{clients * per_client / elapsed:.0f} requests/s")
    assert failures == []
    assert done == [per_client] * clients


# --- lifecycle --------------------------------------------------------------------------------------------------

def run_serve(*options: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*PYTHON_SERVER, *options], capture_output=True, text=True, timeout=timeout)


def test_a_second_server_on_the_same_port_reuses_the_first(server, tiny_weights):
    result = run_serve("--bind", server, "--weights", str(tiny_weights))
    assert result.returncode == 0
    assert "already answers" in result.stdout and "reusing" in result.stdout


def test_port_held_by_another_program_is_named(state_dir, tiny_weights):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = run_serve("--bind", f"tcp://127.0.0.1:{port}", "--weights", str(tiny_weights))
    assert result.returncode == 1
    assert f"Port {port}" in result.stderr and "another program" in result.stderr
    assert str(state_dir / f"server-{port}.log") in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "*"])
def test_non_loopback_bind_without_keys_is_refused(state_dir, tiny_weights, host):
    result = run_serve("--bind", f"tcp://{host}:{free_port()}", "--weights", str(tiny_weights))
    assert result.returncode == 1
    assert "Refusing to serve" in result.stderr and "--curve-dir" in result.stderr
    assert "server log:" in result.stderr


def test_non_loopback_bind_with_curve_keys_admits_only_key_holders(state_dir, tiny_weights, tmp_path):
    keys = tmp_path / "keys"
    assert run_serve("--generate-keys", str(keys)).returncode == 0
    port = free_port()
    process = subprocess.Popen([*PYTHON_SERVER, "--bind", f"tcp://0.0.0.0:{port}", "--curve-dir", str(keys),
                                "--weights", str(tiny_weights)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        curve = CurveKeys.load(keys / "server.key", keys / "client.key_secret")
        with DeepFlashClient(f"tcp://127.0.0.1:{port}", timeout_s=60, retries=0, curve=curve) as keyed:
            assert keyed.ping()["server"] == "deepflash"
        with DeepFlashClient(f"tcp://127.0.0.1:{port}", timeout_s=2, retries=0) as plain:
            with pytest.raises(ServerUnavailableError):
                plain.ping()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0  # SIGTERM is a clean stop too
    assert not state_files.pid_path(f"tcp://0.0.0.0:{port}").exists()


def test_sigint_stops_the_server_cleanly(state_dir, tiny_weights):
    address = f"tcp://127.0.0.1:{free_port()}"
    process = subprocess.Popen([*PYTHON_SERVER, "--bind", address, "--weights", str(tiny_weights)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with DeepFlashClient(address, timeout_s=60, retries=0) as probe:
        assert wait_until_ready(probe)["pid"] == process.pid
    assert state_files.pid_path(address).is_file()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    assert not state_files.pid_path(address).exists()
    assert "stopped (" in state_files.log_path(address).read_text()


def test_hung_server_is_named_and_replaced_on_request(state_dir, tiny_weights):
    with running_server(tiny_weights) as (address, pid):
        os.kill(pid, signal.SIGSTOP)  # holds the port, answers nothing
        try:
            refused = run_serve("--bind", address, "--weights", str(tiny_weights))
            assert refused.returncode == 1
            assert f"pid {pid}" in refused.stderr and "--replace" in refused.stderr
            replacement = subprocess.Popen([*PYTHON_SERVER, "--bind", address, "--weights", str(tiny_weights),
                                            "--replace"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                # Continued so it can handle its SIGTERM, the old server may still answer what it holds
                # (or say it is shutting down) before it exits; once it is gone the replacement answers.
                deadline = time.monotonic() + 60
                while lifecycle.process_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert not lifecycle.process_alive(pid)
                with DeepFlashClient(address, timeout_s=60, retries=2) as probe:
                    assert probe.ping()["pid"] == replacement.pid
            finally:
                replacement.terminate()
                replacement.wait(timeout=60)
        finally:
            if lifecycle.process_alive(pid):
                os.kill(pid, signal.SIGCONT)


def test_status_reports_a_running_server_and_a_missing_one(server, state_dir):
    status = [sys.executable, "-c", "from deepflash_app.cli import main; main()", "status"]
    running = subprocess.run([*status, "--address", server], capture_output=True, text=True, timeout=60)
    assert running.returncode == 0
    assert "device  cpu" in running.stdout and "tiny-random-test-model" in running.stdout
    assert str(state_dir) in running.stdout
    missing_address = f"tcp://127.0.0.1:{free_port()}"
    state_files.pid_path(missing_address).write_text('{"pid": 999999999, "address": "x", "started": 0}')
    missing = subprocess.run([*status, "--address", missing_address, "--timeout", "0.5"], capture_output=True,
                             text=True, timeout=60)
    assert missing.returncode == 3
    assert "stale pid file" in missing.stdout and "No DeepFlash server answers" in missing.stdout
    assert not state_files.pid_path(missing_address).exists()


def test_envelope_split_handles_req_and_bare_dealer_peers():
    from deepflash_server.broker import split_envelope

    assert split_envelope([b"peer", b"", b"head", b"pix"]) == ([b"peer", b""], [b"head", b"pix"])
    assert split_envelope([b"peer", b"head"]) == ([b"peer"], [b"head"])
    assert split_envelope([b"peer", b""]) == ([b"peer", b""], [])
