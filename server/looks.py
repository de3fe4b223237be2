"""The server's side of looks: a reference portrait described once and kept by its pixels' hash, and a requested
preset checked before any work.

An editor sends the reference layer each time the user applies a look taken from it; the hash makes every
request after the first one cost a hash of the pixels, not a face detection and a description.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from deepflash_client import protocol
from deepflash_client.errors import InvalidOptionError
from deepflash_client.options import Options

MAX_KEPT = 64
"""Reference looks kept (the least recently used one goes first); each is a dozen numbers."""


def check_preset(options: Options) -> None:
    """Refuse a look named after no preset before the request waits in the queue.

    Raises:
        InvalidOptionError: the message lists the presets.
    """
    if isinstance(options.look, str):
        from deepflash_core.look.presets import requested_look

        requested_look(options.look)


class ReferenceLooks:
    """Reference looks by content hash, shared by the worker threads."""

    def __init__(self, max_kept: int = MAX_KEPT) -> None:
        self.max_kept = max_kept
        self._kept: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.described = 0  # references measured (not found in the cache): for `info`

    def cached(self, key: str) -> tuple[float, ...] | None:
        with self._lock:
            look = self._kept.get(key)
            if look is not None:
                self._kept.move_to_end(key)
            return look

    def describe(self, image: protocol.ImageSpec, pixels: np.ndarray, key: str) -> tuple[float, ...]:
        """Measure the reference and keep its look under ``key``.

        Raises:
            LookReferenceError: the portrait cannot give a look (one line says why).
        """
        from deepflash_core.look.reference import describe_reference

        if image.dtype == "f32" and not np.isfinite(pixels).all():
            raise InvalidOptionError("The float32 pixels contain NaN or infinity.")
        look = tuple(float(value) for value in describe_reference(pixels).as_vector())  # type: ignore[arg-type]
        with self._lock:
            self.described += 1
            self._kept[key] = look
            self._kept.move_to_end(key)
            while len(self._kept) > self.max_kept:
                self._kept.popitem(last=False)
        return look
