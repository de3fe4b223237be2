"""Where the correction runs: the core pipeline in this process, or a running DeepFlash server.

Both backends take and return the same pixels (``(H, W, 3|4)`` uint8/uint16/float32, alpha untouched),
so the page does not care which one it talks to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

Box = tuple[int, int, int, int]
ProgressCallback = Callable[[float, str], None]
"""``progress(fraction in [0, 1], what is happening)``."""

# The pipeline's progress stages, as the page words them.
_STAGES: dict[str, str] = {
    "detect": "Finding faces",
    "filter": "Smoothing the face crops",
    "network": "Predicting the flash correction",
    "prepare": "Preparing the face crops",
    "upsample": "Bringing the correction to full resolution",
    "blend": "Blending the corrected faces in",
    "done": "Corrected",
}


@dataclass(frozen=True)
class Correction:
    """A corrected photo and what was found on the way.

    Attributes:
        pixels: same shape and dtype as the input.
        boxes: one ``(left, top, right, bottom)`` detector box per corrected face, in image pixels.
        timings: seconds per stage, as reported by the pipeline.
        warnings: one-line notes worth showing to the user.
    """

    pixels: np.ndarray
    boxes: list[Box] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class Corrector(Protocol):
    """Anything that can correct a photo; ``description`` says where it runs (shown on the page)."""

    description: str

    def correct(
        self, pixels: np.ndarray, strength: float, whole_image: bool, progress: ProgressCallback | None = None
    ) -> Correction: ...


class InProcessCorrector:
    """Runs :class:`deepflash_core.pipeline.Pipeline` in this process (the model stays loaded)."""

    def __init__(self, pipeline: Any, description: str = "in this process") -> None:
        self.pipeline = pipeline
        self.description = description

    @classmethod
    def load(cls, weights: Path | None = None, device: str = "auto") -> InProcessCorrector:
        """Load the pipeline once; raises ``WeightsError`` when the weights are missing or do not match."""
        from deepflash_core.pipeline import Pipeline

        pipeline = Pipeline.load(weights=weights, device=device)
        return cls(pipeline, description=f"in this process ({pipeline.device})")

    def warm_up(self) -> None:
        """Load the face detector's models and run the network once, so the first visitor does not wait."""
        from deepflash_core.faces import detect_faces
        from deepflash_core.pipeline import Options

        grey = np.full((64, 64, 3), 128, np.uint8)
        detect_faces(grey)
        self.pipeline.process(grey, Options(whole_image=True))

    def correct(
        self, pixels: np.ndarray, strength: float, whole_image: bool, progress: ProgressCallback | None = None
    ) -> Correction:
        from deepflash_core.pipeline import Options

        def report(stage: str, fraction: float) -> None:
            if progress is not None:
                progress(fraction, _STAGES.get(stage, stage))

        result = self.pipeline.process(pixels, Options(strength=strength, whole_image=whole_image), progress=report)
        return Correction(
            pixels=result.pixels,
            boxes=[_box(face.box) for face in result.faces],
            timings=dict(result.timings),
            warnings=list(result.warnings),
        )


class ServerCorrector:
    """Sends the pixels to a DeepFlash server through :class:`deepflash_core.client.DeepFlashClient`.

    A ZeroMQ socket must not be shared between threads and the page may serve several people at
    once, so each worker thread gets its own client.
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
            from deepflash_core.client import DeepFlashClient

            client = DeepFlashClient(address=self.address, timeout_s=self.timeout_s, retries=self.retries)
            self._local.client = client
        return client

    def ping(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """Ask the server whether it is there (one try); raises ``ServerUnavailableError`` when nothing answers."""
        from deepflash_core.client import DeepFlashClient

        with DeepFlashClient(address=self.address, timeout_s=timeout_s, retries=0, ping_timeout_s=timeout_s) as client:
            return dict(client.ping())

    def correct(
        self, pixels: np.ndarray, strength: float, whole_image: bool, progress: ProgressCallback | None = None
    ) -> Correction:
        if progress is not None:
            progress(0.1, "Sending the photo to the server")
        corrected, reply = self.client().process_array(pixels, strength=strength, whole_image=whole_image)
        return Correction(
            pixels=corrected,
            boxes=[_box(face["box"]) for face in reply.faces],
            timings=dict(reply.timings),
            warnings=list(reply.warnings),
        )


def _box(values: Any) -> Box:
    left, top, right, bottom = (int(round(v)) for v in values)
    return left, top, right, bottom
