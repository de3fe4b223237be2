"""``deepflash serve``, ``deepflash status`` and ``deepflash stop``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from deepflash_client import protocol, state_files
from deepflash_client.errors import ServerUnavailableError
from deepflash_client.zmq_client import DeepFlashClient


@click.command()
@click.option("--bind", "address", default=protocol.DEFAULT_ADDRESS, show_default=True,
              help="ZeroMQ endpoint. Beyond loopback only with --curve-dir.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--weights", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Weights file (.safetensors with its .json card); default: the installed model.")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True,
              help="Threads preparing requests; inference runs one image at a time on the device.")
@click.option("--max-queue", type=click.IntRange(1, 1000), default=16, show_default=True,
              help="Images waiting before new ones are refused as busy.")
@click.option("--max-pixels", type=click.IntRange(1), default=protocol.DEFAULT_MAX_PIXELS, show_default=True,
              help="Largest image accepted (width x height); larger messages are dropped unread.")
@click.option("--max-side", type=click.IntRange(1), default=protocol.DEFAULT_MAX_SIDE, show_default=True,
              help="Largest width or height accepted.")
@click.option("--curve-dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="CURVE keys (see --generate-keys); required to bind beyond loopback.")
@click.option("--generate-keys", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Create server and client CURVE keys in this directory and exit.")
@click.option("--replace", is_flag=True, help="Stop a DeepFlash server that holds the port but does not answer.")
@click.option("--idle-exit", "idle_exit_min", type=click.FloatRange(0, min_open=True), default=None, metavar="MINUTES",
              help="Exit after this many minutes without an image to correct (default: stay until stopped).")
@click.option("--started-by", type=click.Choice([state_files.STARTED_BY_USER, state_files.STARTED_BY_CLIENT]),
              default=state_files.STARTED_BY_USER, hidden=True, help="Who started the server (set by auto-start).")
def serve(address: str, device: str, weights: Path | None, workers: int, max_queue: int, max_pixels: int,
          max_side: int, curve_dir: Path | None, generate_keys: Path | None, replace: bool,
          idle_exit_min: float | None, started_by: str) -> None:
    """Serve DeepFlash on a ZeroMQ socket, keeping the model loaded.

    Stops cleanly on Ctrl-C, SIGTERM or `deepflash stop`. The log file is named in every error message.
    """
    from deepflash_server import app, security
    from deepflash_server.config import ServerConfig

    if generate_keys is not None:
        directory = security.generate_keys(generate_keys)
        click.echo(f"Keys written to {directory}. Serve with --curve-dir {directory}; clients need "
                   f"{directory / 'server.key'} and {directory / 'client.key_secret'}.")
        return
    config = ServerConfig(address=address, device=device, weights=weights, workers=workers, max_queue=max_queue,
                          limits=protocol.Limits(max_pixels=max_pixels, max_side=max_side), curve_dir=curve_dir,
                          replace=replace, idle_exit_s=None if idle_exit_min is None else idle_exit_min * 60,
                          started_by=started_by)
    sys.exit(app.run(config, announce=click.echo))


@click.command()
@click.option("--server", "--address", "address", default=protocol.DEFAULT_ADDRESS, show_default=True,
              help="The server's address (--address works too).")
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds to wait for an answer.")
def status(address: str, timeout: float) -> None:
    """Say whether a DeepFlash server answers, with its device, model and log file.

    Exit code 0 when one answers, 3 when none does.
    """
    from deepflash_server import lifecycle

    local, log_note = protocol.is_local(address), state_files.log_note(address)
    try:
        with DeepFlashClient(address, timeout_s=timeout, retries=0, ping_timeout_s=timeout) as client:
            info = client.info()
    except ServerUnavailableError:
        # a pid file here says nothing about a server on another machine
        record = lifecycle.read_pid_file(state_files.pid_path(address)) if local else None
        if record is not None and record.is_running_server():
            click.echo(f"A DeepFlash server process (pid {record.pid}, {record.describe()}) exists but does not "
                       f"answer at {address}; stop it with `deepflash stop` or `deepflash serve --replace` "
                       f"({log_note}).")
        else:
            if record is not None:
                state_files.pid_path(address).unlink(missing_ok=True)
                click.echo(f"Removed the stale pid file of pid {record.pid}, which is no DeepFlash server now.")
            click.echo(f"No DeepFlash server answers at {address}; start one with `deepflash serve` ({log_note}).")
        sys.exit(3)
    model = info.get("model") or {}
    memory = info.get("memory") or {}
    rss = memory.get("rss_bytes")
    click.echo(f"DeepFlash server at {address}: {info.get('state')}, version {info.get('version')}, "
               f"pid {info.get('pid')}")
    click.echo(f"  origin  {lifecycle.describe_origin(info.get('started_by'), info.get('idle_exit_s'))}")
    click.echo(f"  device  {info.get('device')}")
    click.echo(f"  model   {model.get('name', '(loading)')} {model.get('sha256', '')[:12]}")
    click.echo(f"  uptime  {info.get('uptime_s')} s, {info.get('requests', {}).get('requests', 0)} requests, "
               f"{info.get('queued')} queued")
    click.echo(f"  memory  {rss / 2**20:.0f} MiB RSS" if rss else "  memory  unknown")
    where = "" if local else f" (on {protocol.host_of(address)})"
    click.echo(f"  log     {info.get('log')}{where}")


@click.command()
@click.option("--server", "--address", "address", default=protocol.DEFAULT_ADDRESS, show_default=True,
              help="The server's address (--address works too).")
@click.option("--timeout", type=click.FloatRange(1), default=60.0, show_default=True,
              help="Seconds to wait for the server to finish the images it holds and exit.")
def stop(address: str, timeout: float) -> None:
    """Stop the DeepFlash server on this machine at ADDRESS, letting it answer what it holds.

    Exit code 0 when it stopped or none runs, 1 when it is still there after --timeout.
    """
    from deepflash_server import lifecycle

    outcome = lifecycle.stop_server(address, timeout)
    click.echo(outcome.message)
    sys.exit(0 if outcome.stopped or outcome.pid is None else 1)
