"""One server process from start to clean exit."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import zmq

from deepflash_client import protocol
from deepflash_client.errors import DeepFlashError
from deepflash_core import __version__
from . import lifecycle, security
from .broker import REPLY_FLUSH_S, SHUTDOWN_GRACE_S, Broker
from .config import ServerConfig
from .worker import PipelineHolder

log = logging.getLogger("deepflash.server")


class ServerStartError(DeepFlashError):
    """The server could not start (the message names the log file)."""


def run(config: ServerConfig, announce: Any = print) -> int:
    """Serve ``config.address`` until SIGINT/SIGTERM; return the exit code.

    When a DeepFlash server already answers there, say so and return 0 (it is reused).

    Raises:
        DeepFlashError: a refused bind address, a port held by something else, or weights that do not load;
            the message names the log file.
    """
    lifecycle.setup_logging(config.log_file)
    try:
        security.check_bind(config.address, config.curve_dir)
    except DeepFlashError as error:
        log.error("%s", error)
        raise ServerStartError(f"{error} (server log: {config.log_file})") from None
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 1000)
    router.setsockopt(zmq.MAXMSGSIZE, config.limits.max_message_bytes)
    router.setsockopt(zmq.RCVHWM, 100)
    if ":" in (security.bind_host(config.address) or ""):
        router.setsockopt(zmq.IPV6, 1)
    authenticator = None
    try:
        if config.curve_dir is not None:
            authenticator = security.enable_curve(context, router, config.curve_dir)
        running = lifecycle.bind(router, config.address, config.pid_file, config.replace)
        if running is not None:
            announce(f"A DeepFlash server (pid {running.get('pid')}) already answers at {config.address}; "
                     f"reusing it. Log: {config.log_file}")
            return 0
        return _serve(config, context, router)
    except DeepFlashError as error:
        log.error("%s", error)
        raise ServerStartError(f"{error} (server log: {config.log_file})") from None
    finally:
        router.close(linger=int(REPLY_FLUSH_S * 1000))  # replies already sent still leave
        if authenticator is not None:
            authenticator.stop()
        context.term()


def _serve(config: ServerConfig, context: zmq.Context, router: zmq.Socket) -> int:
    lifecycle.write_pid_file(config.pid_file, config.address, config.started_by, config.idle_exit_s)
    holder = PipelineHolder()
    broker = Broker(config, context, router, holder)
    lifecycle.on_termination(broker.stop_requested.set)
    log.info("deepflash %s serving %s (protocol %d, pid %d, %d workers, limits %s; %s)", __version__,
             config.address, protocol.PROTOCOL_VERSION, os.getpid(), config.workers, config.limits.to_dict(),
             lifecycle.describe_origin(config.started_by, config.idle_exit_s))
    loader = threading.Thread(target=_load, args=(config, holder), name="deepflash-loader", daemon=True)
    loader.start()
    try:
        broker.run()
    finally:
        # Exiting while the loader is inside torch aborts the process, so let it finish first.
        loader.join(SHUTDOWN_GRACE_S)
        lifecycle.remove_pid_file(config.pid_file)
        log.info("stopped (%d requests, %d refused)", broker.counts["requests"], broker.counts["errors"])
        if loader.is_alive() or broker.pool.alive():
            # A thread stuck in inference would make context.term() wait forever: leave at once.
            log.warning("a thread was still busy after %.0f s; exiting without it", SHUTDOWN_GRACE_S)
            logging.shutdown()
            os._exit(1)
    if holder.error is not None:
        raise holder.error
    return 0


def _load(config: ServerConfig, holder: PipelineHolder) -> None:
    """Load the model in the background, so ``ping`` answers while it loads."""
    started = time.perf_counter()
    try:
        from deepflash_core.corrector import open_corrector

        holder.corrector = open_corrector(weights=config.weights, device=config.device)
    except DeepFlashError as error:
        holder.error = error
        log.error("model not loaded: %s", error)
    except Exception as error:  # keep serving error replies instead of hanging clients
        holder.error = DeepFlashError(f"The model failed to load: {type(error).__name__}: {error}")
        log.exception("model not loaded")
    else:
        card = getattr(holder.pipeline, "card", None)
        log.info("model %s (%s) loaded on %s in %.1f s", getattr(card, "name", "?"), config.weights or "default",
                 getattr(holder.pipeline, "device", config.device), time.perf_counter() - started)
    finally:
        holder.ready.set()
