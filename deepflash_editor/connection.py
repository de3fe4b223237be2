"""How a plug-in reaches the server: ZeroMQ when the editor's Python has pyzmq, else the stdio helper.

Built from the install record that ``deepflash install`` wrote, so the editor needs no
environment variables: the record names the DeepFlash environment's Python and the
command that starts ``deepflash serve``. Finding the server, starting it when allowed and
retrying once is the client's job (``deepflash_client.zmq_client``); this module only says how.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from deepflash_client import zmq_client
from deepflash_client.errors import DeepFlashError
from deepflash_client.stdio_client import StdioClient
from deepflash_editor.job import ProcessingClient

PROCESS_TIMEOUT_S = 300.0  # a large photo on a CPU-only server takes minutes
RETRIES = 1
PROBE_TIMEOUT_S = 10.0  # a server loading its model on a busy CPU still answers a ping within this


def has_pyzmq() -> bool:
    """Whether this Python can talk ZeroMQ itself."""
    return zmq_client.zmq is not None


def can_start(python: str, serve_command: Sequence[str]) -> bool:
    """Whether a plug-in with this install record knows how to start a server."""
    return bool(serve_command) if has_pyzmq() else bool(python)


def client_factory(python: str, serve_command: Sequence[str], may_start: Callable[[], bool],
                   auto_start_helper: bool, timeout_s: float = PROCESS_TIMEOUT_S) -> Callable[[str], ProcessingClient]:
    """A function making a client for an address.

    Args:
        python: the DeepFlash environment's Python, for the stdio helper.
        serve_command: the command line that starts ``deepflash serve`` (empty when unknown).
        may_start: asked once, when no server answers, whether to start one (ZeroMQ client).
        auto_start_helper: let the stdio helper start a server itself (the helper cannot ask).
        timeout_s: longest wait for one ``process`` reply.
    """

    def connect(address: str) -> ProcessingClient:
        if has_pyzmq():
            launch = zmq_client.ServerLaunch(command=list(serve_command), allowed=may_start)
            return zmq_client.DeepFlashClient(address, timeout_s=timeout_s, retries=RETRIES,
                                              ping_timeout_s=PROBE_TIMEOUT_S,
                                              auto_start=launch if serve_command else False)
        if not python:
            raise DeepFlashError("This editor's Python has no pyzmq and no DeepFlash Python is recorded; run "
                                 "`deepflash install` again from the DeepFlash environment.")
        return StdioClient(python, address, timeout_s, RETRIES, auto_start=auto_start_helper)

    return connect
