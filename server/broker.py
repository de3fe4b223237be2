"""The front end: one ROUTER socket, answered by the main thread.

``ping`` and ``info`` are answered at once, so they never wait behind a slow ``process``; every request is
validated (header schema, frame count and sizes, image limits) before any work, and a malformed one gets
an error reply. Valid ``process`` and ``look`` requests go to the :class:`~deepflash_server.worker.WorkerPool`; their replies come
back through an inproc socket and leave through the ROUTER.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import zmq

from deepflash_client import protocol
from deepflash_client.errors import DeepFlashError, InvalidOptionError
from deepflash_core import __version__
from . import lifecycle
from .config import ServerConfig
from .looks import check_preset
from .worker import RESULTS_ADDRESS, QueuedRequest, PipelineHolder, WorkerPool

log = logging.getLogger("deepflash.server")

POLL_MS = 100
MAX_BATCH = 256
"""Messages handled per poll round before results get their turn (keeps replies flowing under a flood)."""
SHUTDOWN_GRACE_S = 30.0
REPLY_FLUSH_S = 30.0
"""At shutdown, how long replies already handed to the ROUTER may take to reach their peers (a reply of
tens of MB is still being written when the server is done; closing at once would drop it)."""


class Broker:
    """Owns the sockets and the main loop of one server process."""

    def __init__(self, config: ServerConfig, context: zmq.Context, router: zmq.Socket,
                 holder: PipelineHolder) -> None:
        self.config = config
        self.context = context
        self.router = router
        self.holder = holder
        self.log_file = str(config.log_file)
        self.results = context.socket(zmq.PULL)
        self.results.bind(RESULTS_ADDRESS)
        self.pool = WorkerPool(context, holder, config.workers, config.max_queue, self.log_file)
        self.stop_requested = threading.Event()
        self.started = time.time()
        self.last_request = time.monotonic()  # of a ``process`` request: ping and info do not keep it up
        self.counts = {"requests": 0, "errors": 0}

    def run(self) -> None:
        """Serve until :attr:`stop_requested` is set or the model fails to load."""
        self.pool.start()
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.results, zmq.POLLIN)
        try:
            while not self.stop_requested.is_set():
                events = dict(poller.poll(POLL_MS))
                if self.results in events:
                    self._forward_results()
                if self.router in events:
                    self._serve_requests()
                if self.holder.error is not None and not self.pool.busy and self.pool.jobs.empty():
                    break
                if self.idle_expired():
                    log.info("no request for %.0f s; exiting (idle exit)", self.config.idle_exit_s)
                    break
        finally:
            self._shutdown()

    def idle_expired(self) -> bool:
        """Whether the idle exit is due: no ``process`` request queued, running or received for ``idle_exit_s``
        since the model loaded."""
        if not self.config.idle_exit_s:
            return False
        if self.pool.busy or not self.pool.jobs.empty() or not self.holder.ready.is_set():
            self.last_request = time.monotonic()  # working, or still loading the model: not idle
            return False
        return time.monotonic() - self.last_request >= self.config.idle_exit_s

    def _forward_results(self) -> None:
        for frames in _waiting(self.results):
            self.router.send_multipart(frames, copy=False)

    def _serve_requests(self) -> None:
        for frames in _waiting(self.router):
            self.counts["requests"] += 1
            envelope, body = split_envelope(frames)
            try:
                reply = self.handle(envelope, body)
            except Exception as error:  # no request may end the server: refuse it, and log why for a fix
                log.exception("a request could not be handled")
                self.counts["errors"] += 1
                reply = [protocol.encode_error(protocol.E_INTERNAL, f"The server could not handle this request "
                                               f"({type(error).__name__}).", None, None, self.log_file)]
            if reply is not None:
                self.router.send_multipart(envelope + reply, copy=False)

    def handle(self, envelope: list[Any], body: list[Any]) -> list[Any] | None:
        """The reply frames for one request, or None when a worker will answer."""
        try:
            request = protocol.parse_request(body, self.config.limits)
        except protocol.ProtocolError as error:
            self.counts["errors"] += 1
            request_id = error.request_id or (protocol.request_id_of(body[0]) if body else None)
            return [protocol.encode_error(error.code, str(error), None, request_id, self.log_file)]
        if request.op == protocol.OP_PING:
            return [protocol.encode_reply(request.op, request.request_id, **self.ping_fields())]
        if request.op == protocol.OP_INFO:
            return [protocol.encode_reply(request.op, request.request_id, **self.info_fields())]
        self.last_request = time.monotonic()
        try:
            check_preset(request.options)
        except InvalidOptionError as error:
            self.counts["errors"] += 1
            return [protocol.encode_error(protocol.E_INVALID_OPTION, str(error), request.op, request.request_id,
                                          self.log_file)]
        if self.holder.error is not None:
            return [protocol.encode_error(protocol.E_INTERNAL, str(self.holder.error), request.op,
                                          request.request_id, self.log_file)]
        if not self.pool.submit(QueuedRequest(envelope, request, body[1], time.monotonic())):
            self.counts["errors"] += 1
            return [protocol.encode_error(protocol.E_BUSY, f"The server is busy ({self.config.max_queue} images "
                                          "waiting); try again shortly.", request.op, request.request_id,
                                          self.log_file)]
        return None

    def ping_fields(self) -> dict[str, Any]:
        return {"server": "deepflash", "version": __version__, "protocol": protocol.PROTOCOL_VERSION,
                "pid": os.getpid(), "state": self.holder.state(), "address": self.config.address,
                "limits": self.config.limits.to_dict()}

    def info_fields(self) -> dict[str, Any]:
        pipeline = self.holder.pipeline
        card = getattr(pipeline, "card", None)
        return {
            **self.ping_fields(),
            "device": str(getattr(pipeline, "device", self.config.device)),
            "model": card.to_dict() if hasattr(card, "to_dict") else None,
            "log": self.log_file,
            "uptime_s": round(time.time() - self.started, 1),
            "workers": self.config.workers,
            "queued": self.pool.jobs.qsize(),
            "running": self.pool.busy,
            "requests": dict(self.counts),
            "memory": lifecycle.memory_usage(),
            "curve": self.config.curve_dir is not None,
            "started_by": self.config.started_by,
            "idle_exit_s": self.config.idle_exit_s,
            "references_described": self.pool.looks.described,
        }

    def _shutdown(self) -> None:
        reason = self.holder.error or DeepFlashError("The server is shutting down.")
        code = protocol.E_INTERNAL if self.holder.error else protocol.E_SHUTTING_DOWN
        for job in self.pool.drain():
            self.router.send_multipart(job.envelope + [protocol.encode_error(
                code, str(reason), job.request.op, job.request.request_id, self.log_file)], copy=False)
        self._refuse_unread(code, str(reason))
        self.pool.stop(SHUTDOWN_GRACE_S)
        self._forward_results()
        self.results.close(linger=0)

    def _refuse_unread(self, code: str, reason: str) -> None:
        """Answer the requests ZeroMQ received but the loop had not read yet, so no sender waits in vain.

        Bounded, so a peer that keeps sending cannot hold the shutdown.
        """
        for frames in _waiting(self.router):
            envelope, body = split_envelope(frames)
            request_id = protocol.request_id_of(body[0]) if body else None
            self.router.send_multipart(envelope + [protocol.encode_error(
                code, reason, None, request_id, self.log_file)], copy=False)


def split_envelope(frames: list[Any]) -> tuple[list[Any], list[Any]]:
    """Split a ROUTER message into its routing envelope and body.

    A REQ peer puts an empty delimiter frame after its identity; a DEALER peer may omit it, and then the
    envelope is the identity alone.
    """
    if len(frames) > 1 and len(frames[1]) == 0:
        return frames[:2], frames[2:]
    return frames[:1], frames[1:]


def _waiting(socket: zmq.Socket) -> Iterator[list[Any]]:
    """The messages waiting on ``socket``, at most :data:`MAX_BATCH` (so the loop's other socket gets its turn and
    a peer that keeps sending cannot hold a shutdown), without blocking."""
    for _ in range(MAX_BATCH):
        try:
            yield socket.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return
