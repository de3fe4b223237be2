"""The batch job as a Ray Data pipeline: decode (tasks) → correct (actors holding the model) → encode (tasks).

Each photo goes through exactly the calls ``deepflash process`` makes — ``load_photo``,
``Pipeline.process``, ``save_photo`` — so every result is the same file, byte for byte. Ray Data
streams the photos through the three stages at once, so one photo is decoded while another is
corrected and a third encoded, in bounded memory, and retries a stage whose worker died.

Results are written into a private staging folder inside the destination and renamed into place
only when whole, so a result that exists is complete and a killed worker leaves nothing behind
once the job ends.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepflash_app.batch import resources
from deepflash_app.batch.manifest import DONE, FAILED, Record
from deepflash_app.batch.sources import Item, is_uri, local_copy
from deepflash_core.errors import DeepFlashError
from deepflash_core.options import Options

STAGING_PREFIX = ".deepflash-batch-"


@dataclass(frozen=True)
class Settings:
    """The per-photo options, the same as ``deepflash process`` takes."""

    options: Options = field(default_factory=Options)
    weights: str | None = None
    device: str = "auto"
    mixed_precision: bool = False


def run(
    items: Sequence[Item],
    settings: Settings,
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
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    context.execution_options.preserve_order = False
    context.execution_options.verbose_progress = False
    rows = [{"input": item.source, "output": item.target} for item in items]
    tasks = ray.data.TaskPoolStrategy(size=plan.task_concurrency)
    dataset = (
        # One photo per block: photos stream through the stages one by one rather than in chunks.
        ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
        .map(_decode, num_cpus=plan.task_cpus, compute=tasks)
        .map_batches(
            _CorrectingActor,
            fn_constructor_kwargs={"settings": settings, "threads": plan.actor_threads},
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=plan.actors),
            num_cpus=plan.actor_cpus,
            num_gpus=plan.actor_gpus,
        )
        .map(_encode, fn_kwargs={"staging": str(staging)}, num_cpus=plan.task_cpus, compute=tasks)
    )
    for row in dataset.iter_rows():
        yield Record(row["input"], row["output"], row["status"], int(row["faces"]), round(float(row["seconds"]), 3), row["error"])
    if report_stats is not None:
        report_stats(dataset.stats())


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


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    from deepflash_core.imageio import load_photo

    start = time.perf_counter()
    pixels, meta, error = _NO_PIXELS, b"", ""
    try:
        with local_copy(row["input"]) as path:
            photo = load_photo(path)
        pixels, meta = photo.pixels, pickle.dumps(replace(photo, pixels=_NO_PIXELS))
    except Exception as caught:  # noqa: BLE001 - a photo that fails is reported, never stops the job
        error = _error_line(caught, os.path.basename(row["input"]))
    return {**row, "pixels": pixels, "meta": meta, "error": error, "faces": 0, "unchanged": False,
            "seconds": time.perf_counter() - start}


class _CorrectingActor:
    """A Ray actor holding one loaded pipeline; corrects the photos it is handed (one per batch)."""

    def __init__(self, settings: Settings, threads: int) -> None:
        from deepflash_core import faces

        faces.preload()  # the face models load while torch is imported
        import torch

        from deepflash_core.pipeline import Pipeline

        torch.set_num_threads(threads)
        self.options = settings.options
        self.pipeline = Pipeline.load(weights=settings.weights, device=settings.device, mixed_precision=settings.mixed_precision)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        out: dict[str, Any] = {key: list(values) for key, values in batch.items()}
        for index in range(len(batch["input"])):
            if batch["error"][index]:
                continue
            start = time.perf_counter()
            try:
                result = self.pipeline.process(batch["pixels"][index], self.options)
                out["unchanged"][index] = np.array_equal(result.pixels, batch["pixels"][index])
                out["pixels"][index], out["faces"][index] = result.pixels, len(result.faces)
            except Exception as caught:  # noqa: BLE001 - one photo's failure is its own record
                out["pixels"][index] = _NO_PIXELS
                out["error"][index] = _error_line(caught, os.path.basename(str(batch["input"][index])))
            out["seconds"][index] += time.perf_counter() - start
        return out


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
