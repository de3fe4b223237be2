"""How a plug-in reaches the server: ZeroMQ when the editor's Python has pyzmq, else the stdio helper.

Built from the install record that ``deepflash install`` wrote, so the editor needs no
environment variables: the record names the DeepFlash environment's Python and the
command that starts ``deepflash serve``.
"""

from __future__ import annotations

from collections.abc import Callable

from deepflash_core import client as deepflash_client
from deepflash_core.errors import ServerUnavailableError
from deepflash_common.job import ProcessingClient

PROCESS_TIMEOUT_S = 300.0  # a large photo on a CPU-only server takes minutes
RETRIES = 1


PROBE_TIMEOUT_S = 2.0


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
            raise ServerUnavailableError("This editor's Python has no pyzmq and no DeepFlash Python is recorded; "
                                         "run `deepflash install` again from the DeepFlash environment.")
        return deepflash_client.StdioClient(python, address, timeout_s, RETRIES, auto_start=auto_start_helper)

    return connect


class _ProbingClient(deepflash_client.DeepFlashClient):
    """Pings before sending the image, so a stopped server is reported in seconds, not minutes."""

    def process(self, pixels, **options):  # type: ignore[no-untyped-def,override]
        self.ping()
        return super().process(pixels, **options)


def server_starter(serve_command: list[str]) -> Callable[[str], None] | None:
    """A function starting ``deepflash serve`` at an address and waiting for it, or None when unknown.

    Without pyzmq the plug-in cannot ping, so the stdio helper starts the server instead.
    """
    if not serve_command or not has_pyzmq():
        return None

    def start(address: str) -> None:
        try:
            deepflash_client.ensure_server(address, deepflash_client.ServerLaunch(command=list(serve_command)))
        except OSError as error:  # the recorded command is gone (environment moved or deleted)
            raise ServerUnavailableError(f"cannot run {serve_command[0]} ({error.strerror}); run "
                                         "`deepflash install` again from the DeepFlash environment.") from None

    return start
