"""The DeepFlash wire protocol, shared by the server and every client.

A message is a ZeroMQ multipart message:

* frame 0: a small UTF-8 JSON object (the *header*), at most :data:`MAX_HEADER_BYTES`;
* frame 1 (``process`` only): the raw pixels, row-major ``height × width × channels`` samples of ``dtype``
  in native little-endian order, no padding. The frame is sent and received without copies
  (``copy=False``), so a 12 MP photo crosses the socket as one buffer.

Requests carry ``v`` (protocol version), ``op`` and ``id``; ``process`` adds ``width``, ``height``,
``channels``, ``dtype`` and the fields of :class:`~deepflash_client.options.Options` (``strength``,
``whole_image``, ``background``, ``red_eye``, ``with_matte``, ``look``: a preset's name or a look's vector;
each may be left out for its default). ``look`` takes the same image fields and frame (a reference
portrait) and replies with the reference's ``look`` vector (``cached``: the server had described these
very pixels before), which a client then sends in ``process`` requests; a bad reference is refused with
``bad_reference``.
Replies echo ``v``, ``op`` and ``id`` and carry ``status`` ``"ok"`` (plus the op's fields) or ``"error"``
with ``code``, a one-line ``message`` and ``log`` (the server's log file). A ``process`` reply asked for
``with_matte`` may carry a third frame, the subject matte (``height × width`` bytes), announced by
``"matte": true`` in its header. ``ping`` replies carry the server's limits too, so a client learns them
in the round trip that tells it the server is there. Validation is strict: unknown keys, wrong types and
out-of-range values are errors.

Standard library only (pyzmq is not needed here): editor plug-ins vendor this module.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from deepflash_client.errors import InvalidOptionError
from deepflash_client.options import FIELDS as OPTION_FIELDS
from deepflash_client.options import STRENGTH_RANGE, Options

PROTOCOL_VERSION = 1
DEFAULT_PORT = 5557
DEFAULT_ADDRESS = f"tcp://127.0.0.1:{DEFAULT_PORT}"

OP_PING = "ping"
OP_INFO = "info"
OP_PROCESS = "process"
OP_LOOK = "look"
OPS = (OP_PING, OP_INFO, OP_PROCESS, OP_LOOK)
IMAGE_OPS = (OP_PROCESS, OP_LOOK)
"""The ops whose request carries an image (a second frame)."""

DTYPE_SIZES: dict[str, int] = {"u8": 1, "u16": 2, "f32": 4}
"""Sample types on the wire and their size in bytes (numpy: uint8, uint16, float32, little-endian)."""
NUMPY_DTYPES: dict[str, str] = {"u8": "<u1", "u16": "<u2", "f32": "<f4"}
CHANNELS = (3, 4)

MAX_HEADER_BYTES = 8192
DEFAULT_MAX_PIXELS = 100_000_000
DEFAULT_MAX_SIDE = 20_000

# Error codes a reply may carry.
E_BAD_REQUEST = "bad_request"
E_BAD_VERSION = "bad_version"
E_UNKNOWN_OP = "unknown_op"
E_TOO_LARGE = "too_large"
E_INVALID_OPTION = "invalid_option"
E_NO_FACE = "no_face"
E_BAD_REFERENCE = "bad_reference"
E_BUSY = "busy"
E_SHUTTING_DOWN = "shutting_down"
E_UNAVAILABLE = "unavailable"
E_INTERNAL = "internal"

_IMAGE_KEYS = {"width", "height", "channels", "dtype"}
_REQUEST_KEYS = {
    OP_PING: {"v", "op", "id"},
    OP_INFO: {"v", "op", "id"},
    OP_PROCESS: {"v", "op", "id", *_IMAGE_KEYS, *OPTION_FIELDS},
    OP_LOOK: {"v", "op", "id", *_IMAGE_KEYS},
}
MAX_ID_LENGTH = 64


class ProtocolError(Exception):
    """A message breaks the protocol; ``code`` is the reply's error code, the text its message."""

    def __init__(self, message: str, code: str = E_BAD_REQUEST, request_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id


@dataclass(frozen=True)
class Limits:
    """What a server accepts; checked before any work is done.

    Attributes:
        max_pixels: largest ``width × height``.
        max_side: largest width or height.
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_side: int = DEFAULT_MAX_SIDE

    @property
    def max_frame_bytes(self) -> int:
        """Largest valid pixel frame: the pixel limit at 4 channels of float32."""
        return self.max_pixels * max(CHANNELS) * max(DTYPE_SIZES.values())

    @property
    def max_message_bytes(self) -> int:
        """The ZeroMQ ``MAXMSGSIZE`` (per frame): a peer sending more is disconnected unread."""
        return self.max_frame_bytes + MAX_HEADER_BYTES

    def to_dict(self) -> dict[str, Any]:
        return {"max_pixels": self.max_pixels, "max_side": self.max_side,
                "max_message_bytes": self.max_message_bytes, "dtypes": sorted(DTYPE_SIZES),
                "channels": list(CHANNELS), "max_strength": STRENGTH_RANGE[1]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        return cls(max_pixels=int(data["max_pixels"]), max_side=int(data["max_side"]))

    def check_image(self, width: int, height: int) -> None:
        """Raise :class:`ProtocolError` (``too_large``) when an image of this size is refused."""
        if width > self.max_side or height > self.max_side:
            raise ProtocolError(f"The image is {width}×{height}; this server accepts at most {self.max_side} "
                                "pixels on a side.", E_TOO_LARGE)
        if width * height > self.max_pixels:
            raise ProtocolError(f"The image has {width * height / 1e6:.1f} MP; this server accepts at most "
                                f"{self.max_pixels / 1e6:.1f} MP.", E_TOO_LARGE)


@dataclass(frozen=True)
class ImageSpec:
    """Shape and sample type of a pixel frame."""

    width: int
    height: int
    channels: int
    dtype: str

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * self.channels * DTYPE_SIZES[self.dtype]


@dataclass(frozen=True)
class Request:
    """A validated request."""

    op: str
    request_id: str
    image: ImageSpec | None = None
    options: Options = field(default_factory=Options)


@dataclass
class Reply:
    """A parsed reply: ``fields`` is the header without the envelope keys."""

    op: str
    request_id: str | None
    status: str
    fields: dict[str, Any] = field(default_factory=dict)
    pixels: Any = None
    matte: Any = None


def reference_key(image: ImageSpec, pixels: Any) -> str:
    """A reference image's identity for a cache of looks: the SHA-256 of its layout and every byte of its pixels."""
    digest = hashlib.sha256(f"{image.width}x{image.height}x{image.channels}{image.dtype}:".encode())
    digest.update(memoryview(getattr(pixels, "buffer", pixels)))
    return digest.hexdigest()


# --- encoding -----------------------------------------------------------------------------------------

def _dump(header: dict[str, Any]) -> bytes:
    return json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")


def encode_request(op: str, request_id: str, image: ImageSpec | None = None, options: Options | None = None) -> bytes:
    """The header frame of a request (the caller sends the pixel frame after it for ``process`` and ``look``)."""
    header: dict[str, Any] = {"v": PROTOCOL_VERSION, "op": op, "id": request_id}
    if op in IMAGE_OPS:
        if image is None:
            raise ValueError(f"a {op} request needs an ImageSpec")
        header.update(width=image.width, height=image.height, channels=image.channels, dtype=image.dtype)
    if op == OP_PROCESS:
        header.update((options or Options()).to_dict())
    return _dump(header)


def encode_reply(op: str | None, request_id: str | None, **fields: Any) -> bytes:
    """The header frame of a successful reply."""
    return _dump({"v": PROTOCOL_VERSION, "op": op, "id": request_id, "status": "ok", **fields})


def encode_error(code: str, message: str, op: str | None = None, request_id: str | None = None,
                 log: str | None = None) -> bytes:
    """The header frame of an error reply (``message`` is folded to one line)."""
    return _dump({"v": PROTOCOL_VERSION, "op": op, "id": request_id, "status": "error", "code": code,
                  "message": " ".join(str(message).split()), "log": log})


# --- decoding and validation ------------------------------------------------------------------------------

def _load_header(raw: Any) -> dict[str, Any]:
    size = _frame_length(raw)
    if size > MAX_HEADER_BYTES:
        raise ProtocolError(f"The header has {size} bytes; the limit is {MAX_HEADER_BYTES}.")
    data = bytes(getattr(raw, "buffer", raw))
    try:
        header = json.loads(data.decode("utf-8"), parse_constant=_NonFinite)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProtocolError(f"The header is not valid UTF-8 JSON ({type(error).__name__}).") from None
    if not isinstance(header, dict):
        raise ProtocolError("The header must be a JSON object.")
    for key, value in header.items():
        constant = _non_finite_in(value)
        if constant is not None:
            raise ProtocolError(f"'{str(key)[:32]}' holds {constant.name}, which is not a number (JSON has no NaN "
                                "or infinity).")
    return header


class _NonFinite:
    """``NaN``, ``Infinity`` or ``-Infinity`` in a header (Python's JSON reader accepts them): kept as a marker
    until the key that holds it is known, then refused by that key's name."""

    def __init__(self, name: str) -> None:
        self.name = name


def _non_finite_in(value: Any) -> _NonFinite | None:
    """The first non-finite marker in ``value`` or, one level down, in the list or object it is."""
    if isinstance(value, _NonFinite):
        return value
    inner = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((item for item in inner if isinstance(item, _NonFinite)), None)


def _int_field(header: dict[str, Any], key: str, low: int, high: int) -> int:
    value = header.get(key)
    if type(value) is not int:
        raise ProtocolError(f"'{key}' must be an integer.")
    if not low <= value <= high:
        raise ProtocolError(f"'{key}' is {value}; it must be between {low} and {high}.",
                            E_TOO_LARGE if value > high else E_BAD_REQUEST)
    return value


def request_id_of(header_frame: Any) -> str | None:
    """Best-effort request id of a raw header frame, for error replies to malformed requests."""
    try:
        header = _load_header(header_frame)
    except ProtocolError:
        return None
    value = header.get("id")
    return value if isinstance(value, str) and len(value) <= MAX_ID_LENGTH else None


def parse_request(frames: Sequence[Any], limits: Limits) -> Request:
    """Validate a request's frames (header bytes, then the optional pixel frame).

    Only sizes are looked at, never the pixel values, so this is cheap for any image.

    Raises:
        ProtocolError: with the code and message of the error reply to send.
    """
    if not frames:
        raise ProtocolError("The request is empty.")
    header = _load_header(frames[0])
    request_id = header.get("id")
    if not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_ID_LENGTH:
        raise ProtocolError(f"'id' must be a non-empty string of at most {MAX_ID_LENGTH} characters.")
    try:
        return _parse_header(header, request_id, frames, limits)
    except ProtocolError as error:
        error.request_id = request_id
        raise


def _parse_header(header: dict[str, Any], request_id: str, frames: Sequence[Any], limits: Limits) -> Request:
    version = header.get("v")
    if version != PROTOCOL_VERSION or type(version) is not int:
        raise ProtocolError(f"Protocol version {version!r} is not supported; this server speaks version "
                            f"{PROTOCOL_VERSION}. Update the client or the server.", E_BAD_VERSION)
    op = header.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise ProtocolError(f"Unknown op {str(op)[:32]!r}; the ops are {', '.join(OPS)}.", E_UNKNOWN_OP)
    unknown = set(header) - _REQUEST_KEYS[op]
    if unknown:
        raise ProtocolError(f"Unknown header keys for '{op}': {', '.join(sorted(map(str, unknown)))[:200]}.")
    expected_frames = 2 if op in IMAGE_OPS else 1
    if len(frames) != expected_frames:
        raise ProtocolError(f"A '{op}' request has {expected_frames} frame(s); this one has {len(frames)}.")
    if op not in IMAGE_OPS:
        return Request(op=op, request_id=request_id)

    missing = _IMAGE_KEYS - set(header)
    if missing:
        raise ProtocolError(f"'{op}' needs {', '.join(sorted(missing))}.")
    width = _int_field(header, "width", 1, limits.max_side)
    height = _int_field(header, "height", 1, limits.max_side)
    limits.check_image(width, height)
    channels = header["channels"]
    if type(channels) is not int or channels not in CHANNELS:
        raise ProtocolError(f"'channels' must be 3 (RGB) or 4 (RGBA), not {str(channels)[:16]}.")
    dtype = header["dtype"]
    if not isinstance(dtype, str) or dtype not in DTYPE_SIZES:
        raise ProtocolError(f"'dtype' must be one of {', '.join(DTYPE_SIZES)}, not {str(dtype)[:16]!r}.")
    try:
        options = Options.from_dict({key: header[key] for key in OPTION_FIELDS if key in header})
    except InvalidOptionError as error:
        raise ProtocolError(str(error), E_INVALID_OPTION) from None
    image = ImageSpec(width, height, channels, dtype)
    received = _frame_length(frames[1])
    if received != image.frame_bytes:
        raise ProtocolError(f"The pixel frame has {received} bytes; {width}×{height}×{channels} {dtype} needs "
                            f"{image.frame_bytes}.")
    return Request(op=op, request_id=request_id, image=image, options=options)


def _frame_length(frame: Any) -> int:
    buffer = getattr(frame, "buffer", frame)  # zmq.Frame exposes its bytes as .buffer without a copy
    return memoryview(buffer).nbytes


def parse_reply(frames: Sequence[Any]) -> Reply:
    """Parse a reply's frames; a malformed reply raises :class:`ProtocolError`."""
    if not frames:
        raise ProtocolError("The server sent an empty reply.", E_INTERNAL)
    header = _load_header(frames[0])
    status = header.pop("status", None)
    if status not in ("ok", "error") or header.pop("v", None) != PROTOCOL_VERSION:
        raise ProtocolError("The server's reply does not follow protocol version "
                            f"{PROTOCOL_VERSION}; update the client or the server.", E_BAD_VERSION)
    op = header.pop("op", None)
    request_id = header.pop("id", None)
    pixels = frames[1] if len(frames) > 1 else None
    matte = frames[2] if len(frames) > 2 else None
    return Reply(op=op, request_id=request_id, status=status, fields=header, pixels=pixels, matte=matte)


# --- addresses ------------------------------------------------------------------------------------------

def host_of(address: str) -> str | None:
    """The host of a ``tcp://host:port`` address; None for the transports that stay on one machine (ipc, inproc)."""
    transport, _, rest = address.partition("://")
    if transport in ("ipc", "inproc"):
        return None
    return rest.rsplit(":", 1)[0].strip("[]")


def is_local(address: str) -> bool:
    """True when ``address`` can only be on this machine (ipc, inproc, localhost, a loopback IP)."""
    host = host_of(address)
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # '*', an interface or a host name: maybe another machine
        return False
