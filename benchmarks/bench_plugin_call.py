"""One editor plug-in call against a warm local server: round trips and wall time.

Starts a real server process (CPU, the installed weights) on a free loopback port and runs the same code a
GIMP or Krita plug-in runs (``deepflash_editor.job.run_job`` with the client ``deepflash_editor.connection``
builds from the install record) on a 2 MP photo holding one face. It counts what the call sends:
ZeroMQ requests by op (ping, info, process; liveness pings sent while the server works are counted apart)
and plain TCP connects, and times the whole call.

    python benchmarks/bench_plugin_call.py
    python benchmarks/bench_plugin_call.py --megapixels 2 --repeat 5
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import zmq

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_server import free_port, photo  # noqa: E402
from deepflash_client.options import Options  # noqa: E402
from deepflash_client.zmq_client import ServerLaunch, ensure_server  # noqa: E402
from deepflash_editor.connection import client_factory  # noqa: E402
from deepflash_editor.job import Context, CorrectionJob, run_job  # noqa: E402

SENT: collections.Counter[str] = collections.Counter()
IN_FLIGHT = {"process": False}  # a process request waits for its reply: pings now are liveness checks
MULTIPART = {"depth": 0}  # pyzmq's send_multipart calls send once per frame: count the message once


def count_requests() -> None:
    """Count every request header a ZeroMQ socket of this process sends, and every plain TCP connect."""
    send, send_multipart, connect = zmq.Socket.send, zmq.Socket.send_multipart, socket.create_connection
    recv_multipart = zmq.Socket.recv_multipart

    def op_of(frame: object) -> str:
        try:
            return str(json.loads(bytes(frame)).get("op"))  # type: ignore[call-overload]
        except (ValueError, TypeError):
            return "?"

    def record(op: str) -> None:
        SENT[f"{op} (liveness)" if IN_FLIGHT["process"] else op] += 1
        IN_FLIGHT["process"] = IN_FLIGHT["process"] or op == "process"

    def counted_send(self, data, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not MULTIPART["depth"]:
            record(op_of(data))
        return send(self, data, *args, **kwargs)

    def counted_send_multipart(self, frames, *args, **kwargs):  # type: ignore[no-untyped-def]
        record(op_of(frames[0]))
        MULTIPART["depth"] += 1
        try:
            return send_multipart(self, frames, *args, **kwargs)
        finally:
            MULTIPART["depth"] -= 1

    def counted_recv_multipart(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        frames = recv_multipart(self, *args, **kwargs)
        IN_FLIGHT["process"] = False
        return frames

    def counted_connect(*args, **kwargs):  # type: ignore[no-untyped-def]
        SENT["tcp connect"] += 1
        return connect(*args, **kwargs)

    zmq.Socket.send, zmq.Socket.send_multipart = counted_send, counted_send_multipart  # type: ignore[method-assign]
    zmq.Socket.recv_multipart = counted_recv_multipart  # type: ignore[method-assign]
    socket.create_connection = counted_connect  # type: ignore[assignment]


def plugin_call(address: str, pixels: bytes, width: int, height: int, serve_command: list[str]) -> tuple[float, dict]:
    """One call as the plug-ins make it; returns its seconds and what it sent."""
    context = Context(address=address, connect=client_factory(sys.executable, serve_command, lambda: True, False),
                      can_start=True, log=logging.getLogger("bench"), log_path=Path(os.devnull), whole_image_hint="")
    SENT.clear()
    started = time.perf_counter()
    outcome = run_job(CorrectionJob(pixels, width, height, 3, "u8", Options()), context, "bench")
    seconds = time.perf_counter() - started
    if not outcome.ok:
        raise SystemExit(f"the plug-in call failed: {outcome.message}")
    return seconds, dict(SENT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megapixels", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3, help="timed calls after one warm-up call")
    args = parser.parse_args()

    count_requests()
    image = photo(args.megapixels)
    height, width = image.shape[:2]
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["DEEPFLASH_STATE_DIR"] = str(Path(scratch) / "state")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "deepflash_app", "serve", "--device", "cpu"]
        address = f"tcp://127.0.0.1:{free_port()}"
        pid = ensure_server(address, ServerLaunch(command=command, startup_timeout_s=300))["pid"]
        try:
            plugin_call(address, image.tobytes(), width, height, command)  # warm-up: dlib's models load
            runs = [plugin_call(address, image.tobytes(), width, height, command) for _ in range(args.repeat)]
        finally:
            os.kill(pid, signal.SIGTERM)
    seconds = [run[0] for run in runs]
    print(f"{width}x{height} ({width * height / 1e6:.1f} MP) RGB u8, one face, warm server on {address}, "
          f"{args.repeat} calls")
    for index, (elapsed, sent) in enumerate(runs):
        round_trips = sum(count for op, count in sent.items() if "liveness" not in op)
        print(f"  call {index + 1}: {elapsed:.2f} s; {round_trips} round trips; sent {sent}")
    print(f"plug-in call: median {statistics.median(seconds):.2f} s, min {min(seconds):.2f} s")


if __name__ == "__main__":
    main()
