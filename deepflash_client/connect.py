"""The client that works in this Python: ZeroMQ where pyzmq imports, else the stdio helper.

Its own module so that neither client imports the other.
"""

from __future__ import annotations

from deepflash_client.client_base import BaseClient
from deepflash_client.protocol import DEFAULT_ADDRESS
from deepflash_client.stdio_client import StdioClient
from deepflash_client.zmq_client import DeepFlashClient, zmq


def connect(address: str = DEFAULT_ADDRESS, timeout_s: float = 120.0, retries: int = 2, *,
            auto_start: bool = False, python: str | None = None) -> BaseClient:
    """A :class:`DeepFlashClient` when pyzmq imports here, else a :class:`StdioClient`."""
    if zmq is not None:
        return DeepFlashClient(address, timeout_s, retries, auto_start=auto_start)
    return StdioClient(python, address, timeout_s, retries, auto_start=auto_start)
