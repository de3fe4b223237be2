"""Seconds until ``deepflash process --server`` reports a server that is not there, or that died mid-request.

Three cases, each timed from the start to the error:

1. ``deepflash process`` (a real process) of one photo and of a folder of 20 against a loopback port
   nobody listens on;
2. the same against an address that never answers (``--remote``, default 192.0.2.1, a documentation-only
   network where connections go unanswered rather than refused);
3. a server (the installed weights, CPU) killed with SIGKILL while it corrects a 12 MP photo, the client
   made as ``process --server`` makes it: seconds from the kill to the error.

    python benchmarks/bench_dead_server.py
    python benchmarks/bench_dead_server.py --skip-remote
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_server import free_port  # noqa: E402
from deepflash_client.errors import ServerUnavailableError  # noqa: E402
from deepflash_client.options import Options  # noqa: E402
from deepflash_client.zmq_client import DeepFlashClient, ServerLaunch, ensure_server  # noqa: E402
from deepflash_core.corrector import ServerCorrector  # noqa: E402

PHOTO = ROOT / "deepflash_app" / "examples" / "flash_portrait.jpg"


def timed_process(inputs: Path, out: list[str], address: str) -> tuple[float, str]:
    """Seconds for ``deepflash process`` to give up, and its last line."""
    command = [sys.executable, "-m", "deepflash_app", "process", str(inputs), *out, "--server", address, "-q"]
    started = time.monotonic()
    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    lines = finished.stderr.strip().splitlines() or ["(no output)"]
    return time.monotonic() - started, lines[-1]


def unreachable(address: str, work: Path) -> None:
    folder = work / "folder"
    folder.mkdir(exist_ok=True)
    for index in range(20):
        shutil.copyfile(PHOTO, folder / f"photo{index:02}.jpg")
    one, line = timed_process(PHOTO, ["-o", str(work / "out.jpg")], address)
    print(f"{address}: one photo {one:.1f} s; ", end="", flush=True)
    twenty, _ = timed_process(folder, ["--out-dir", str(work / "out")], address)
    print(f"a folder of 20 {twenty:.1f} s\n  {line}")


def killed_mid_request(state: Path) -> None:
    os.environ["DEEPFLASH_STATE_DIR"] = str(state)
    address = f"tcp://127.0.0.1:{free_port()}"
    launch = ServerLaunch(command=[sys.executable, "-m", "deepflash_app", "serve", "--device", "cpu"],
                          startup_timeout_s=300)
    pid = ensure_server(address, launch)["pid"]
    try:
        while DeepFlashClient(address).ping()["state"] == "loading":
            time.sleep(0.1)
        corrector = ServerCorrector(address, timeout_s=120.0, retries=2)  # as `process --server` makes it
        killed: dict[str, float] = {}

        def kill_once_running() -> None:
            with DeepFlashClient(address, timeout_s=10, retries=0) as watcher:
                while not watcher.info()["running"]:
                    time.sleep(0.005)
                os.kill(pid, signal.SIGKILL)
                killed["at"] = time.monotonic()

        threading.Thread(target=kill_once_running, daemon=True).start()
        pixels = np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), np.uint8)
        try:
            corrector.correct(pixels, Options(whole_image=True))
            print("SIGKILL mid-request: the request finished before the kill")
        except ServerUnavailableError as error:
            print(f"SIGKILL mid-request: {time.monotonic() - killed['at']:.1f} s from the kill to the error\n  {error}")
    finally:
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--remote", default="tcp://192.0.2.1:5591", help="an address that never answers")
    parser.add_argument("--skip-remote", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deepflash-bench-") as work:
        unreachable(f"tcp://127.0.0.1:{free_port()}", Path(work))
        if not args.skip_remote:
            unreachable(args.remote, Path(work))
        killed_mid_request(Path(work))


if __name__ == "__main__":
    main()
