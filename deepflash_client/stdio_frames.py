"""Frames over a byte stream, for the pyzmq-free helper process (``stdio_bridge``) and its client.

A frame count, then each frame's length and bytes. Standard library only: the editor plug-ins carry
it (``deepflash install`` copies the whole kit).
"""

from __future__ import annotations

import struct
from typing import IO, Any, Sequence

from deepflash_client.protocol import E_TOO_LARGE, E_UNAVAILABLE, ProtocolError

_COUNT = struct.Struct("<I")
_LENGTH = struct.Struct("<Q")
MAX_STDIO_FRAMES = 4


def write_frames(stream: IO[bytes], frames: Sequence[Any]) -> None:
    """Write frames to a binary stream: a frame count, then each frame's length and bytes."""
    stream.write(_COUNT.pack(len(frames)))
    for frame in frames:
        view = memoryview(frame).cast("B")
        stream.write(_LENGTH.pack(view.nbytes))
        stream.write(view)
    stream.flush()


def read_frames(stream: IO[bytes], max_bytes: int) -> list[bytes]:
    """Read what :func:`write_frames` wrote; refuses more than ``max_bytes`` in one frame."""
    count = _COUNT.unpack(_read_exactly(stream, _COUNT.size))[0]
    if count > MAX_STDIO_FRAMES:
        raise ProtocolError(f"{count} frames on the helper's stream; at most {MAX_STDIO_FRAMES}.")
    frames = []
    for _ in range(count):
        length = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size))[0]
        if length > max_bytes:
            raise ProtocolError(f"A frame of {length} bytes exceeds the limit of {max_bytes}.", E_TOO_LARGE)
        frames.append(_read_exactly(stream, length))
    return frames


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = stream.read(size - len(chunks))
        if not chunk:
            raise ProtocolError(f"The stream ended after {len(chunks)} of {size} bytes.", E_UNAVAILABLE)
        chunks += chunk
    return bytes(chunks)
