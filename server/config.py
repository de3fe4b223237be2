"""What a server is started with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deepflash_client import protocol, state_files
from deepflash_client.state_files import STARTED_BY_USER


@dataclass(frozen=True)
class ServerConfig:
    """Settings of one server process.

    Attributes:
        address: ZeroMQ endpoint to bind.
        device: torch device name ("auto", "cpu", "cuda", "cuda:N", "mps").
        weights: weights file, None for the installed default.
        workers: threads that decode, run and encode ``process`` requests; inference itself runs one
            request at a time on the device.
        max_queue: ``process`` requests waiting beyond the running ones before new ones get ``busy``.
        limits: largest image accepted.
        curve_dir: CURVE key directory, needed to bind beyond loopback.
        replace: stop a DeepFlash server that holds the port without answering.
        idle_exit_s: exit after this many seconds without a ``process`` request (None: stay until stopped).
        started_by: who started it, ``STARTED_BY_USER`` or ``STARTED_BY_CLIENT`` (shown by
            ``deepflash status``, kept in the pid file).
    """

    address: str = protocol.DEFAULT_ADDRESS
    device: str = "auto"
    weights: Path | None = None
    workers: int = 2
    max_queue: int = 16
    limits: protocol.Limits = field(default_factory=protocol.Limits)
    curve_dir: Path | None = None
    replace: bool = False
    idle_exit_s: float | None = None
    started_by: str = STARTED_BY_USER

    @property
    def log_file(self) -> Path:
        return state_files.log_path(self.address)

    @property
    def pid_file(self) -> Path:
        return state_files.pid_path(self.address)
