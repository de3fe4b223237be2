"""Detect a photo in a child process while this process imports torch and loads the model.

A cold ``deepflash process`` spends most of its time importing torch, and the photo's detection
(dlib's 68-point predictor, MediaPipe's segmentation and mesh models, the detection itself) needs none of it. Loading
them in a thread does not overlap with the torch import: both hold the interpreter lock most of the
time. A second process does, on a second core. The child reads the photo itself, detects it
(:func:`deepflash_core.detection.detect.detect`) and sends the :class:`~deepflash_core.detection.detect.Detection`
back with a digest of the pixels it read; the parent uses it only for exactly those pixels and options.

Anything that goes wrong in the child (an unreadable photo, no face, a crash, a result that does not
pickle, no answer in time) makes :meth:`ChildDetection.result` return None, and the caller detects in its own process,
where the same problem is reported exactly as it would have been without the child.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepflash_client.options import Options

if TYPE_CHECKING:  # for annotations only: detection's modules are imported where they are used, below
    from deepflash_core.detection.detect import Detection

# Modules that start native thread pools a forked child would not have.
_THREAD_POOLS = ("torch", "cv2")
# A child that has not answered by then is stuck (a photo takes seconds at most); the parent detects itself.
ANSWER_TIMEOUT_S = 120.0


class ChildDetection:
    """A detection running in a child process; :meth:`result` waits for it (once).

    A thread receives the answer as soon as the child sends it: a detection of a few megabytes does not
    fit in a pipe's buffer, and a child left blocked on a full pipe would otherwise be woken and scheduled
    once per chunk only after this process asks for the answer, which a busy machine makes slow. The
    thread spends its time waiting in the read, without the interpreter lock.
    """

    def __init__(self, process: Any, connection: Connection, options: Options) -> None:
        self._process = process
        self._connection = connection
        self._options = options
        self._answer: Any = None
        self._received = threading.Event()
        threading.Thread(target=self._receive, name="deepflash-detect-answer", daemon=True).start()

    def _receive(self) -> None:
        try:
            self._answer = self._connection.recv()  # EOFError when the child ended without answering
        except Exception:
            self._answer = None
        finally:
            self._received.set()

    @classmethod
    def start(cls, path: Path | str, options: Options) -> ChildDetection | None:
        """Start detecting the photo at ``path`` with ``options``; None when no child process can be started."""
        method = start_method()
        if method == "fork":
            # This process imports detection's modules (OpenCV among them) later anyway; importing them
            # before forking (none starts a thread until used) spares the child its own import.
            import deepflash_core.detection.detect  # noqa: F401
        context = multiprocessing.get_context(method)
        try:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=detect_file, args=(str(path), options, sender),
                                      name="deepflash-detect", daemon=True)
            process.start()
        except Exception:  # no processes allowed here, no file descriptors left, ...
            return None
        sender.close()  # the child holds the only writing end: its exit reads as the end of the pipe
        return cls(process, receiver, options)

    def result(self, pixels: np.ndarray, options: Options) -> Detection | None:
        """The child's detection if it made one of exactly ``pixels`` with ``options``; else None."""
        try:
            if options != self._options or not self._received.wait(ANSWER_TIMEOUT_S) or self._answer is None:
                return None
            digest, detection = self._answer
            return detection if digest == pixel_digest(pixels) else None
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child if it still runs (it has nothing left to do once it answered)."""
        if self._process.is_alive() and not self._received.is_set():
            self._process.terminate()


def start_method() -> str:
    """``fork`` at the start of a process on a platform that forks by default, else ``spawn``.

    A forked child starts at once with this process's imports, but inherits no threads: it would wait
    forever on a lock another thread held, or on the thread pools of torch (OpenMP) or OpenCV. So it
    forks only while one thread runs and neither of those is imported.
    """
    default = multiprocessing.get_all_start_methods()[0]
    pristine = threading.active_count() == 1 and not any(name in sys.modules for name in _THREAD_POOLS)
    return "fork" if default == "fork" and pristine else "spawn"


def pixel_digest(pixels: np.ndarray) -> tuple[tuple[int, ...], str, bytes]:
    """Shape, dtype and a hash of the pixels: whether two reads of a photo gave the same array."""
    contiguous = np.ascontiguousarray(pixels)
    return contiguous.shape, contiguous.dtype.str, hashlib.sha1(contiguous.data, usedforsecurity=False).digest()


def detect_file(path: str, options: Options, connection: Connection) -> None:
    """The child's work: read the photo, detect it, send ``(digest, detection)`` or None. Prints nothing."""
    # Silenced for the child's whole life: native libraries' notes (OpenCV's, dlib's) must not reach the
    # user's terminal from a process whose work is invisible. What goes wrong here is reported by the
    # parent, which detects the photo itself.
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
    except OSError:  # no standard error to protect
        pass
    answer: Any = None
    try:
        from deepflash_core.detection.detect import detect
        from deepflash_core.imageio import load_photo

        pixels = load_photo(path).pixels
        answer = (pixel_digest(pixels), detect(pixels, options))
    except BaseException:  # the parent detects the photo itself and reports what goes wrong there
        answer = None
    try:
        try:
            connection.send(answer)
        except Exception:  # the detection did not pickle: say so instead
            connection.send(None)
        connection.close()
    except BaseException:  # the parent is gone: nobody to answer
        pass
