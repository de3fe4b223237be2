"""``deepflash web``: serve the DeepFlash page in a browser."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; 0.0.0.0 serves the local network.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port to listen on  [default: first free port from 7860]")
@click.option("--server", "--address", "server_address", metavar="ADDR", default=None,
              help="Use a running DeepFlash server (e.g. tcp://127.0.0.1:5557) instead of loading the model here.")
@click.option("--weights", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Weights file for the in-process model  [default: the bundled weights]")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps (in-process model).")
@click.option("--concurrency", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Photos corrected at the same time; the others wait in the queue.")
@click.option("--queue-size", type=click.IntRange(1, 1000), default=16, show_default=True,
              help="Requests that may wait; more are turned away.")
@click.option("--max-megapixels", type=click.FloatRange(0.1, 120), default=50.0, show_default=True,
              help="Largest photo accepted.")
@click.option("--max-upload-mb", type=click.IntRange(1, 2000), default=100, show_default=True,
              help="Largest upload accepted.")
def web(host: str, port: int | None, server_address: str | None, weights: Path | None, device: str,
        concurrency: int, queue_size: int, max_megapixels: float, max_upload_mb: int) -> None:
    """Serve the DeepFlash page: upload a flash portrait, compare before/after, download the result."""
    from deepflash_core.corrector import InProcessCorrector, open_corrector
    from deepflash_web.service import CorrectionService

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    corrector = open_corrector(server_address, weights=weights, device=device)  # a missing server fails now
    if isinstance(corrector, InProcessCorrector):
        corrector.warm_up()
    service = CorrectionService(corrector, max_megapixels=max_megapixels)
    from deepflash_app import examples
    from deepflash_web.app import build_app, launch_app  # Gradio takes seconds to import: only once the model is ready

    demo = build_app(service, concurrency=concurrency, queue_size=queue_size, examples=examples.photos())
    click.echo(f"DeepFlash page: correcting {corrector.description}. Ctrl+C stops it.")
    # Ctrl+C and a service manager's SIGTERM both end the page, also when it was started from a script that
    # runs it in the background, where SIGINT arrives ignored (as the server does for both).
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _interrupt)
    try:
        launch_app(demo, host=host, port=port, max_upload_mb=max_upload_mb, block=True,
                   allowed_paths=[examples.FOLDER])
    finally:
        service.close()  # the full-resolution results go with the page


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
