"""What every DeepFlash client offers (``ping``, ``info``, ``process``) on top of one request/reply call.

:class:`BaseClient` holds the ops; a transport supplies ``_call``: ZeroMQ in
:class:`~deepflash_client.zmq_client.DeepFlashClient`, a helper process in
:class:`~deepflash_client.stdio_client.StdioClient`. Standard library only (numpy is imported by
:meth:`BaseClient.process_array` alone): the editor plug-ins carry it (``deepflash install`` copies the whole kit).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Sequence

from deepflash_client import protocol
from deepflash_client.errors import InvalidOptionError, ServerError, ServerUnavailableError
from deepflash_client.options import Options, check_look
from deepflash_client.protocol import ImageSpec
from deepflash_client.state_files import log_note
from deepflash_client.summary import ResultSummary


@dataclass
class ProcessReply:
    """The result of a ``process`` request: pixels laid out as ``image`` says (the request's layout) plus what the
    server found.

    ``matte`` (``height × width`` bytes, 8-bit) is there only when the request asked for it and the
    server could make one.
    """

    pixels: bytes | memoryview  # a read-only view of the received frame: no copy
    image: ImageSpec
    summary: ResultSummary = field(default_factory=ResultSummary)
    matte: bytes | None = None


class BaseClient:
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
        view, image = self._image(pixels, width, height, channels, dtype)
        header = protocol.encode_request(protocol.OP_PROCESS, new_request_id(), image, options)
        reply = self._checked(self._call([header, view], self.timeout_s))
        fields = reply.fields
        if reply.pixels is None:
            raise ServerError(f"The server's reply has no pixels ({self._log_note()}).", protocol.E_INTERNAL)
        image = ImageSpec(int(fields["width"]), int(fields["height"]), int(fields["channels"]), str(fields["dtype"]))
        return ProcessReply(pixels=_received(reply.pixels), image=image,
                            summary=ResultSummary.from_fields(fields),
                            matte=_to_bytes(reply.matte) if reply.matte is not None else None)

    def describe_look(self, pixels: bytes | memoryview, width: int, height: int, channels: int = 3,
                      dtype: str = "u8") -> tuple[float, ...]:
        """The look of a reference portrait, measured once by the server (which keeps it by the pixels' hash).

        The vector goes into :class:`Options` as ``look`` for every photo corrected toward it; the pixels are
        laid out as for :meth:`process`.

        Raises:
            ServerError: code ``bad_reference`` when the portrait cannot give a look (no face, a tiny one,
                greyscale, not a photo), with the one line that says which.
            ServerUnavailableError: no server answered within the timeout.
        """
        view, image = self._image(pixels, width, height, channels, dtype)
        header = protocol.encode_request(protocol.OP_LOOK, new_request_id(), image)
        look = self._checked(self._call([header, view], self.timeout_s)).fields.get("look")
        try:
            vector = check_look(look)
        except InvalidOptionError:
            vector = None
        if not isinstance(vector, tuple) or None in vector:
            raise ServerError(f"The server's look reply holds no look ({self._log_note()}).", protocol.E_INTERNAL)
        return vector  # type: ignore[return-value]

    def _image(self, pixels: bytes | memoryview, width: int, height: int, channels: int,
               dtype: str) -> tuple[bytes | memoryview, ImageSpec]:
        """The pixels as bytes to send and their spec, checked against the layout and the server's limits."""
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
        return view, image

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
        answered = reply.image
        if answered != ImageSpec(width, height, channels, dtype):
            raise ServerError(f"The server answered with a {answered.width}×{answered.height}×{answered.channels} "
                              f"{answered.dtype} image for a {width}×{height}×{channels} {dtype} one "
                              f"({self._log_note()}).", protocol.E_INTERNAL)
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
        header = protocol.encode_request(op, new_request_id())
        return self._checked(self._call([header], min(self.timeout_s, self.ping_timeout_s), fail_fast)).fields

    def _checked(self, reply: protocol.Reply) -> protocol.Reply:
        if reply.status == "ok":
            return reply
        code = str(reply.fields.get("code") or protocol.E_INTERNAL)
        message = str(reply.fields.get("message") or "The server reported an error.")
        note = self._log_note(reply.fields.get("log") or None)
        if note not in message:  # the stdio helper relays its own client's errors, which carry the note already
            message = f"{message} ({note})"
        if code == protocol.E_UNAVAILABLE:
            raise ServerUnavailableError(message)
        raise ServerError(message, code)

    def _log_note(self, reported: str | None = None) -> str:
        return log_note(self.address, reported)


def new_request_id() -> str:
    """A fresh request id (16 hex digits)."""
    return uuid.uuid4().hex[:16]


def _to_bytes(frame: Any) -> bytes:
    return frame.bytes if hasattr(frame, "bytes") else bytes(frame)


def _received(frame: Any) -> bytes | memoryview:
    """A received frame's bytes without a copy (a read-only view of a ZeroMQ frame; a 12 MP photo is 36 MB)."""
    return frame.buffer if hasattr(frame, "buffer") else frame
