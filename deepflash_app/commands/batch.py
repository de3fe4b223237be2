"""``deepflash batch``: correct thousands of photos on Ray, on this machine or on a cluster."""

from __future__ import annotations

import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import click

from deepflash_app.commands.correction_options import correction_options
from deepflash_client.errors import DeepFlashError, ImageWriteError, InvalidOptionError
from deepflash_client.options import Options

if TYPE_CHECKING:
    from deepflash_app.batch.job import BatchSettings
    from deepflash_app.batch.manifest import Record
    from deepflash_app.batch.resources import Runner
    from deepflash_app.batch.sources import Item


class RayMissingError(DeepFlashError):
    """``deepflash batch`` was run without the optional Ray dependency."""


class BatchJobError(DeepFlashError):
    """The Ray job itself stopped (a node lost for good, actors that cannot start); photos done are kept."""


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False), help="Folder for the results, named like the inputs (shared by all nodes on a cluster).")
@correction_options
@click.option("--device", default="auto", show_default=True, help="Torch device on each worker: auto, cpu, cuda, cuda:N or mps.")
@click.option("--weights", metavar="FILE|NAME", help="A .safetensors weights file (its .json card beside it, same path on every node) or an installed model's name.")
@click.option("--mixed-precision", is_flag=True, help="Run the network in bf16 (fp16 on Apple MPS): faster, slightly less exact.")
@click.option("--address", envvar="RAY_ADDRESS", metavar="ADDRESS", help="Join this Ray cluster (e.g. 10.0.0.5:6379) instead of starting one here; RAY_ADDRESS works too.")
@click.option("--cpus", type=click.IntRange(1), help="CPUs of the Ray started here  [default: every core of this machine].")
@click.option("--runner", type=click.Choice(["auto", "ray", "here"]), default="auto", show_default=True,
              help="Where the photos are corrected: on Ray, here (one after another in this process, as `deepflash "
                   "process` does), or auto: here when Ray's start would cost more than the other cores save "
                   "(always Ray with --address).")
@click.option("--manifest", "manifest_path", type=click.Path(path_type=Path, dir_okay=False), help="Where to write the JSONL record of every photo  [default: OUT/deepflash-batch.jsonl].")
@click.option("--stats", is_flag=True, help="At the end, print Ray Data's statistics: time per stage, tasks per node.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no Ray logs; failures and the summary are still printed.")
def batch(
    sources: tuple[str, ...],
    out_dir: Path,
    options: Options,
    device: str,
    weights: str | None,
    mixed_precision: bool,
    address: str | None,
    cpus: int | None,
    runner: str,
    manifest_path: Path | None,
    stats: bool,
    quiet: bool,
) -> None:
    """Correct every photo in SOURCES into the folder OUT, on Ray or, for a job too small for Ray to pay off, here.

    SOURCES are photos, folders, glob patterns or URIs that pyarrow reads (s3://bucket/shoot/,
    gs://...). Each result is the file `deepflash process` would write. A rerun skips photos whose
    result is already there; a photo that cannot be read is reported and the job goes on; the
    record of every photo is written as JSON lines when the job ends, or is stopped with Ctrl-C.
    """
    if runner == "ray" or address:
        _require_ray()
    from deepflash_app.batch import manifest, sources as source_list
    from deepflash_app.batch.job import BatchSettings
    from deepflash_app.batch.manifest import FAILED, NOT_RUN, SKIPPED, Record

    out_dir = out_dir.absolute()
    manifest_path = (manifest_path or out_dir / manifest.MANIFEST_NAME).absolute()
    weights_path = Path(weights) if weights else None
    if weights_path is not None and weights_path.suffix == ".safetensors":  # a file, not an installed model's name
        weights = str(weights_path.absolute())
    settings = BatchSettings(options, weights, device, mixed_precision)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ImageWriteError(f"Cannot create the output folder {out_dir} ({error.strerror or error}).") from None
    photos, unlisted = source_list.list_photos([s if source_list.is_uri(s) else str(Path(s).absolute()) for s in sources])
    items, refused = source_list.plan(photos, out_dir)
    todo, done = source_list.split_done(items)
    refusals = [Record(source, "", FAILED, error=reason) for source, reason in unlisted + refused]
    for source, reason in unlisted + refused:
        _say(f"{source}: {reason}")
    earlier = manifest.read_done(manifest_path)  # a skipped photo keeps what the run that did it measured
    finished = {item.source: Record(item.source, item.target, SKIPPED, *earlier.get(item.source, (0, 0.0)))
                for item in done}
    outcome = ""
    handlers = _signal_handlers()
    try:
        if todo:
            chosen = _choose_runner(runner, todo, address, cpus)
            _say(f"{len(todo)} photo{'s' if len(todo) > 1 else ''} {chosen.reason}.")
            if chosen.on_ray:
                _require_ray()
                outcome = _run(todo, settings, out_dir, address, cpus, quiet, stats, finished)
            else:
                outcome = _run_here(todo, settings, out_dir, finished)
        records = refusals + [finished.get(item.source) or _unreported(item) for item in items]
        manifest.write(records, manifest_path)
        counts = manifest.summary(records)
        stopped = f", {counts[NOT_RUN]} not run (stopped)" if counts[NOT_RUN] else ""
        _say(f"{counts['done']} corrected, {counts[SKIPPED]} already done, {counts[FAILED]} failed{stopped}; "
             f"record in {manifest_path}")
    finally:
        # A caller that runs the command in its own process (a test, a script) gets its handlers back: a
        # process it forks later must still end on SIGTERM.
        _restore_signal_handlers(handlers)
    if outcome == INTERRUPTED:
        sys.exit(130)
    if outcome:
        raise BatchJobError(outcome)
    if counts[FAILED]:
        sys.exit(1)


def _run(
    todo: list[Item],
    settings: BatchSettings,
    out_dir: Path,
    address: str | None,
    cpus: int | None,
    quiet: bool,
    stats: bool,
    finished: dict[str, Record],
) -> str:
    """Run the job, adding each photo's record to ``finished`` as it arrives.

    Returns:
        "" when it ran to the end, ``INTERRUPTED`` after Ctrl-C, else why the job stopped.
    """
    from deepflash_app.batch import job, resources
    from deepflash_app.batch.manifest import FAILED

    # The settings are checked (which imports torch) while Ray starts; a bad one stops Ray again.
    with ThreadPoolExecutor(1) as pool:
        check = pool.submit(_check_settings, settings, not address)
        plan = resources.connect(address, cpus, quiet, use_gpus=not settings.device.startswith(("cpu", "mps")))
        _stop_on_signals(at_once=True)  # after Ray's start, which installs handlers of its own
        try:
            check.result()
        except BaseException:
            resources.disconnect()
            raise
    staging = job.new_staging_folder(out_dir)
    try:
        report = (lambda text: click.echo(text, err=True)) if stats else None
        for record in job.run(todo, settings, plan, staging, progress=not quiet, report_stats=report):
            finished[record.input] = record
            if record.status == FAILED:
                _say(f"{record.input}: {record.error}")
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as error:  # noqa: BLE001 - Ray's own errors; the manifest still records what was done
        lines = str(error).strip().splitlines()
        return f"the Ray job stopped: {type(error).__name__}: {lines[-1] if lines else ''}"
    finally:
        resources.disconnect()  # first: no worker renames a result into place after this
        job.remove_staging_folder(staging)
    return ""


INTERRUPTED = "interrupted"


def _require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        raise RayMissingError("deepflash batch needs Ray: pip install 'deepflash[batch]'.") from None


def _choose_runner(runner: str, todo: list[Item], address: str | None, cpus: int | None) -> Runner:
    """The runner asked for, or (auto) the one the job's size, this machine's cores and ``address`` call for."""
    from deepflash_app.batch import resources, sources

    if runner == "ray":
        return resources.Runner(True, f"on the Ray cluster at {address}" if address else "on a local Ray (--runner ray)")
    if runner == "here" and not address:
        return resources.Runner(False, "in this process (--runner here)")
    megapixels = sources.megapixels([item.source for item in todo], resources.UNKNOWN_MEGAPIXELS)
    return resources.choose_runner(len(todo), megapixels, cpus or resources.local_cpus(), address)


def _run_here(todo: list[Item], settings: BatchSettings, out_dir: Path, finished: dict[str, Record]) -> str:
    """The whole-photo loop in this process; returns "" when it ran to the end, ``INTERRUPTED`` after Ctrl-C."""
    from deepflash_app.batch import job
    from deepflash_app.batch.manifest import FAILED

    _check_settings(settings, local=True)
    _stop_on_signals(at_once=False)
    staging = job.new_staging_folder(out_dir)
    try:
        for record in job.run_here(todo, settings, staging):
            finished[record.input] = record
            if record.status == FAILED:
                _say(f"{record.input}: {record.error}")
            if _SIGNALLED.is_set():
                return INTERRUPTED
    except KeyboardInterrupt:
        return INTERRUPTED
    finally:
        job.remove_staging_folder(staging)
    return ""


_SIGNALLED = threading.Event()
"""Set by Ctrl-C or SIGTERM while photos are corrected in this process: the loop stops after the current one."""


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


def _signal_handlers() -> dict[int, object]:
    """The handlers of the signals that stop a job, as they are now."""
    return {number: signal.getsignal(number) for number in _STOP_SIGNALS}


def _restore_signal_handlers(handlers: dict[int, object]) -> None:
    for number, handler in handlers.items():
        if handler is not None:  # None: a handler not installed from Python, which cannot be put back
            signal.signal(number, handler)  # type: ignore[arg-type]


def _stop_on_signals(at_once: bool) -> None:
    """Ctrl-C and SIGTERM stop the job as Ctrl-C does (what is done is kept, the manifest and the summary are
    written), also in a script's background job, which the shell starts with SIGINT ignored.

    ``at_once`` (Ray: the driver only waits for results) interrupts where the signal lands; otherwise the photo
    being corrected is finished first, as an interrupt inside an import (of dlib, say) would break it for the
    photos after.
    """
    def stop(signum: int, _frame: object) -> None:
        if at_once:
            raise KeyboardInterrupt
        _SIGNALLED.set()

    _SIGNALLED.clear()
    for number in _STOP_SIGNALS:
        signal.signal(number, stop)


def _unreported(item: Item) -> Record:
    """A photo whose record never reached this process (the job was stopped): done if its result is in place."""
    from deepflash_app.batch.manifest import DONE, NOT_RUN, Record

    # A result appears only by an atomic rename of a whole file; faces and time were not reported.
    return Record(item.source, item.target, DONE if Path(item.target).is_file() else NOT_RUN)


def _say(line: str) -> None:
    click.echo(f"deepflash: {line}", err=True)


def _check_settings(settings: BatchSettings, local: bool) -> None:
    """Fail with one line when the weights (or, on this machine, the device) cannot work."""
    from deepflash_core.device import select_device
    from deepflash_core.network.weights import read_card

    read_card(settings.weights)
    if local:
        try:
            select_device(settings.device)
        except DeepFlashError:
            raise
        except Exception as error:  # noqa: BLE001 - torch's own message for a malformed device string
            raise InvalidOptionError(f"Unknown device {settings.device!r} ({error}).") from None
