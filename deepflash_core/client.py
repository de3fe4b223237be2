"""The one client every front end uses to talk to a DeepFlash server.

:class:`DeepFlashClient` speaks ZeroMQ (pyzmq). Each request polls with a timeout; when no reply comes it
closes the socket and opens a new one before trying again (the Lazy Pirate pattern), and after ``retries``
more attempts it raises :class:`~deepflash_core.errors.ServerUnavailableError` naming the server's log file.
It is the one place that decides "is a server there, start it if allowed, retry once" (``auto_start``):
the first ``process`` of a client is preceded by a ``ping``, which finds the server (a local port nobody
listens on is reported at once), starts one when allowed, and brings back the server's limits, so a call
on a warm server costs two round trips.
While a long ``process`` runs, the client pings the server on a second socket every few seconds: a server
that died mid-request is noticed within seconds (a local port that refuses connections at once), and the
request is not resent to it; a busy one is waited for up to ``timeout_s``.

:class:`StdioClient` has the same methods for editor Pythons without pyzmq: each call runs
``python -m deepflash_core.stdio_bridge`` from the DeepFlash environment, writes the request on its stdin
and reads the reply from its stdout. :func:`connect` picks whichever works here.

Standard library and pyzmq only (pyzmq optional): editor plug-ins vendor this module with ``protocol.py``
and ``errors.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

try:
    import zmq
except ImportError:  # editor Pythons without pyzmq use StdioClient
    zmq = None  # type: ignore[assignment]

from deepflash_core import protocol
from deepflash_core.errors import InvalidOptionError, ServerError, ServerUnavailableError
from deepflash_core.launch import ServerLaunch, default_serve_command, ensure_server
from deepflash_core.options import Options
from deepflash_core.protocol import DEFAULT_ADDRESS, ImageSpec

__all__ = ["DEFAULT_ADDRESS", "CurveKeys", "DeepFlashClient", "ProcessReply", "ServerLaunch", "StdioClient", "connect",
           "ensure_server", "default_serve_command"]

LIVENESS_INTERVAL_S = 2.0
"""While waiting for a slow reply, how often to check with ``ping`` that the server still lives."""
REFUSED_CHECK_S = 0.25
"""A ``ping`` unanswered this long to a local TCP address checks whether anything listens on the port."""


@dataclass
class ProcessReply:
    """The result of a ``process`` request: pixels in the request's layout plus what the server found.

    ``matte`` (``height × width`` bytes, 8-bit) is there only when the request asked for it and the
    server could make one.
    """

    pixels: bytes
    width: int
    height: int
    channels: int
    dtype: str
    faces: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    matte: bytes | None = None


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


class _Client:
    """The ops on top of one abstract request/reply call, shared by both transports."""

    address: str
    timeout_s: float
    ping_timeout_s: float = 10.0
    _limits: protocol.Limits | None = None

    def _call(self, frames: list[Any], timeout_s: float, fail_fast: bool = False) -> protocol.Reply:
        """Send ``frames`` and return the reply; ``fail_fast``: a local port nobody listens on fails at once."""
        raise NotImplementedError

    def request(self, frames: Sequence[Any], timeout_s: float | None = None) -> protocol.Reply:
        """Send already encoded request frames and return the parsed reply, whatever its status.

        Used by the stdio helper, which relays requests it does not interpret.
        """
        if timeout_s is None:
            timeout_s = self.timeout_s if len(frames) > 1 else min(self.timeout_s, self.ping_timeout_s)
        return self._call(list(frames), timeout_s)

    def ping(self, fail_fast: bool = False) -> dict[str, Any]:
        """Ask the server whether it is alive; returns its pid, version, state and limits.

        ``fail_fast``: when nothing listens on a local port, say so at once instead of waiting for the
        timeout (for a server that should be up, not one that is starting).
        """
        reply = self._simple(protocol.OP_PING, fail_fast)
        if isinstance(reply.get("limits"), dict):
            self._limits = protocol.Limits.from_dict(reply["limits"])
        return reply

    def info(self) -> dict[str, Any]:
        """Device, model card, limits, log file and memory of the server."""
        info = self._simple(protocol.OP_INFO)
        if isinstance(info.get("limits"), dict):
            self._limits = protocol.Limits.from_dict(info["limits"])
        return info

    def process(self, pixels: bytes | memoryview, width: int, height: int, channels: int = 3, dtype: str = "u8",
                options: Options | None = None) -> ProcessReply:
        """Turn a flash portrait into a studio-lit one on the server.

        Args:
            pixels: ``height × width × channels`` samples of ``dtype``, row-major, little-endian (any
                C-contiguous buffer: bytes, memoryview, a numpy array); sent without a copy.
            dtype: "u8", "u16" or "f32" (float32 in [0, 1]).
            options: what the correction should do; the defaults when None.

        Raises:
            ServerError: the server refused the request (``code`` says why, e.g. "no_face", "too_large").
            ServerUnavailableError: no server answered within the timeout.
        """
        try:
            view = pixels if isinstance(pixels, bytes) else memoryview(pixels).cast("B")
        except TypeError:
            raise InvalidOptionError("The pixels must be one C-contiguous buffer (numpy.ascontiguousarray).") from None
        if dtype not in protocol.DTYPE_SIZES or channels not in protocol.CHANNELS:
            raise InvalidOptionError(f"Unsupported pixel layout: {channels} channels of {dtype!r}.")
        image = ImageSpec(int(width), int(height), int(channels), dtype)
        if len(view) != image.frame_bytes:
            raise InvalidOptionError(f"{len(view)} bytes of pixels do not make a {width}×{height}×{channels} "
                                     f"{dtype} image ({image.frame_bytes} bytes).")
        self._check_limits(image)
        header = protocol.encode_request(protocol.OP_PROCESS, _new_id(), image, options)
        reply = self._checked(self._call([header, view], self.timeout_s))
        fields = reply.fields
        if reply.pixels is None:
            raise ServerError(f"The server's reply has no pixels (server log: {self._log()}).", protocol.E_INTERNAL)
        return ProcessReply(pixels=_to_bytes(reply.pixels), width=int(fields["width"]), height=int(fields["height"]),
                            channels=int(fields["channels"]), dtype=str(fields["dtype"]),
                            faces=list(fields.get("faces", [])), timings=dict(fields.get("timings", {})),
                            warnings=list(fields.get("warnings", [])),
                            matte=_to_bytes(reply.matte) if reply.matte is not None else None)

    def process_array(self, pixels: Any, options: Options | None = None) -> tuple[Any, ProcessReply]:
        """:meth:`process` for a numpy array ``(H, W, 3|4)`` of uint8, uint16 or float32 (numpy imported here only).

        Returns:
            The corrected array, with the input's shape and dtype, and the server's reply.
        """
        import numpy as np

        wire = {np.dtype(numpy_dtype): name for name, numpy_dtype in protocol.NUMPY_DTYPES.items()}
        samples = np.ascontiguousarray(pixels, dtype=np.dtype(pixels.dtype).newbyteorder("<"))
        if samples.ndim != 3 or samples.dtype not in wire:
            raise InvalidOptionError(f"Unsupported pixel array: shape {samples.shape}, dtype {pixels.dtype}.")
        height, width, channels = samples.shape
        dtype = wire[samples.dtype]
        reply = self.process(samples, width=width, height=height, channels=channels, dtype=dtype, options=options)
        if (reply.width, reply.height, reply.channels, reply.dtype) != (width, height, channels, dtype):
            raise ServerError(f"The server answered with a {reply.width}×{reply.height}×{reply.channels} {reply.dtype} "
                              f"image for a {width}×{height}×{channels} {dtype} one (server log: {self._log()}).",
                              protocol.E_INTERNAL)
        corrected = np.frombuffer(reply.pixels, dtype=protocol.NUMPY_DTYPES[dtype]).reshape(samples.shape)
        return corrected.astype(pixels.dtype, copy=False), reply

    def _check_limits(self, image: ImageSpec) -> None:
        # Large frames beyond the server's MAXMSGSIZE would be dropped unread, so learn the limits first. The
        # ping that brings them also finds (or starts) the server before any pixels are sent.
        if self._limits is None:
            self.ping(fail_fast=True)
        limits = self._limits or protocol.Limits()
        try:
            limits.check_image(image.width, image.height)
        except protocol.ProtocolError as error:
            raise ServerError(str(error), error.code) from None

    def _simple(self, op: str, fail_fast: bool = False) -> dict[str, Any]:
        header = protocol.encode_request(op, _new_id())
        return self._checked(self._call([header], min(self.timeout_s, self.ping_timeout_s), fail_fast)).fields

    def _checked(self, reply: protocol.Reply) -> protocol.Reply:
        if reply.status == "ok":
            return reply
        code = str(reply.fields.get("code") or protocol.E_INTERNAL)
        message = str(reply.fields.get("message") or "The server reported an error.")
        log = reply.fields.get("log") or self._log()
        error_type = ServerUnavailableError if code == protocol.E_UNAVAILABLE else ServerError
        if error_type is ServerUnavailableError:
            raise ServerUnavailableError(f"{message} (server log: {log})")
        raise ServerError(f"{message} (server log: {log})", code)

    def _log(self) -> Path:
        return protocol.log_path(self.address)


class DeepFlashClient(_Client):
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
                                         "deepflash_core.client.connect) or install pyzmq.")
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
                    return protocol.parse_reply(reply_frames)
                except protocol.ProtocolError as error:
                    raise ServerError(f"{error} (server log: {self._log()})", error.code) from None
            self.close()  # a REQ socket without its reply is stuck: drop it and open a fresh one
            if reason in (_NOTHING_LISTENS, _STOPPED):
                break  # a resend cannot reach a server that is not there
        waited = time.monotonic() - started
        if reason == _STOPPED:
            raise ServerUnavailableError(
                f"The DeepFlash server at {self.address} stopped answering during the request (noticed after "
                f"{waited:.0f} s); see its log {self._log()}.")
        tries = self.retries + 1
        attempts = "" if reason == _NOTHING_LISTENS else f"; {tries} attempt{'s' if tries > 1 else ''}, {waited:.0f} s"
        raise ServerUnavailableError(
            f"No DeepFlash server answers at {self.address} ({reason}{attempts}); "
            f"start one with `deepflash serve` or see the server log {self._log()}.")

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
            probe.send(protocol.encode_request(protocol.OP_PING, _new_id()))
            return bool(probe.poll(int(timeout_s * 1000), zmq.POLLIN))
        finally:
            probe.close(linger=0)


class StdioClient(_Client):
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
        command = [self.python, "-m", "deepflash_core.stdio_bridge", "--address", self.address,
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
            protocol.write_frames(helper.stdin, frames)
            helper.stdin.close()
            reply = protocol.read_frames(helper.stdout, 1 << 40)
            helper.wait(timeout=budget)
        except (protocol.ProtocolError, OSError, subprocess.TimeoutExpired):
            helper.kill()
            helper.wait()
            detail = (helper.stderr.read().decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
            raise ServerUnavailableError(f"The DeepFlash helper ({self.python}) failed: {detail[:300]} "
                                         f"(server log: {self._log()}).") from None
        finally:
            for stream in (helper.stdout, helper.stderr):
                stream.close()
        return protocol.parse_reply(reply)


def connect(address: str = DEFAULT_ADDRESS, timeout_s: float = 120.0, retries: int = 2, *,
            auto_start: bool = False, python: str | None = None) -> _Client:
    """A :class:`DeepFlashClient` when pyzmq imports here, else a :class:`StdioClient`."""
    if zmq is not None:
        return DeepFlashClient(address, timeout_s, retries, auto_start=auto_start)
    return StdioClient(python, address, timeout_s, retries, auto_start=auto_start)


def _hidden_window() -> dict[str, Any]:
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NO_WINDOW}  # type: ignore[attr-defined]
    return {}


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


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


def _to_bytes(frame: Any) -> bytes:
    return frame.bytes if hasattr(frame, "bytes") else bytes(frame)
