"""Where a correction runs: the pipeline in this process, or a DeepFlash server.

Both take the same pixels and :class:`~deepflash_client.options.Options` and give back the same
:class:`~deepflash_core.result.Result`, so the command line, the web page and the server's workers do
not care which one they hold.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from deepflash_client.options import Options
from deepflash_core.result import ProgressCallback, Result

if TYPE_CHECKING:
    from deepflash_core.detection.child import ChildDetection


class Corrector(Protocol):
    """Anything that corrects a photo; ``description`` says where it runs (for messages)."""

    description: str

    def correct(self, pixels: np.ndarray, options: Options, progress: ProgressCallback | None = None) -> Result: ...


class InProcessCorrector:
    """Runs :class:`deepflash_core.pipeline.Pipeline` in this process (the model stays loaded).

    Given a :class:`~deepflash_core.detection.child.ChildDetection` (started before the model loaded), the
    first photo corrected uses its detection when it was made of exactly that photo's pixels and options.
    """

    def __init__(self, pipeline: Any, description: str = "in this process", ahead: ChildDetection | None = None) -> None:
        self.pipeline = pipeline
        self.description = description
        self._ahead = ahead
        self._ahead_lock = threading.Lock()

    @classmethod
    def load(cls, weights: str | Path | None = None, device: str = "auto", mixed_precision: bool = False,
             ahead: ChildDetection | None = None) -> InProcessCorrector:
        """Load the pipeline once; raises ``WeightsError`` when the weights are missing or do not match.

        ``ahead`` is stopped when loading fails.
        """
        try:
            from deepflash_core.pipeline import Pipeline

            pipeline = Pipeline.load(weights=weights, device=device, mixed_precision=mixed_precision)
        except BaseException:
            if ahead is not None:
                ahead.close()
            raise
        return cls(pipeline, description=f"in this process ({pipeline.device})", ahead=ahead)

    def warm_up(self) -> None:
        """Load the face detector's models and run the network once, so the first photo does not wait."""
        from deepflash_core.detection.faces import detect_faces

        grey = np.full((64, 64, 3), 128, np.uint8)
        detect_faces(grey)
        self.pipeline.process(grey, Options(whole_image=True))

    def correct(self, pixels: np.ndarray, options: Options, progress: ProgressCallback | None = None) -> Result:
        with self._ahead_lock:
            ahead, self._ahead = self._ahead, None
        detection = ahead.result(pixels, options) if ahead is not None else None
        return self.pipeline.process(pixels, options, progress=progress, detection=detection)


class ServerCorrector:
    """Sends the pixels to a DeepFlash server through :class:`deepflash_client.zmq_client.DeepFlashClient`.

    A ZeroMQ socket must not be shared between threads and a web page may serve several people at
    once, so each thread gets its own client.
    """

    def __init__(self, address: str, timeout_s: float = 300.0, retries: int = 1) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.retries = retries
        self.description = f"on the DeepFlash server at {address}"
        self._local = threading.local()

    def client(self) -> Any:
        """This thread's client, created on first use."""
        client = getattr(self._local, "client", None)
        if client is None:
            from deepflash_client.zmq_client import DeepFlashClient

            client = DeepFlashClient(address=self.address, timeout_s=self.timeout_s, retries=self.retries)
            self._local.client = client
        return client

    def ping(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """Ask the server whether it is there (one try); raises ``ServerUnavailableError`` when nothing answers."""
        from deepflash_client.zmq_client import DeepFlashClient

        with DeepFlashClient(address=self.address, timeout_s=timeout_s, retries=0, ping_timeout_s=timeout_s) as client:
            return dict(client.ping(fail_fast=True))

    def correct(self, pixels: np.ndarray, options: Options, progress: ProgressCallback | None = None) -> Result:
        if progress is not None:
            progress("send", 0.1)
        corrected, reply = self.client().process_array(pixels, options)
        matte = None
        if reply.matte is not None:
            matte = np.frombuffer(reply.matte, np.uint8).reshape(pixels.shape[:2])
        if progress is not None:
            progress("done", 1.0)
        return Result.from_summary(corrected, reply.summary, matte)


def open_corrector(server: str | None = None, *, weights: str | Path | None = None, device: str = "auto",
                   mixed_precision: bool = False, ahead: ChildDetection | None = None, timeout_s: float = 300.0,
                   retries: int = 1) -> Corrector:
    """The one place that chooses where corrections run: the DeepFlash server at ``server`` (asked once that it
    is there, so a missing server fails before any photo), else the pipeline loaded in this process.

    ``weights``, ``device``, ``mixed_precision`` and ``ahead`` are the in-process pipeline's (see
    :meth:`InProcessCorrector.load`; ``ahead`` is closed when a server is used); ``timeout_s`` and ``retries``
    the server client's.
    """
    if server:
        if ahead is not None:
            ahead.close()
        corrector = ServerCorrector(server, timeout_s=timeout_s, retries=retries)
        corrector.ping()
        return corrector
    return InProcessCorrector.load(weights=weights, device=device, mixed_precision=mixed_precision, ahead=ahead)
