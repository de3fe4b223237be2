"""Pixel layouts of the editors and of the DeepFlash protocol, and the conversions between them.

Krita hands out ``pixelData`` as B,G,R,A for integer depths (U8, U16) and R,G,B,A for float
depths (F16, F32); the protocol carries R,G,B(,A) as ``u8``, ``u16`` or ``f32`` in the
machine's byte order. Everything here uses C-speed slicing of ``array``/``bytearray``;
numpy, when the editor's Python has it, only speeds up half-float conversion.
"""

from __future__ import annotations

import array
import struct
from dataclasses import dataclass

# Half floats are converted in slices of this many values to bound the temporary tuples.
_HALF_CHUNK = 1 << 16


class UnsupportedLayoutError(ValueError):
    """A colour model or depth the plug-in cannot process."""


@dataclass(frozen=True)
class KritaLayout:
    """How one Krita colour depth stores an RGBA pixel and what the protocol receives."""

    depth: str  # Krita's colorDepth(): "U8", "U16", "F16", "F32"
    channel_bytes: int
    bgr_order: bool  # integer depths put blue first
    protocol_dtype: str  # "u8", "u16", "f32"

    @property
    def pixel_bytes(self) -> int:
        return 4 * self.channel_bytes


KRITA_LAYOUTS = {
    "U8": KritaLayout("U8", 1, True, "u8"),
    "U16": KritaLayout("U16", 2, True, "u16"),
    "F16": KritaLayout("F16", 2, False, "f32"),
    "F32": KritaLayout("F32", 4, False, "f32"),
}


def krita_layout(color_model: str, color_depth: str) -> KritaLayout:
    """The layout of a Krita document, or an error naming what is supported.

    Raises:
        UnsupportedLayoutError: not an RGBA document of depth U8, U16, F16 or F32.
    """
    layout = KRITA_LAYOUTS.get(color_depth)
    if color_model != "RGBA" or layout is None:
        raise UnsupportedLayoutError(
            f"DeepFlash works on RGB documents (8-bit, 16-bit, 16-bit float or 32-bit float); this one is "
            f"{color_model} {color_depth}. Convert it with Image → Convert Image Color Space… → RGB/Alpha."
        )
    return layout


def swap_red_blue(data: bytes | bytearray | memoryview, channel_bytes: int) -> bytes:
    """Swap the first and third channel of every 4-channel pixel (BGRA ↔ RGBA).

    Args:
        data: packed pixels, 4 channels of ``channel_bytes`` bytes each.
        channel_bytes: 1 (8-bit) or 2 (16-bit); any other size works the same way.

    Returns:
        A new buffer of the same length.
    """
    if len(data) % (4 * channel_bytes):
        raise ValueError(f"{len(data)} bytes is not a whole number of {4 * channel_bytes}-byte pixels")
    source = memoryview(data).cast("B")
    out = bytearray(source)
    stride = 4 * channel_bytes
    for byte in range(channel_bytes):
        out[byte::stride] = source[2 * channel_bytes + byte :: stride]
        out[2 * channel_bytes + byte :: stride] = source[byte::stride]
    return bytes(out)


def half_to_float(data: bytes | bytearray | memoryview) -> bytes:
    """Native-order IEEE half floats to native-order 32-bit floats."""
    source = memoryview(data).cast("B")
    if len(source) % 2:
        raise ValueError("half-float data has an odd number of bytes")
    try:
        import numpy

        return numpy.frombuffer(source, dtype=numpy.float16).astype(numpy.float32).tobytes()
    except ImportError:
        pass
    out = array.array("f")
    for start in range(0, len(source), 2 * _HALF_CHUNK):
        chunk = source[start : start + 2 * _HALF_CHUNK]
        out.extend(struct.unpack(f"={len(chunk) // 2}e", chunk))
    return out.tobytes()


def float_to_half(data: bytes | bytearray | memoryview) -> bytes:
    """Native-order 32-bit floats to native-order half floats (values beyond ±65504 become ±inf)."""
    source = memoryview(data).cast("B")
    if len(source) % 4:
        raise ValueError("float data is not a whole number of 4-byte values")
    try:
        import numpy

        return numpy.frombuffer(source, dtype=numpy.float32).astype(numpy.float16).tobytes()
    except ImportError:
        pass
    values = array.array("f")
    values.frombytes(source)
    out = bytearray()
    for start in range(0, len(values), _HALF_CHUNK):
        chunk = [_clamp_half(value) for value in values[start : start + _HALF_CHUNK]]
        out += struct.pack(f"={len(chunk)}e", *chunk)
    return bytes(out)


def _clamp_half(value: float) -> float:
    # struct refuses values a half float cannot hold; numpy gives inf there, do the same.
    if -65504.0 <= value <= 65504.0 or value != value:
        return value
    return float("inf") if value > 0 else float("-inf")


def krita_to_protocol(data: bytes | bytearray | memoryview, layout: KritaLayout) -> bytes:
    """Krita ``pixelData`` bytes to R,G,B,A bytes of ``layout.protocol_dtype``."""
    if layout.bgr_order:
        return swap_red_blue(data, layout.channel_bytes)
    if layout.depth == "F16":
        return half_to_float(data)
    return bytes(data)


def protocol_to_krita(data: bytes | bytearray | memoryview, layout: KritaLayout) -> bytes:
    """R,G,B,A bytes of ``layout.protocol_dtype`` back to Krita ``pixelData`` bytes."""
    if layout.bgr_order:
        return swap_red_blue(data, layout.channel_bytes)
    if layout.depth == "F16":
        return float_to_half(data)
    return bytes(data)


_INTEGER_TYPECODES = {"u8": "B", "u16": "H"}


def integer_to_float(data: bytes | bytearray | memoryview, dtype: str) -> bytes:
    """Native-order ``u8``/``u16`` samples to native-order 32-bit floats in [0, 1] (``f32`` passes through)."""
    if dtype == "f32":
        return bytes(data)
    code = _INTEGER_TYPECODES[dtype]
    scale = float((1 << (8 * array.array(code).itemsize)) - 1)
    try:
        import numpy

        return (numpy.frombuffer(data, dtype=numpy.dtype(code)).astype(numpy.float32) / numpy.float32(scale)).tobytes()
    except ImportError:
        pass
    samples = array.array(code)
    samples.frombytes(data)
    return array.array("f", [value / scale for value in samples]).tobytes()


def float_to_integer(data: bytes | bytearray | memoryview, dtype: str) -> bytes:
    """Native-order 32-bit floats to ``u8``/``u16`` samples, rounded and clipped to [0, 1] (``f32`` passes through)."""
    if dtype == "f32":
        return bytes(data)
    code = _INTEGER_TYPECODES[dtype]
    scale = float((1 << (8 * array.array(code).itemsize)) - 1)
    try:
        import numpy

        values = numpy.frombuffer(data, dtype=numpy.float32).astype(numpy.float64)
        return numpy.rint(numpy.clip(numpy.nan_to_num(values) * scale, 0, scale)).astype(numpy.dtype(code)).tobytes()
    except ImportError:
        pass
    values = array.array("f")
    values.frombytes(data)
    return array.array(code, [int(min(max(value * scale, 0.0), scale) + 0.5) if value == value else 0
                              for value in values]).tobytes()
