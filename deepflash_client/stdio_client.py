"""The client for editor Pythons without pyzmq: one helper process of the DeepFlash environment per request.

Each call runs ``python -m deepflash_client.stdio_bridge`` from the DeepFlash environment, writes the request
on its stdin and reads the reply from its stdout (:mod:`deepflash_client.stdio_frames`); the helper talks
ZeroMQ to the server. :func:`deepflash_client.connect.connect` picks this client where pyzmq does not import.
Standard library only: the editor plug-ins carry it (``deepflash install`` copies the whole kit).
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from deepflash_client import protocol
from deepflash_client.client_base import BaseClient
from deepflash_client.errors import ServerUnavailableError
from deepflash_client.launch import ServerLaunch
from deepflash_client.protocol import DEFAULT_ADDRESS
from deepflash_client.stdio_frames import read_frames, write_frames


class StdioClient(BaseClient):
    """The client for Pythons without pyzmq: one helper process of the DeepFlash environment per request.

    Args:
        python: the DeepFlash environment's Python (``DEEPFLASH_PYTHON`` when None).
        address: the server the helper talks to.
        timeout_s: longest wait for one ``process`` reply.
        auto_start: let the helper start a server when none answers.
    """

    def __init__(self, python: str | None = None, address: str = DEFAULT_ADDRESS, timeout_s: float = 120.0,
                 retries: int = 2, *, auto_start: bool = True) -> None:
        self.python = python or os.environ.get("DEEPFLASH_PYTHON") or ""
        if not self.python:
            raise ServerUnavailableError("Set DEEPFLASH_PYTHON to the DeepFlash environment's python "
                                         "(the one `deepflash` runs with) so this editor can reach the server.")
        self.address = address
        self.timeout_s = float(timeout_s)
        self.retries = max(0, int(retries))
        self.auto_start = auto_start

    def _call(self, frames: list[Any], timeout_s: float, fail_fast: bool = False) -> protocol.Reply:
        command = [self.python, "-m", "deepflash_client.stdio_bridge", "--address", self.address,
                   "--timeout", str(timeout_s), "--retries", str(self.retries)]
        if self.auto_start:
            command.append("--auto-start")
        budget = timeout_s * (self.retries + 1) + (ServerLaunch().startup_timeout_s if self.auto_start else 0) + 30
        try:
            helper = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, **_hidden_window())
        except OSError as error:
            raise ServerUnavailableError(f"Cannot run the DeepFlash helper with {self.python}: {error}.") from None
        try:
            write_frames(helper.stdin, frames)
            helper.stdin.close()
            reply = read_frames(helper.stdout, 1 << 40)
            helper.wait(timeout=budget)
        except (protocol.ProtocolError, OSError, subprocess.TimeoutExpired):
            helper.kill()
            helper.wait()
            detail = (helper.stderr.read().decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
            raise ServerUnavailableError(f"The DeepFlash helper ({self.python}) failed: {detail[:300]} "
                                         f"({self._log_note()}).") from None
        finally:
            for stream in (helper.stdout, helper.stderr):
                stream.close()
        return protocol.parse_reply(reply)


def _hidden_window() -> dict[str, Any]:
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NO_WINDOW}  # type: ignore[attr-defined]
    return {}
