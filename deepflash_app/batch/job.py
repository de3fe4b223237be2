"""The batch job as a Ray Data pipeline over a pool of actors that each hold a loaded model.

Each photo goes through exactly the calls ``deepflash process`` makes — ``load_photo``,
``Pipeline.process``, ``save_photo`` — so every result is the same file, byte for byte.

On CPUs alone each actor takes a photo from decode to written file (whole photos): every core does
every stage anyway, and a photo's pixels that crossed processes between the stages would cost as much
CPU again as correcting it. With GPUs the actors hold the model on their GPU and only correct; decode
and encode run as CPU tasks beside them (staged), so the GPU is not kept waiting on them. Either way
Ray Data streams the photos through in bounded memory and retries the work of a worker that died.

Results are written into a private staging folder inside the destination and renamed into place
only when whole, so a result that exists is complete and a killed worker leaves nothing behind
once the job ends.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import pickle
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepflash_app.batch import resources
from deepflash_app.batch.manifest import DONE, FAILED, Record
from deepflash_app.batch.sources import Item, is_uri, local_copy
from deepflash_client.errors import DeepFlashError
from deepflash_client.options import Options
from deepflash_core.detection.native_log import native_stderr_silenced

STAGING_PREFIX = ".deepflash-batch-"


@dataclass(frozen=True)
class BatchSettings:
    """The per-photo options, the same as ``deepflash process`` takes."""

    options: Options = field(default_factory=Options)
    weights: str | None = None
    device: str = "auto"
    mixed_precision: bool = False


def run(
    items: Sequence[Item],
    settings: BatchSettings,
    plan: resources.Plan,
    staging: Path,
    progress: bool = True,
    report_stats: Callable[[str], None] | None = None,
) -> Iterator[Record]:
    """Correct ``items`` on the Ray cluster this process is connected to, yielding records as photos finish.

    ``report_stats`` is given Ray Data's execution statistics at the end (time per stage, tasks per node).
    """
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    if not progress:
        logging.getLogger("ray.data").setLevel(logging.ERROR)
    context.execution_options.preserve_order = False
    context.execution_options.verbose_progress = False
    rows = [{"input": item.source, "output": item.target} for item in items]
    # One photo per block: photos stream through the stages one by one rather than in chunks.
    photos = ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
    actors = ray.data.ActorPoolStrategy(size=plan.actors)
    if plan.whole_photos:
        dataset = photos.map(
            _PhotoActor,
            fn_constructor_kwargs={"settings": settings, "threads": plan.actor_threads, "staging": str(staging)},
            compute=actors,
            num_cpus=plan.actor_cpus,
        )
    else:
        tasks = ray.data.TaskPoolStrategy(size=plan.task_concurrency)
        dataset = (
            photos.map(_decode, fn_kwargs={"options": settings.options}, num_cpus=plan.task_cpus, compute=tasks)
            .map_batches(
                _CorrectingActor,
                fn_constructor_kwargs={"settings": settings, "threads": plan.actor_threads},
                batch_size=1,
                batch_format="numpy",
                compute=actors,
                num_cpus=plan.actor_cpus,
                num_gpus=plan.actor_gpus,
            )
            .map(_encode, fn_kwargs={"staging": str(staging)}, num_cpus=plan.task_cpus, compute=tasks)
        )
    results = iter(dataset.iter_rows())
    # Ray's native core writes notices of its own straight to the terminal while the actors start
    # (e.g. how Ray Data hands them their arguments); without progress only DeepFlash's lines are shown.
    with nullcontext() if progress else native_stderr_silenced():
        first = next(results, None)
    for row in itertools.chain([first] if first is not None else [], results):
        yield Record(row["input"], row["output"], row["status"], int(row["faces"]), round(float(row["seconds"]), 3), row["error"])
    if report_stats is not None:
        report_stats(dataset.stats())


def run_here(items: Sequence[Item], settings: BatchSettings, staging: Path) -> Iterator[Record]:
    """Correct ``items`` one after another in this process, as ``deepflash process DIR`` does, yielding records.

    The same whole-photo steps as a Ray actor's (so the same files); as in ``process``, the first photo is
    detected in a child process while torch imports and the model loads, and the collector keeps off
    what the import makes.
    """
    from deepflash_core.corrector import open_corrector
    from deepflash_core.detection.child import ChildDetection

    if not items:
        return
    ahead = ChildDetection.start(items[0].source, settings.options) if not is_uri(items[0].source) else None
    gc.disable()
    try:
        corrector = open_corrector(weights=settings.weights, device=settings.device,
                                   mixed_precision=settings.mixed_precision, ahead=ahead)
    finally:
        gc.freeze()
        gc.enable()
    photos = _PhotosHere(settings, corrector, str(staging))
    for item in items:
        row = photos({"input": item.source, "output": item.target})
        yield Record(row["input"], row["output"], row["status"], int(row["faces"]), round(float(row["seconds"]), 3), row["error"])


def new_staging_folder(out_dir: Path) -> Path:
    """A folder of this job's own inside the destination, where results are written before their rename."""
    folder = out_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


def remove_staging_folder(folder: Path) -> None:
    """Remove the staging folder and any partial file a killed worker left in it."""
    shutil.rmtree(folder, ignore_errors=True)


def _error_line(error: BaseException, name: str) -> str:
    """One line for the manifest; errors from the image reader start with the file name, which the record holds."""
    if isinstance(error, DeepFlashError):
        message = str(error)
        return message[len(name) + 2 :] if message.startswith(f"{name}: ") else message
    if isinstance(error, MemoryError):
        return "not enough memory to process this photo."
    lines = str(error).strip().splitlines()
    return f"internal error {type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


# A photo travels between the stages as its pixels (a tensor column, read in place from Ray's shared
# memory) and its metadata without pixels (small pickled bytes): no copy of the pixels is pickled.
_NO_PIXELS = np.zeros((1, 1, 3), np.uint8)


def _decode(row: dict[str, Any], options: Options | None = None) -> dict[str, Any]:
    """Read a photo; given ``options``, also detect it (faces, coarse matte, eyes: no torch) for the actor."""
    from deepflash_core.imageio import load_photo

    start = time.perf_counter()
    pixels, meta, detection, error = _NO_PIXELS, b"", b"", ""
    try:
        with local_copy(row["input"]) as path:
            photo = load_photo(path)
        pixels, meta = photo.pixels, pickle.dumps(replace(photo, pixels=_NO_PIXELS))
        if options is not None:
            from deepflash_core.detection.detect import detect

            detection = pickle.dumps(detect(pixels, options))
    except Exception as caught:  # noqa: BLE001 - a photo that fails is reported, never stops the job
        error = _error_line(caught, os.path.basename(row["input"]))
    return {**row, "pixels": pixels, "meta": meta, "detection": detection, "error": error, "faces": 0,
            "unchanged": False, "seconds": time.perf_counter() - start}


class _CorrectingActor:
    """A Ray actor holding one loaded pipeline; corrects the decoded (and detected) photos it is handed.

    It holds the pipeline, not a corrector from ``open_corrector``: its photos' detections are made in another
    Ray task and handed to ``Pipeline.process``, which a corrector does not take, and a server is never its target.
    """

    def __init__(self, settings: BatchSettings, threads: int) -> None:
        import torch

        from deepflash_core.pipeline import Pipeline

        torch.set_num_threads(threads)
        self.options = settings.options
        self.pipeline = Pipeline.load(weights=settings.weights, device=settings.device, mixed_precision=settings.mixed_precision)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        rows = [{key: values[index] for key, values in batch.items()} for index in range(len(batch["input"]))]
        corrected = [self.correct(row) for row in rows]
        return {key: [row[key] for row in corrected] for key in batch}

    def correct(self, row: dict[str, Any]) -> dict[str, Any]:
        """A decoded photo's row with its pixels corrected (or its error recorded)."""
        if row["error"]:
            return row
        start = time.perf_counter()
        row = dict(row)
        try:
            detection = pickle.loads(row["detection"]) if row["detection"] else None  # made by the decode task
            result = self._corrected(row["pixels"], detection)
            row["unchanged"] = np.array_equal(result.pixels, row["pixels"])
            row["pixels"], row["faces"] = result.pixels, len(result.faces)
        except Exception as caught:  # noqa: BLE001 - one photo's failure is its own record
            row["pixels"] = _NO_PIXELS
            row["error"] = _error_line(caught, os.path.basename(str(row["input"])))
        row["seconds"] += time.perf_counter() - start
        return row


    def _corrected(self, pixels: np.ndarray, detection: Any) -> Any:
        return self.pipeline.process(pixels, self.options, detection=detection)


class _PhotoActor(_CorrectingActor):
    """A Ray actor holding one loaded pipeline that takes each photo it is handed from its file to its result."""

    def __init__(self, settings: BatchSettings, threads: int, staging: str) -> None:
        super().__init__(settings, threads)
        self.staging = staging

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        return _encode(self.correct(_decode(row)), self.staging)


class _PhotosHere(_PhotoActor):
    """A whole-photo actor's steps in this process, around its corrector (which may hold a detection made ahead)."""

    def __init__(self, settings: BatchSettings, corrector: Any, staging: str) -> None:  # noqa: D107 - no Ray, no load
        self.options = settings.options
        self.corrector = corrector
        self.staging = staging

    def _corrected(self, pixels: np.ndarray, detection: Any) -> Any:
        return self.corrector.correct(pixels, self.options)


def _encode(row: dict[str, Any], staging: str) -> dict[str, Any]:
    from deepflash_core.imageio import copy_unchanged, save_photo

    start = time.perf_counter()
    status, error = FAILED, row["error"]
    if not error:
        try:
            staged = Path(staging) / os.path.basename(row["output"])
            # As `deepflash process` does: a photo the correction left as it was is copied byte for byte.
            local = not is_uri(row["input"])
            if not (row["unchanged"] and local and copy_unchanged(Path(row["input"]), staged)):
                save_photo(replace(pickle.loads(row["meta"]), pixels=row["pixels"]), staged)
            os.replace(staged, row["output"])
            status = DONE
        except Exception as caught:  # noqa: BLE001
            error = _error_line(caught, os.path.basename(row["output"]))
    return {
        "input": row["input"],
        "output": row["output"],
        "status": status,
        "faces": int(row["faces"]) if status == DONE else 0,
        "seconds": float(row["seconds"]) + time.perf_counter() - start,
        "error": error,
    }
