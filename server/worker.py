"""Worker threads: turn a validated ``process`` request into reply frames.

Workers decode pixels straight from the received ZeroMQ frame (no copy), run the pipeline while holding
the device lock (one inference at a time on the device), and hand the reply frames to the broker through
an inproc socket, because a ZeroMQ socket must only be used by the thread that owns it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import zmq

from deepflash_client import protocol
from deepflash_client.errors import (DeepFlashError, ImageTooLargeError, InvalidOptionError, LookReferenceError,
                                   NoFaceError, WeightsError)
from .looks import ReferenceLooks

log = logging.getLogger("deepflash.server")

RESULTS_ADDRESS = "inproc://deepflash-results"
MAX_QUEUED_BYTES = 2 << 30
"""Pixel bytes waiting in the queue before new images get ``busy`` (one image is always accepted)."""

_ERROR_CODES: tuple[tuple[type[DeepFlashError], str], ...] = (
    (NoFaceError, protocol.E_NO_FACE),
    (LookReferenceError, protocol.E_BAD_REFERENCE),
    (InvalidOptionError, protocol.E_INVALID_OPTION),
    (ImageTooLargeError, protocol.E_TOO_LARGE),
    (WeightsError, protocol.E_INTERNAL),
)


@dataclass
class QueuedRequest:
    """One ``process`` request waiting for a worker."""

    envelope: list[Any]
    request: protocol.Request
    pixels: Any  # the zmq.Frame holding the pixels
    received: float


class PipelineHolder:
    """The in-process corrector, loaded once in the background; workers wait for it."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.corrector: Any = None  # a deepflash_core.corrector.InProcessCorrector
        self.error: DeepFlashError | None = None

    @property
    def pipeline(self) -> Any:
        """The corrector's pipeline (its card and device), None while it loads."""
        return getattr(self.corrector, "pipeline", None)

    def state(self) -> str:
        if self.error is not None:
            return "failed"
        return "ready" if self.ready.is_set() and self.pipeline is not None else "loading"


class WorkerPool:
    """``workers`` threads draining a bounded job queue."""

    def __init__(self, context: zmq.Context, holder: PipelineHolder, workers: int, max_queue: int,
                 log_file: str, max_queued_bytes: int = MAX_QUEUED_BYTES) -> None:
        self.context = context
        self.holder = holder
        self.jobs: queue.Queue[QueuedRequest | None] = queue.Queue(maxsize=max_queue)
        self.device_lock = threading.Lock()
        self.log_file = log_file
        self.max_queued_bytes = max_queued_bytes
        self.busy = 0
        self.queued_bytes = 0
        self.looks = ReferenceLooks()
        self._count_lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, name=f"deepflash-worker-{i}", daemon=True)
                         for i in range(max(1, workers))]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, job: QueuedRequest) -> bool:
        """Queue a job; False when the queue is full or holds too many bytes already."""
        size = len(job.pixels)
        with self._count_lock:
            if self.queued_bytes and self.queued_bytes + size > self.max_queued_bytes:
                return False
            try:
                self.jobs.put_nowait(job)
            except queue.Full:
                return False
            self.queued_bytes += size
        return True

    def drain(self) -> list[QueuedRequest]:
        """Remove and return the jobs nobody started yet."""
        left = []
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return left
            if job is not None:
                left.append(job)

    def stop(self, grace_s: float) -> None:
        """Let running jobs finish (up to ``grace_s``) and end the threads."""
        for _ in self._threads:
            self.jobs.put(None)
        deadline = time.monotonic() + grace_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def alive(self) -> bool:
        """True while some worker thread still runs (stuck in a long inference after :meth:`stop`)."""
        return any(thread.is_alive() for thread in self._threads)

    def _run(self) -> None:
        results = self.context.socket(zmq.PUSH)
        results.setsockopt(zmq.LINGER, 1000)
        results.connect(RESULTS_ADDRESS)
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                with self._count_lock:
                    self.busy += 1
                    self.queued_bytes -= len(job.pixels)
                try:
                    frames = self.handle(job)
                finally:
                    with self._count_lock:
                        self.busy -= 1
                results.send_multipart(job.envelope + frames, copy=False)
        finally:
            results.close()

    def handle(self, job: QueuedRequest) -> list[Any]:
        """Reply frames for one job; every failure becomes an error reply."""
        request = job.request
        try:
            if request.op == protocol.OP_LOOK:
                return _look(job, self.holder, self.device_lock, self.looks)
            return _process(job, self.holder, self.device_lock)
        except DeepFlashError as error:
            code = next((code for kind, code in _ERROR_CODES if isinstance(error, kind)), protocol.E_BAD_REQUEST)
            log.info("request %s: %s (%s)", request.request_id, code, error)
            return [protocol.encode_error(code, str(error), request.op, request.request_id, self.log_file)]
        except Exception:
            log.exception("request %s failed", request.request_id)
            return [protocol.encode_error(protocol.E_INTERNAL, "The server failed on this image; the log has "
                                          "the details.", request.op, request.request_id, self.log_file)]


def _pixels(job: QueuedRequest) -> np.ndarray:
    image = job.request.image
    if image is None:
        raise RuntimeError(f"a {job.request.op} job without an image spec")
    pixels = np.frombuffer(job.pixels.buffer, dtype=protocol.NUMPY_DTYPES[image.dtype])
    return pixels.reshape(image.height, image.width, image.channels)


def _look(job: QueuedRequest, holder: PipelineHolder, device_lock: threading.Lock, looks: ReferenceLooks) -> list[Any]:
    """The reply to ``look``: the reference's look, from the cache when these pixels were described before."""
    request, image = job.request, job.request.image
    key = protocol.reference_key(image, job.pixels)  # type: ignore[arg-type]
    look = looks.cached(key)
    cached = look is not None
    if look is None:
        holder.ready.wait()  # the face models load with the pipeline
        if holder.error is not None:
            raise holder.error
        with device_lock:  # one face detection at a time, as in process
            look = looks.describe(image, _pixels(job), key)  # type: ignore[arg-type]
    return [protocol.encode_reply(request.op, request.request_id, look=list(look), cached=cached)]


def _process(job: QueuedRequest, holder: PipelineHolder, device_lock: threading.Lock) -> list[Any]:
    request, image = job.request, job.request.image
    started = time.perf_counter()
    queued_s = time.monotonic() - job.received
    pixels = _pixels(job)
    if image.dtype == "f32" and not np.isfinite(pixels).all():
        raise InvalidOptionError("The float32 pixels contain NaN or infinity.")
    waiting = time.perf_counter()
    decoded_s = waiting - started
    holder.ready.wait()  # a request that arrives while the model loads waits for it
    if holder.error is not None:
        raise holder.error
    with device_lock:
        locked = time.perf_counter()
        result = holder.corrector.correct(pixels, request.options)
        inference_s = time.perf_counter() - locked
    waited_s = locked - waiting
    out = np.ascontiguousarray(result.pixels, dtype=pixels.dtype.newbyteorder("<"))
    if out.shape != pixels.shape:
        raise RuntimeError(f"pipeline returned shape {out.shape} for {pixels.shape}")
    summary = result.summary()
    summary.timings = {"queue": queued_s + waited_s, "decode": decoded_s, **summary.timings, "pipeline": inference_s}
    summary.timings["server_total"] = queued_s + time.perf_counter() - started
    matte_frames = _matte_frames(result.matte, pixels.shape[:2]) if request.options.with_matte else []
    matte_field = {"matte": True} if matte_frames else {}
    header = protocol.encode_reply(request.op, request.request_id, width=image.width, height=image.height,
                                   channels=image.channels, dtype=image.dtype, **summary.to_fields(), **matte_field)
    return [header, memoryview(out).cast("B"), *matte_frames]


def _matte_frames(matte: np.ndarray | None, shape: tuple[int, ...]) -> list[Any]:
    """The matte as the reply's third frame (``height × width`` bytes), or nothing when there is none."""
    if matte is None:
        return []
    if matte.shape != shape or matte.dtype != np.uint8:
        raise RuntimeError(f"pipeline returned a {matte.dtype} matte of shape {matte.shape} for {shape}")
    return [memoryview(np.ascontiguousarray(matte)).cast("B")]
