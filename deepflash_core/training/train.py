"""The training loop: Adam on eq. 5, validation, CSV log and curve, checkpoints, exact resume, export.

A run lives in one directory::

    runs/NAME/config.json           the TrainConfig (a resumed run reads it back)
    runs/NAME/checkpoint/           model.safetensors, optimizer.safetensors, state.json
    runs/NAME/validation.safetensors  the rendered validation pairs (fixed for the whole run)
    runs/NAME/log.csv, curve.png    one row / point per validation
    runs/NAME/best.safetensors      best model so far (+ .json model card), also copied to --export

Everything the next step depends on (weights, Adam moments, BN statistics, step, epoch, position
in the epoch, which rendered pass each epoch used, torch RNG) is checkpointed, and every sample
is a pure function of (seed, epoch, index), so resuming reproduces the uninterrupted run.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from deepflash_core import encoding
from deepflash_core.device import select_device
from deepflash_core.errors import DeepFlashError, InvalidOptionError
from deepflash_core.network import FlashUNet, ModelConfig
from deepflash_core.training import pair_bank
from deepflash_core.training.dataset import PortraitStore, SyntheticPairs
from deepflash_core.training.evaluate import evaluate_batches
from deepflash_core.training.landmarks import build_landmark_cache, load_landmark_cache
from deepflash_core.training.split import SPLIT_CSV, files_in, read_split

DEFAULT_DATA = Path("../shared/data/portraits")
DATA_SOURCES = [
    {"name": "Face Research Lab London Set", "files": "frl_london_neutral/, frl_london_smiling/", "license": "CC BY 4.0",
     "attribution": "DeBruine, L., & Jones, B. (2017). Face Research Lab London Set (Version 5). figshare. "
                    "doi:10.6084/m9.figshare.5047666.v5"},
    {"name": "Young Adult White Faces with Manipulated Versions", "files": "frl_canada/", "license": "CC BY 4.0",
     "attribution": "DeBruine, L., & Jones, B. (2017). Young Adult White Faces with Manipulated Versions (Version 1). "
                    "figshare. doi:10.6084/m9.figshare.4220517.v1"},
    {"name": "US Congress official portraits 225x275", "files": "congress_225x275/", "license": "public domain",
     "attribution": "US Government Publishing Office, via unitedstates/images and Hainish/congress-images-225x275"},
]
LOG_COLUMNS = ("step", "epoch", "images", "elapsed_s", "train_loss", "val_loss", "val_mean_error", "val_ssim",
               "val_psnr", "val_psnr_mean_corrected", "val_accuracy", "identity_ssim", "identity_psnr", "identity_accuracy", "images_per_s")


class TrainingError(DeepFlashError):
    """A training run cannot start or resume (missing data, mismatched run directory)."""


@dataclass
class TrainConfig:
    """Every setting of a run; saved as ``config.json`` in the run directory."""

    run_dir: str = "runs/default"
    data_root: str = str(DEFAULT_DATA)
    split_csv: str = str(SPLIT_CSV)
    landmarks: str = "cache/landmarks_portraits.json"
    pairs_dir: str | None = None
    width: float = 0.25
    input_size: int = 128
    encoder_batchnorm: bool = True
    batch_size: int = 8
    lr: float = 5e-4
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    mean_weight: float = 0.0
    channels_last: bool = True
    bf16: bool = False
    device: str = "auto"
    seed: int = 0
    epochs: int = 100_000
    max_steps: int | None = None
    validate_every: int = 500
    val_limit: int | None = None
    workers: int = 0
    threads: int | None = None
    export: str | None = None

    def model_config(self) -> ModelConfig:
        return ModelConfig(width=self.width, input_size=self.input_size, encoder_batchnorm=self.encoder_batchnorm)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TrainState:
    """Progress of a run (``checkpoint/state.json``)."""

    step: int = 0
    epoch: int = 0
    position: int = 0
    images: int = 0
    elapsed_s: float = 0.0
    pass_of_epoch: dict[str, int] = field(default_factory=dict)
    best_psnr: float = -math.inf
    best_step: int = -1
    loss_sum: float = 0.0
    loss_count: int = 0
    last_validation_step: int = -1


# ----------------------------------------------------------------------------------------------- loss


def training_loss(output: torch.Tensor, target: torch.Tensor, mean_weight: float = 0.0) -> torch.Tensor:
    """Eq. 5 plus ``mean_weight`` times the per-image, per-channel squared mean error it leaves free.

    With ``mean_weight = 1`` the sum is exactly ``4 · MSE``; with 0 it is the paper's loss.
    """
    loss = encoding.deepflash_loss(output, target)
    if mean_weight:
        loss = loss + mean_weight * 4.0 * (target - output).mean(dim=(2, 3)).square().mean()
    return loss


def train_step(model: FlashUNet, optimiser: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
               config: TrainConfig, device: torch.device) -> float:
    """One Adam step on a batch; returns the loss."""
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    x = batch["flash_filtered"].to(device).contiguous(memory_format=memory_format)
    target = encoding.target(batch["flash_filtered"], batch["studio_filtered"]).to(device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
        output = model(x)
    loss = training_loss(output.float(), target, config.mean_weight)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def make_model(config: TrainConfig, device: torch.device) -> tuple[FlashUNet, torch.optim.Optimizer]:
    torch.manual_seed(config.seed)
    model = FlashUNet(config.model_config()).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps)
    return model, optimiser


# ----------------------------------------------------------------------------------------- checkpoints


def save_checkpoint(run_dir: Path, model: FlashUNet, optimiser: torch.optim.Optimizer, state: TrainState) -> None:
    """Write model, optimiser and state as safetensors + JSON; the old checkpoint is replaced only when complete."""
    run_dir = Path(run_dir)
    fresh = run_dir / "checkpoint.partial"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(fresh / "model.safetensors"))
    optimiser_state = optimiser.state_dict()
    tensors = {}
    for param_id, values in optimiser_state["state"].items():
        for key, value in values.items():
            tensors[f"{param_id}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["torch_rng"] = torch.get_rng_state()
    save_file(tensors, str(fresh / "optimizer.safetensors"))
    record = asdict(state)
    record["param_groups"] = optimiser_state["param_groups"]
    (fresh / "state.json").write_text(json.dumps(record, indent=1))
    final = run_dir / "checkpoint"
    old = run_dir / "checkpoint.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    fresh.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(run_dir: Path, model: FlashUNet, optimiser: torch.optim.Optimizer) -> TrainState:
    """Restore a checkpoint written by :func:`save_checkpoint` into ``model`` and ``optimiser``."""
    folder = Path(run_dir) / "checkpoint"
    if not (folder / "state.json").exists():
        raise TrainingError(f"No checkpoint in {run_dir}; start the run without --resume.")
    device = next(model.parameters()).device
    model.load_state_dict(load_file(str(folder / "model.safetensors"), device=str(device)))
    record = json.loads((folder / "state.json").read_text())
    param_groups = record.pop("param_groups")
    for group in param_groups:
        group["betas"] = tuple(group["betas"])
    tensors = load_file(str(folder / "optimizer.safetensors"))
    torch.set_rng_state(tensors.pop("torch_rng"))
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        param_id, key = name.split(".", 1)
        per_param.setdefault(int(param_id), {})[key] = tensor
    optimiser.load_state_dict({"state": per_param, "param_groups": param_groups})
    known = {f.name for f in fields(TrainState)}
    return TrainState(**{k: v for k, v in record.items() if k in known})


# ---------------------------------------------------------------------------------------------- data


def load_split_files(config: TrainConfig, split: str) -> list[str]:
    path = Path(config.split_csv)
    if not path.exists():
        raise TrainingError(f"Split file {path} not found.")
    return files_in(read_split(path), split)


def landmark_entries(config: TrainConfig, files: list[str]) -> dict[str, dict]:
    """Landmarks of ``files``, detecting (and caching) those not yet in the cache."""
    root = Path(config.data_root)
    missing = [f for f in files if not (root / f).exists()]
    if missing:
        raise TrainingError(f"{len(missing)} portraits of the split are missing under {root} (first: {missing[0]}); "
                            "see docs/TRAINING.md for where to get them.")
    cache_path = Path(config.landmarks)
    cache = load_landmark_cache(cache_path) if cache_path.exists() else {"entries": {}}
    if any(f not in cache["entries"] for f in files):
        cache = build_landmark_cache(root, files, cache_path)
    entries = {f: cache["entries"][f] for f in files if cache["entries"].get(f)}
    return entries


def portrait_store(config: TrainConfig, split: str) -> PortraitStore:
    files = load_split_files(config, split)
    entries = landmark_entries(config, files)
    usable = [f for f in files if f in entries]
    return PortraitStore(Path(config.data_root), usable, entries, config.input_size)


def default_renderer() -> Any:
    from deepflash_core.synthetic import FlashRenderer

    return FlashRenderer()


def validation_batches(config: TrainConfig, renderer: Any = None) -> list[dict[str, torch.Tensor]]:
    """The validation pairs (no augmentation, fixed flash seed), rendered once per run and kept on disk."""
    path = Path(config.run_dir) / "validation.safetensors"
    if not path.exists():
        store = portrait_store(config, "validation")
        if config.val_limit:
            store.files = store.files[: config.val_limit]
        pairs = SyntheticPairs(store, renderer or default_renderer(), config.input_size,
                               seed=config.seed + 1, augment=False)
        items = [pairs[i] for i in range(len(pairs))]
        stacked = {key: torch.stack([item[key] for item in items]) for key in items[0]}
        save_file({k: v.contiguous() for k, v in stacked.items()}, str(path))
    tensors = load_file(str(path))
    count = tensors["flash"].shape[0]
    step = max(1, config.batch_size * 2)
    return [{k: v[i: i + step] for k, v in tensors.items()} for i in range(0, count, step)]


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    return np.random.default_rng(np.random.SeedSequence([seed, 7919, epoch])).permutation(count)


def _worker_init(_: int) -> None:
    # The training process already uses every core; each loader worker stays single-threaded.
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


class _EpochBatches(torch.utils.data.Sampler):
    """Batches of ``(epoch, index)`` keys for the epoch and position current when iteration starts."""

    def __init__(self, source: EpochSource, count: int) -> None:
        self.source, self.count = source, count

    def __len__(self) -> int:
        return self.count // self.source.config.batch_size

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        state, size = self.source._state, self.source.config.batch_size
        epoch, position = state.epoch, state.position
        order = epoch_order(self.source.config.seed, epoch, self.count)
        for start in range(position * size, self.count - size + 1, size):
            yield [(epoch, int(i)) for i in order[start: start + size]]


class EpochSource:
    """Batches of one epoch from a given position: from rendered passes, or rendered on the fly."""

    def __init__(self, config: TrainConfig, renderer: Any = None, wait: Callable[[], bool] | None = None) -> None:
        self.config = config
        self.renderer = renderer
        self.wait = wait
        self._pairs: SyntheticPairs | None = None
        self._loader: torch.utils.data.DataLoader | None = None
        self._state: TrainState | None = None

    def _on_the_fly(self) -> SyntheticPairs:
        if self._pairs is None:
            store = portrait_store(self.config, "train")
            store.preload(progress=True)
            self._pairs = SyntheticPairs(store, self.renderer or default_renderer(), self.config.input_size,
                                         seed=self.config.seed)
        return self._pairs

    def prepare(self) -> None:
        """Decode the portraits now (on-the-fly rendering), so the first step's time is a step's."""
        if not self.config.pairs_dir:
            self._on_the_fly()

    def batches(self, state: TrainState) -> Iterator[dict[str, torch.Tensor]]:
        config = self.config
        size = config.batch_size
        if config.pairs_dir:
            key = str(state.epoch)
            if key not in state.pass_of_epoch:
                available = self._wait_for_passes()
                if not available:
                    return
                state.pass_of_epoch[key] = pair_bank.choose_pass(available, list(state.pass_of_epoch.values()), state.epoch)
            data = pair_bank.PassData(pair_bank.pass_path(Path(config.pairs_dir), state.pass_of_epoch[key]))
            if data.size != config.input_size:
                raise TrainingError(f"{data.path} holds {data.size}² pairs; this run trains at {config.input_size}².")
            order = epoch_order(config.seed, state.epoch, len(data))
            for start in range(state.position * size, len(order) - size + 1, size):
                yield data.batch(order[start: start + size])
            return
        pairs = self._on_the_fly()
        self._state = state
        if self._loader is None:
            # One loader for the whole run: its workers start once (spawned, not forked from a
            # process whose thread pools are running) and every item names its own epoch.
            self._loader = torch.utils.data.DataLoader(
                pairs, batch_sampler=_EpochBatches(self, len(pairs)), num_workers=config.workers,
                worker_init_fn=_worker_init if config.workers else None,
                prefetch_factor=4 if config.workers else None, persistent_workers=config.workers > 0,
                multiprocessing_context="spawn" if config.workers else None)
        yield from self._loader

    def _wait_for_passes(self) -> list[int]:
        directory = Path(self.config.pairs_dir or "")
        announced = False
        while True:
            available = pair_bank.complete_passes(directory)
            if available:
                return available
            if not announced:
                print(f"waiting for `deepflash render` to write its first pass into {directory} …", flush=True)
                announced = True
            if self.wait is not None and not self.wait():
                return []
            time.sleep(5.0)


# ------------------------------------------------------------------------------------------ logging


def hardware_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} logical CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads"


def append_log(run_dir: Path, row: dict[str, Any]) -> None:
    """Append one row to ``log.csv``; a log written with fewer columns is rewritten with the current header."""
    path = Path(run_dir) / "log.csv"
    rows: list[dict[str, Any]] = []
    if path.exists():
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != LOG_COLUMNS:
                rows = list(reader)
    if rows or not path.exists():
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=LOG_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: v for k, v in old.items() if k in LOG_COLUMNS and v is not None} for old in rows)
    with open(path, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_COLUMNS, extrasaction="ignore")
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def read_log(run_dir: Path) -> list[dict[str, float]]:
    path = Path(run_dir) / "log.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(handle)]


def plot_curve(run_dir: Path, output: Path | None = None) -> Path | None:
    """Plot the log: training and validation loss; validation PSNR and SSIM against the identity baseline."""
    rows = read_log(run_dir)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output = Path(output or Path(run_dir) / "curve.png")
    steps = [r["step"] for r in rows]
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(steps, [r.get("train_loss", math.nan) for r in rows], label="training (loss optimised)")
    axes[0].plot(steps, [r.get("val_loss", math.nan) for r in rows], label="validation (eq. 5)")
    axes[0].set_yscale("log")
    axes[0].set_title("loss")
    for axis, key, label in ((axes[1], "psnr", "PSNR (dB)"), (axes[2], "ssim", "SSIM")):
        axis.plot(steps, [r.get(f"val_{key}", math.nan) for r in rows], label="model")
        axis.plot(steps, [r.get(f"identity_{key}", math.nan) for r in rows], "--", label="identity (input)")
        axis.set_title(f"validation {label} vs eq. 8")
    for axis in axes:
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)
    plt.close(figure)
    return output


# ------------------------------------------------------------------------------------------- export


def model_card_fields(config: TrainConfig, state: TrainState, device: torch.device,
                      summary: dict[str, float]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``training`` and ``metrics`` sections of the model card."""
    entries = read_split(Path(config.split_csv))
    counts = {s: sum(e.split == s for e in entries) for s in ("train", "validation", "test")}
    people = {s: len({e.person for e in entries if e.split == s}) for s in counts}
    training = {
        "data": "synthetic phone-flash renders (deepflash_core.synthetic) of studio portraits",
        "data_sources": DATA_SOURCES,
        "split": {"file": "deepflash_core/data/portraits_split.csv", "images": counts, "people": people},
        "steps": state.step, "epochs": state.epoch, "images_seen": state.images,
        "wall_time_s": round(state.elapsed_s, 1), "hardware": hardware_description(device),
        "optimizer": {"name": "Adam", "lr": config.lr, "betas": [config.beta1, config.beta2], "eps": config.eps},
        "batch_size": config.batch_size, "loss": "eq. 5" + (f" + {config.mean_weight} x mean term" if config.mean_weight else ""),
        "bf16": config.bf16, "seed": config.seed,
    }
    metrics = {"validation": {k: round(v, 5) for k, v in summary.items()},
               "protocol": "prediction x-2y+1 vs eq. 8 ground truth x-BL(x)+BL(o) at the training size; "
                           "identity = input unchanged"}
    return training, metrics


def export_model(model: FlashUNet, path: Path, config: TrainConfig, state: TrainState, device: torch.device,
                 summary: dict[str, float]) -> None:
    """Write ``model`` with its model card via :func:`deepflash_core.weights.save_model`."""
    from deepflash_core.weights import ModelCard, save_model

    training, metrics = model_card_fields(config, state, device, summary)
    card = ModelCard.for_model(model, name="deepflash-default", training=training, metrics=metrics)
    save_model(model, card, path)


def copy_weights(source: Path, destination: Path) -> None:
    """Copy a weights file and its model card (written by ``save_model``) to another place."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".safetensors", ".json"):
        temporary = destination.with_suffix(suffix + ".partial")
        shutil.copyfile(source.with_suffix(suffix), temporary)
        temporary.replace(destination.with_suffix(suffix))


# --------------------------------------------------------------------------------------------- loop


def train(config: TrainConfig, resume: bool = False, max_minutes: float | None = None, progress: bool = True,
          renderer: Any = None) -> TrainState:
    """Train (or continue) the run in ``config.run_dir``; returns the final state.

    Args:
        resume: continue from the run's checkpoint (the saved config is used, with ``max_steps``,
            ``export`` and ``validate_every`` taken from ``config``).
        max_minutes: stop, checkpoint and validate after this many minutes of this invocation.
        renderer: the flash renderer (``deepflash_core.synthetic.FlashRenderer()`` when None).
    """
    from tqdm import tqdm

    run_dir = Path(config.run_dir)
    config_path = run_dir / "config.json"
    if resume:
        if not config_path.exists():
            raise TrainingError(f"{run_dir} holds no run to resume (no config.json).")
        saved = TrainConfig.from_dict(json.loads(config_path.read_text()))
        saved.max_steps, saved.export, saved.validate_every = config.max_steps, config.export, config.validate_every
        saved.pairs_dir = config.pairs_dir or saved.pairs_dir
        config = saved
    elif (run_dir / "checkpoint").exists():
        raise TrainingError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --run.")
    if config.batch_size < 1 or config.validate_every < 1:
        raise InvalidOptionError("batch size and validation interval must be at least 1.")
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(asdict(config), indent=1))
    device = select_device(config.device)
    if config.threads:
        # On a shared CPU, one thread per process avoids the idle spinning of a thread team
        # whose members are descheduled (measured 10× faster under load, see docs/TRAINING.md).
        torch.set_num_threads(config.threads)
    model, optimiser = make_model(config, device)
    state = load_checkpoint(run_dir, model, optimiser) if resume else TrainState()
    started = time.monotonic()
    deadline = started + 60.0 * max_minutes if max_minutes else math.inf
    validation = validation_batches(config, renderer)
    source = EpochSource(config, renderer, wait=lambda: time.monotonic() < deadline)
    source.prepare()
    interval_start, interval_images = time.monotonic(), 0

    def out_of_time() -> bool:
        return bool(stop_requested) or time.monotonic() >= deadline or (config.max_steps is not None and state.step >= config.max_steps)

    def validate() -> dict[str, float]:
        nonlocal interval_start, interval_images
        evaluation, _ = evaluate_batches(model, validation, bf16=config.bf16)
        summary = evaluation.summary()
        rate = interval_images / max(1e-9, time.monotonic() - interval_start)
        row = {"step": state.step, "epoch": state.epoch, "images": state.images, "elapsed_s": state.elapsed_s,
               "train_loss": state.loss_sum / max(1, state.loss_count), "images_per_s": rate}
        row.update({("val_" + k if not k.startswith("identity") else k): v for k, v in summary.items()})
        append_log(run_dir, row)
        plot_curve(run_dir)
        state.loss_sum, state.loss_count = 0.0, 0
        state.last_validation_step = state.step
        if summary["psnr"] > state.best_psnr:
            state.best_psnr, state.best_step = summary["psnr"], state.step
            export_model(model, run_dir / "best.safetensors", config, state, device, summary)
            if config.export:
                copy_weights(run_dir / "best.safetensors", Path(config.export))
        save_checkpoint(run_dir, model, optimiser, state)
        tqdm.write(f"step {state.step}: val loss {summary['loss']:.5f}, PSNR {summary['psnr']:.2f} dB "
                   f"(identity {summary['identity_psnr']:.2f}), SSIM {summary['ssim']:.4f} "
                   f"(identity {summary['identity_ssim']:.4f}), {rate:.1f} images/s")
        interval_start, interval_images = time.monotonic(), 0
        return summary

    stop_requested = []

    def request_stop(signum: int, _frame: Any) -> None:
        # Finish the current step, then validate, checkpoint and export as at the time limit.
        stop_requested.append(signum)

    import signal

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    bar = tqdm(total=config.max_steps, initial=state.step, disable=not progress, unit="step", dynamic_ncols=True)
    last_tick = time.monotonic()
    try:
        while state.epoch < config.epochs and not out_of_time():
            for batch in source.batches(state):
                loss = train_step(model, optimiser, batch, config, device)
                if not math.isfinite(loss):
                    raise TrainingError(f"The loss became {loss} at step {state.step}; lower --lr and resume.")
                state.step += 1
                state.position += 1
                state.images += config.batch_size
                interval_images += config.batch_size
                state.loss_sum += loss
                state.loss_count += 1
                now = time.monotonic()
                state.elapsed_s += now - last_tick
                last_tick = now
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", epoch=state.epoch)
                if state.step % config.validate_every == 0:
                    validate()
                    last_tick = time.monotonic()
                if out_of_time():
                    break
            else:
                state.epoch += 1
                state.position = 0
                continue
            break
    finally:
        bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if state.step != state.last_validation_step:
        validate()
    else:
        save_checkpoint(run_dir, model, optimiser, state)
    return state


def export_run(run_dir: Path, destination: Path) -> Path:
    """Copy a run's best model (and card) to ``destination`` (e.g. the package's default weights)."""
    best = Path(run_dir) / "best.safetensors"
    if not best.exists():
        raise TrainingError(f"{run_dir} has no validated model yet (no best.safetensors).")
    copy_weights(best, Path(destination))
    return Path(destination)
