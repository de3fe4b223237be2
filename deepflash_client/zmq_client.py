"""The one client every front end uses to talk to a DeepFlash server.

:class:`DeepFlashClient` speaks ZeroMQ (pyzmq). Each request polls with a timeout; when no reply comes it
closes the socket and opens a new one before trying again (the Lazy Pirate pattern), and after ``retries``
more attempts it raises :class:`~deepflash_client.errors.ServerUnavailableError` saying where to look: the
server's log file, or the server's host when it runs on another machine.
It is the one place that decides "is a server there, start it if allowed, retry once" (``auto_start``):
the first ``process`` of a client is preceded by a ``ping``, which finds the server (a local port nobody
listens on is reported at once), starts one when allowed, and brings back the server's limits, so a call
on a warm server costs two round trips.
While a long ``process`` runs, the client pings the server on a second socket every few seconds: a server
that died mid-request is noticed within seconds (a local port that refuses connections at once), and the
request is not resent to it; a busy one is waited for up to ``timeout_s``.

The ops themselves (``ping``, ``info``, ``process``) live in :mod:`deepflash_client.client_base`, shared with
:class:`~deepflash_client.stdio_client.StdioClient` for editor Pythons without pyzmq; :func:`~deepflash_client.connect.connect`
picks whichever works here.

Standard library and pyzmq only (pyzmq optional): the editor plug-ins carry it with the rest of the kit.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import zmq
except ImportError:  # editor Pythons without pyzmq use StdioClient
    zmq = None  # type: ignore[assignment]

from deepflash_client import protocol
from deepflash_client.client_base import BaseClient, new_request_id
from deepflash_client.errors import InvalidOptionError, ServerError, ServerUnavailableError
from deepflash_client.launch import ServerLaunch, default_serve_command, start_server
from deepflash_client.protocol import DEFAULT_ADDRESS

__all__ = ["DEFAULT_ADDRESS", "CurveKeys", "DeepFlashClient", "ServerLaunch", "ensure_server", "default_serve_command"]

LIVENESS_INTERVAL_S = 2.0
"""While waiting for a slow reply, how often to check with ``ping`` that the server still lives."""
REFUSED_CHECK_S = 0.25
"""A ``ping`` unanswered this long to a local TCP address checks whether anything listens on the port."""
SHUTDOWN_RETRY_S = 0.5
"""After a server answered that it is shutting down, how long to wait before asking again (its successor binds)."""


@dataclass(frozen=True)
class CurveKeys:
    """ZeroMQ CURVE keys (Z85 text) for a server bound beyond loopback."""

    server_public: str
    client_public: str
    client_secret: str

    @classmethod
    def load(cls, server_public_file: str | Path, client_secret_file: str | Path) -> CurveKeys:
        """Keys from the files ``deepflash serve --generate-keys DIR`` writes (``server.key``,
        ``client.key_secret``)."""
        import zmq.auth

        try:
            server_public, _ = zmq.auth.load_certificate(str(server_public_file))
            client_public, client_secret = zmq.auth.load_certificate(str(client_secret_file))
        except (OSError, ValueError) as error:
            raise InvalidOptionError(f"Cannot read the CURVE keys: {error}.") from None
        if client_secret is None:
            raise InvalidOptionError(f"{client_secret_file} holds no secret key; use the client.key_secret file.")
        return cls(server_public.decode(), client_public.decode(), client_secret.decode())


class DeepFlashClient(BaseClient):
    """A ZeroMQ client of one DeepFlash server.

    Args:
        address: the server's ZeroMQ endpoint.
        timeout_s: longest wait for one ``process`` reply while the server is alive.
        retries: attempts after the first one when no reply comes (each on a fresh socket).
        auto_start: start a server (see :func:`ensure_server`) when none answers, then try once more;
            True uses the default :class:`ServerLaunch`.
        curve: CURVE keys for a server bound beyond loopback.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, timeout_s: float = 120.0, retries: int = 2, *,
                 auto_start: bool | ServerLaunch = False, curve: CurveKeys | None = None,
                 ping_timeout_s: float = 10.0) -> None:
        if zmq is None:
            raise ServerUnavailableError("pyzmq is not installed in this Python; use StdioClient (see "
                                         "deepflash_client.connect.connect) or install pyzmq.")
        self.address = address
        self.timeout_s = float(timeout_s)
        self.retries = max(0, int(retries))
        self.ping_timeout_s = float(ping_timeout_s)
        self.launch = ServerLaunch() if auto_start is True else (auto_start or None)
        self.curve = curve
        self._context = zmq.Context.instance()
        self._socket: Any = None

    # -- socket handling --------------------------------------------------------------------------------

    def _open(self) -> Any:
        socket = self._context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        if self.curve is not None:
            socket.curve_serverkey = self.curve.server_public.encode()
            socket.curve_publickey = self.curve.client_public.encode()
            socket.curve_secretkey = self.curve.client_secret.encode()
        socket.connect(self.address)
        return socket

    def close(self) -> None:
        """Close the socket; the client opens a new one on the next request."""
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def __enter__(self) -> DeepFlashClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the context may already be gone
            pass

    # -- Lazy Pirate ------------------------------------------------------------------------------------

    def _call(self, frames: list[Any], timeout_s: float, fail_fast: bool = False) -> protocol.Reply:
        try:
            return self._attempts(frames, timeout_s, fail_fast)
        except ServerUnavailableError:
            launch, self.launch = self.launch, None  # a server is started at most once per client
            if launch is None or not launch.allowed():
                raise
        ensure_server(self.address, launch, curve=self.curve)
        return self._attempts(frames, timeout_s)

    def _attempts(self, frames: list[Any], timeout_s: float, fail_fast: bool = False) -> protocol.Reply:
        started = time.monotonic()
        reason = "no reply"
        for _ in range(self.retries + 1):
            if self._socket is None:
                self._socket = self._open()
            self._socket.send_multipart(frames, copy=False)
            reply_frames, reason = self._wait(timeout_s, watch=len(frames) > 1, fail_fast=fail_fast)
            if reply_frames is not None:
                try:
                    reply = protocol.parse_reply(reply_frames)
                except protocol.ProtocolError as error:
                    raise ServerError(f"{error} ({self._log_note()})", error.code) from None
                if not (reply.status == "error" and reply.fields.get("code") == protocol.E_SHUTTING_DOWN):
                    return reply
                # A server on its way out (stopped, or replaced by a new one on the same address) did not
                # start this request: ask again, which reaches its successor if one is taking over.
                reason = "the server shut down"
                time.sleep(SHUTDOWN_RETRY_S)
            self.close()  # a REQ socket without its reply is stuck: drop it and open a fresh one
            if reason in (_NOTHING_LISTENS, _STOPPED):
                break  # a resend cannot reach a server that is not there
        waited = time.monotonic() - started
        if reason == _STOPPED:
            raise ServerUnavailableError(
                f"The DeepFlash server at {self.address} stopped answering during the request (noticed after "
                f"{waited:.0f} s; {self._log_note()}).")
        tries = self.retries + 1
        attempts = "" if reason == _NOTHING_LISTENS else f"; {tries} attempt{'s' if tries > 1 else ''}, {waited:.0f} s"
        raise ServerUnavailableError(
            f"No DeepFlash server answers at {self.address} ({reason}{attempts}); "
            f"start one with `deepflash serve` ({self._log_note()}).")

    def _wait(self, timeout_s: float, watch: bool, fail_fast: bool = False) -> tuple[list[Any] | None, str]:
        """Poll for the reply; when ``watch`` is set, ping the server on the side to tell busy from dead."""
        deadline = time.monotonic() + timeout_s
        next_check = time.monotonic() + (LIVENESS_INTERVAL_S if watch else timeout_s)
        if fail_fast and self._socket.poll(int(min(REFUSED_CHECK_S, timeout_s) * 1000), zmq.POLLIN):
            return self._socket.recv_multipart(copy=False), ""
        if fail_fast and _nothing_listens(self.address):
            return None, _NOTHING_LISTENS
        while True:
            now = time.monotonic()
            if now >= deadline:
                return None, f"no reply within {timeout_s:.0f} s"
            wait = min(deadline, next_check) - now
            if self._socket.poll(max(1, int(wait * 1000)), zmq.POLLIN):
                return self._socket.recv_multipart(copy=False), ""
            if time.monotonic() >= next_check and deadline - time.monotonic() > 0:
                if not self._alive(min(self.ping_timeout_s, deadline - time.monotonic())):
                    return None, _STOPPED
                next_check = time.monotonic() + LIVENESS_INTERVAL_S

    def _alive(self, timeout_s: float) -> bool:
        if _nothing_listens(self.address):  # a killed local server: its port refuses at once
            return False
        probe = self._open()
        try:
            probe.send(protocol.encode_request(protocol.OP_PING, new_request_id()))
            return bool(probe.poll(int(timeout_s * 1000), zmq.POLLIN))
        finally:
            probe.close(linger=0)


def ensure_server(address: str = DEFAULT_ADDRESS, launch: ServerLaunch | None = None, *,
                  curve: CurveKeys | None = None) -> dict[str, Any]:
    """Return the ``ping`` reply of the server at ``address``, starting a detached one when none answers
    (see :func:`~deepflash_client.launch.start_server`)."""
    probe = DeepFlashClient(address, timeout_s=2.0, retries=0, curve=curve)
    return start_server(address, launch, probe.ping)


_NOTHING_LISTENS = "nothing listens on the port"
_STOPPED = "the server stopped answering during the request"


def _nothing_listens(address: str) -> bool:
    """True when a local TCP port refuses connections (no server there); False when unsure.

    ZeroMQ waits silently for a peer that is not there; a plain TCP connect tells a stopped server
    (refused) from a busy one in milliseconds.
    """
    if not address.startswith("tcp://") or not protocol.is_local(address):
        return False
    host, _, port = address[len("tcp://"):].rpartition(":")
    if not port.isdigit():
        return False
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=1.0).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        pass  # a timeout or an odd network: let the ZeroMQ timeout decide
    return False


