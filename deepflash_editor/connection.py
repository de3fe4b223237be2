"""How a plug-in reaches the server: ZeroMQ when the editor's Python has pyzmq, else the stdio helper.

Built from the install record that ``deepflash install`` wrote, so the editor needs no
environment variables: the record names the DeepFlash environment's Python and the
command that starts ``deepflash serve``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from deepflash_core import client as deepflash_client
from deepflash_core.errors import DeepFlashError, ServerUnavailableError
from deepflash_editor.job import ProcessingClient

PROCESS_TIMEOUT_S = 300.0  # a large photo on a CPU-only server takes minutes
RETRIES = 1
PROBE_TIMEOUT_S = 10.0  # a server loading its model on a busy CPU still answers a ping within this


def has_pyzmq() -> bool:
    """Whether this Python can talk ZeroMQ itself."""
    return deepflash_client.zmq is not None


def client_factory(python: str, auto_start_helper: bool,
                   timeout_s: float = PROCESS_TIMEOUT_S) -> Callable[[str], ProcessingClient]:
    """A function making a client for an address.

    Args:
        python: the DeepFlash environment's Python, for the stdio helper.
        auto_start_helper: let the stdio helper start a server itself (the helper cannot ask).
        timeout_s: longest wait for one ``process`` reply.
    """

    def connect(address: str) -> ProcessingClient:
        if has_pyzmq():
            return _ProbingClient(address, timeout_s=timeout_s, retries=RETRIES, ping_timeout_s=PROBE_TIMEOUT_S)
        if not python:
            raise DeepFlashError("This editor's Python has no pyzmq and no DeepFlash Python is recorded; run "
                                 "`deepflash install` again from the DeepFlash environment.")
        return deepflash_client.StdioClient(python, address, timeout_s, RETRIES, auto_start=auto_start_helper)

    return connect


def refuse_if_nothing_listens(address: str, timeout_s: float = 1.0) -> None:
    """Raise ``ServerUnavailableError`` at once when no process listens on a local TCP address.

    ZeroMQ waits silently for a peer that is not there; a plain TCP connect tells a stopped
    server (refused) from a busy one in milliseconds. Other addresses are left to the ping.
    """
    if not address.startswith("tcp://"):
        return
    host, _, port = address[len("tcp://"):].rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or not (host.startswith("127.") or host in ("localhost", "::1")):
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except ConnectionRefusedError:
        raise ServerUnavailableError(f"No DeepFlash server listens at {address}.") from None
    except OSError:
        pass  # a timeout or an odd network: let the ZeroMQ ping decide


class _ProbingClient(deepflash_client.DeepFlashClient):
    """Checks the server is there before sending the image, so a stopped one is reported in seconds."""

    def process(self, pixels, **options):  # type: ignore[no-untyped-def,override]
        refuse_if_nothing_listens(self.address)
        self.ping()
        return super().process(pixels, **options)


def server_starter(serve_command: list[str]) -> Callable[[str], None] | None:
    """A function starting ``deepflash serve`` at an address and waiting for it, or None when unknown.

    Without pyzmq the plug-in cannot ping, so the stdio helper starts the server instead.
    """
    if not serve_command or not has_pyzmq():
        return None

    def start(address: str) -> None:
        # A recorded command that no longer exists comes back as ServerUnavailableError naming it.
        deepflash_client.ensure_server(address, deepflash_client.ServerLaunch(command=list(serve_command)))

    return start
