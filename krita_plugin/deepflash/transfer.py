"""The sRGB transfer function for Krita's float documents.

Krita's float RGB colour spaces default to a linear profile ("…-g10.icc"), while the model
expects sRGB-encoded values: a linear document is encoded before sending and decoded when the
result comes back. The data is the protocol's native-order ``f32`` R,G,B,A; alpha is never
touched. Values outside [0, 1] (float documents allow them) follow the curve mirrored at zero
and extended past one, as the extended-range sRGB encodings do.
"""

from __future__ import annotations

import array
import math

# Profile names Krita gives linear RGB: elle's "…-g10.icc" and names that say so.
_LINEAR_MARKERS = ("g10", "linear", "scrgb")
# IEC 61966-2-1.
_KNEE_LINEAR = 0.0031308
_KNEE_ENCODED = 0.04045
_SLOPE = 12.92
_GAMMA = 2.4
_OFFSET = 0.055


def is_linear_profile(profile_name: str) -> bool:
    """Whether a Krita colour profile name is a linear-light (gamma 1.0) RGB profile."""
    name = profile_name.lower()
    return any(marker in name for marker in _LINEAR_MARKERS)


def _encode(value: float) -> float:
    magnitude = abs(value)
    if magnitude <= _KNEE_LINEAR:
        encoded = magnitude * _SLOPE
    else:
        encoded = (1 + _OFFSET) * magnitude ** (1 / _GAMMA) - _OFFSET
    return math.copysign(encoded, value)


def _decode(value: float) -> float:
    magnitude = abs(value)
    if magnitude <= _KNEE_ENCODED:
        decoded = magnitude / _SLOPE
    else:
        decoded = ((magnitude + _OFFSET) / (1 + _OFFSET)) ** _GAMMA
    return math.copysign(decoded, value)


def _apply(data: bytes | bytearray | memoryview, to_srgb: bool) -> bytes:
    source = memoryview(data).cast("B")
    if len(source) % 16:
        raise ValueError(f"{len(source)} bytes is not a whole number of 16-byte f32 RGBA pixels")
    try:
        import numpy
    except ImportError:
        numpy = None
    if numpy is not None:
        rgba = numpy.frombuffer(source, dtype=numpy.float32).reshape(-1, 4).astype(numpy.float64)
        rgb = rgba[:, :3]
        magnitude = numpy.abs(rgb)
        if to_srgb:
            curve = numpy.where(magnitude <= _KNEE_LINEAR, magnitude * _SLOPE,
                                (1 + _OFFSET) * magnitude ** (1 / _GAMMA) - _OFFSET)
        else:
            curve = numpy.where(magnitude <= _KNEE_ENCODED, magnitude / _SLOPE,
                                ((magnitude + _OFFSET) / (1 + _OFFSET)) ** _GAMMA)
        rgba[:, :3] = numpy.copysign(curve, rgb)
        return rgba.astype(numpy.float32).tobytes()
    values = array.array("f")
    values.frombytes(source)
    convert = _encode if to_srgb else _decode
    for channel in range(3):
        values[channel::4] = array.array("f", map(convert, values[channel::4]))
    return values.tobytes()


def linear_to_srgb(data: bytes | bytearray | memoryview) -> bytes:
    """Linear-light f32 RGBA to sRGB-encoded f32 RGBA (alpha unchanged)."""
    return _apply(data, to_srgb=True)


def srgb_to_linear(data: bytes | bytearray | memoryview) -> bytes:
    """sRGB-encoded f32 RGBA to linear-light f32 RGBA (alpha unchanged)."""
    return _apply(data, to_srgb=False)
