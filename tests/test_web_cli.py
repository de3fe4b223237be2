"""``deepflash web`` as a user starts it: a real process serving the page, and its one-line errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the web extra is not installed")


def test_cli_serves_the_page(tiny_weights: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-c", "from deepflash_app.cli import main; main()",
               "web", "--weights", str(tiny_weights), "--device", "cpu", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        config = json.loads(_wait_for_page(f"http://127.0.0.1:{port}/config", process, timeout_s=120.0))
        assert config["title"] == "DeepFlash"
        assert any(dependency.get("api_name") == "correct" for dependency in config["dependencies"])
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=240)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_results_are_removed_when_the_page_stops(tiny_weights: Path, portrait_path: Path, tmp_path: Path,
                                                 stop: signal.Signals) -> None:
    from gradio_client import Client, handle_file

    port = _free_port()
    command = [sys.executable, "-c", "from deepflash_app.cli import main; main()",
               "web", "--weights", str(tiny_weights), "--device", "cpu", "--port", str(port)]
    environment = {**os.environ, "TMPDIR": str(tmp_path)}  # where the page keeps its results
    log = tmp_path / "web.log"  # a file, not a pipe: a pipe nobody reads can block the page's exit
    with log.open("w") as output:
        # Started as a script's `deepflash web &` would be: a non-interactive shell hands it SIGINT ignored.
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True, env=environment,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        _wait_for_page(f"http://127.0.0.1:{port}/config", process, timeout_s=120.0)
        result = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
            handle_file(str(portrait_path)), 1.0, "whole", api_name="/correct")
        assert Path(result[2]).is_file()
        written = [path for path in tmp_path.glob("deepflash-web-*/*/*") if path.is_file()]
        assert any(path.name == "congress_A000014-deepflash.jpg" for path in written)
        process.send_signal(stop)
        assert process.wait(timeout=240) is not None  # a generous bound: shutting Gradio down is slow under load
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert not list(tmp_path.glob("deepflash-web-*")), log.read_text()


def test_cli_reports_missing_weights_in_one_line(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from deepflash_app.cli import main; main()",
               "web", "--weights", str(tmp_path / "none.safetensors"), "--port", str(_free_port())]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 1
    assert finished.stderr.startswith("deepflash: ") and finished.stderr.count("\n") == 1
    assert "none.safetensors" in finished.stderr and "Traceback" not in finished.stderr


def test_cli_reports_an_absent_server_in_one_line() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    command = [sys.executable, "-c", "from deepflash_app.cli import main; main()", "web", "--server", address]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 1
    assert finished.stderr.startswith("deepflash: ") and finished.stderr.count("\n") == 1
    assert address in finished.stderr and "Traceback" not in finished.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_page(url: str, process: subprocess.Popen, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else "(see its log file)"
            pytest.fail(f"deepflash web exited with {process.returncode}: {output}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"deepflash web did not serve {url} within {timeout_s:.0f} s")
