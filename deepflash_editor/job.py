"""One request from an editor to the DeepFlash server, with every outcome turned into a message.

The editors only read pixels, call :func:`run_job`, and either write ``Outcome.pixels`` as a new
layer or show ``Outcome.message``. Turning every failure into a message, checking the reply's shape
and logging happen here, the same way for GIMP and Krita; the client starts the server when allowed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from deepflash_client.client_base import ProcessReply
from deepflash_client.errors import DeepFlashError, ServerError, ServerStartError, ServerUnavailableError
from deepflash_client.options import Options
from deepflash_client.protocol import DTYPE_SIZES, E_BAD_REFERENCE, E_NO_FACE
from deepflash_editor import messages
from deepflash_editor.looks import Reference, reference_look

T = TypeVar("T")


class ProcessingClient(Protocol):
    """The part of ``deepflash_client.zmq_client.DeepFlashClient`` a job uses."""

    def process(self, pixels: Any, *, width: int, height: int, channels: int, dtype: str,
                options: Options) -> ProcessReply: ...


@dataclass(frozen=True)
class CorrectionJob:
    """Pixels to correct: packed R,G,B(,A) samples of ``dtype``, row-major, no padding.

    With a ``reference`` (the layer the user chose for the look), its look is asked for first and sent as
    ``options.look``.
    """

    pixels: bytes
    width: int
    height: int
    channels: int
    dtype: str
    options: Options = field(default_factory=Options)
    reference: Reference | None = None

    def check(self) -> None:
        """Raise ``ValueError`` when the buffer does not match the declared shape."""
        expected = self.width * self.height * self.channels * DTYPE_SIZES[self.dtype]
        if len(self.pixels) != expected:
            raise ValueError(f"{len(self.pixels)} bytes for {self.width}×{self.height}×{self.channels} "
                             f"{self.dtype} (expected {expected})")


@dataclass(frozen=True)
class Outcome:
    """What happened: when ``ok``, the server's ``reply`` (its pixels, as bytes, in the job's layout; its matte,
    one byte per pixel, only when the job asked for it and the server made one; its summary); else ``message``
    says what went wrong."""

    ok: bool
    code: str  # "ok", "no_face", "bad_reference", "server_down", "start_failed", "server_error", "unexpected"
    message: str
    reply: ProcessReply | None = None
    seconds: float = 0.0

    @property
    def pixels(self) -> bytes | None:
        return None if self.reply is None else bytes(self.reply.pixels)  # already bytes: no copy

    @property
    def matte(self) -> bytes | None:
        return None if self.reply is None else self.reply.matte

    @property
    def faces(self) -> int:
        """How many faces were corrected (the one pseudo-face in whole-image mode)."""
        return 0 if self.reply is None else len(self.reply.summary.faces)

    @property
    def warnings(self) -> list[str]:
        return [] if self.reply is None else list(self.reply.summary.warnings)


@dataclass
class Context:
    """How a job reaches the server and reports.

    Attributes:
        address: the server's ZeroMQ address.
        connect: makes a client for an address (see ``deepflash_editor.connection.client_factory``), which
            starts the server itself when it is allowed to.
        can_start: whether this plug-in knows how to start a server (for the message when none answers).
        log: the plug-in's logger; ``log_path`` its file, named in every failure message.
        whole_image_hint: how to switch to whole-image mode in this editor, for the no-face message.
        wait: runs a blocking call; editors pass one that keeps their progress bar alive.
        caller: runs dialogs asked for during ``wait`` in this (the UI) thread; see :class:`CallerThread`.
    """

    address: str
    connect: Callable[[str], ProcessingClient]
    can_start: bool
    log: logging.Logger
    log_path: Path
    whole_image_hint: str
    wait: Callable[[Callable[[], Any]], Any] = lambda call: call()
    caller: CallerThread | None = None


def run_job(job: CorrectionJob, context: Context, layer_name: str = "") -> Outcome:
    """Send ``job`` to the server and explain any failure.

    Never raises for a failure a user can meet; unforeseen exceptions are logged with their
    traceback and returned as an ``unexpected`` outcome.
    """
    log = context.log
    started = time.monotonic()
    log.info("job %dx%dx%d %s %s address=%s", job.width, job.height, job.channels, job.dtype, job.options,
             context.address)
    try:
        job.check()
        reply = _send(job, context)
    except ServerStartError as error:
        log.error("server start failed: %s", error)
        return Outcome(False, "start_failed", messages.server_start_failed(context.address, str(error), context.log_path))
    except ServerUnavailableError as error:
        log.warning("server unavailable: %s", error)
        return Outcome(False, "server_down", messages.server_down(context.address, context.log_path, context.can_start))
    except ServerError as error:
        log.warning("server error %s: %s", error.code, error)
        if error.code == E_NO_FACE:
            return Outcome(False, "no_face", messages.no_face(context.whole_image_hint))
        if error.code == E_BAD_REFERENCE:
            return Outcome(False, "bad_reference", messages.bad_reference(str(error), context.log_path))
        return Outcome(False, "server_error", messages.server_failed(str(error), context.log_path))
    except DeepFlashError as error:
        log.error("failed: %s", error)
        return Outcome(False, "server_error", messages.server_failed(str(error), context.log_path))
    except Exception as error:  # a front end never shows a traceback; the log keeps it
        log.exception("unexpected error")
        return Outcome(False, "unexpected", messages.unexpected(error, context.log_path))

    seconds = time.monotonic() - started
    problem = _reply_mismatch(job, reply)
    if problem:
        log.error("bad reply: %s", problem)
        return Outcome(False, "unexpected", messages.server_failed(problem, context.log_path))
    summary = reply.summary
    for warning in summary.warnings:
        log.warning("server: %s", warning)
    log.info("done: %d face(s) in %.2f s; server timings %s", len(summary.faces), seconds, summary.timings)
    message = messages.done(len(summary.faces), job.options.whole_image, seconds, layer_name)
    # the editors' layer calls take bytes; a received frame is a read-only view
    return Outcome(True, "ok", message, replace(reply, pixels=bytes(reply.pixels)), seconds)


def _send(job: CorrectionJob, context: Context) -> ProcessReply:
    client = context.connect(context.address)

    def send() -> Any:
        options = job.options
        if job.reference is not None:
            options = replace(options, look=reference_look(client, job.reference))
            context.log.info("reference look %s", options.look)
        return client.process(job.pixels, width=job.width, height=job.height, channels=job.channels,
                              dtype=job.dtype, options=options)

    try:
        return context.wait(send)
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()


def _reply_mismatch(job: CorrectionJob, reply: ProcessReply) -> str:
    shape, asked = astuple(reply.image), (job.width, job.height, job.channels, job.dtype)
    if shape != asked:
        return f"the reply is {shape}, the request was {asked}"
    if len(reply.pixels) != len(job.pixels):
        return f"the reply has {len(reply.pixels)} bytes of pixels, expected {len(job.pixels)}"
    if reply.matte is not None and len(reply.matte) != job.width * job.height:
        return f"the reply's matte has {len(reply.matte)} bytes, expected {job.width * job.height}"
    return ""


class CallerThread:
    """Lets a worker thread run a function in the thread that made this object (the UI thread).

    The client asks whether it may start a server from the thread that waits for the server; a dialog
    must be shown from the UI thread, which serves the question while it waits (:func:`call_with_heartbeat`).
    """

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        self.calls: queue.Queue[tuple[Callable[[], Any], dict[str, Any], threading.Event]] = queue.Queue()

    def wrap(self, function: Callable[[], T]) -> Callable[[], T]:
        """``function`` made callable from any thread; it always runs in the UI thread."""

        def call() -> T:
            if threading.get_ident() == self.ident:
                return function()
            box: dict[str, Any] = {}
            done = threading.Event()
            self.calls.put((function, box, done))
            done.wait()
            if "error" in box:
                raise box["error"]
            return box["value"]

        return call

    def serve(self) -> None:
        """Run the calls waiting for this thread."""
        while True:
            try:
                function, box, done = self.calls.get_nowait()
            except queue.Empty:
                return
            try:
                box["value"] = function()
            except BaseException as error:  # handed over to the waiting thread
                box["error"] = error
            finally:
                done.set()


def call_with_heartbeat(call: Callable[[], T], beat: Callable[[], None], interval_s: float = 0.2,
                        caller: CallerThread | None = None) -> T:
    """Run a blocking ``call`` in a worker thread, calling ``beat`` in this thread meanwhile.

    GIMP's progress bar only moves when the plug-in's main thread talks to GIMP, so the
    request waits in a thread while the main thread pulses the bar (and answers ``caller``'s calls).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as error:  # handed over to the caller's thread below
            box["error"] = error

    worker = threading.Thread(target=target, name="deepflash-request", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(interval_s)
        if caller is not None:
            caller.serve()
        if worker.is_alive():
            beat()
    if "error" in box:
        raise box["error"]
    return box["value"]
