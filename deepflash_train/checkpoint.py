"""Checkpoints (safetensors + JSON, no pickles), model export with its card, and the run's log and curve."""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import shutil
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from deepflash_core.network.registry import Encoding, model_kind
from deepflash_train.config import DATA_SOURCES, TrainConfig, TrainingError, TrainState
from deepflash_train.split import read_split

LOG_COLUMNS = ("step", "epoch", "images", "elapsed_s", "train_loss", "val_loss", "val_mean_error", "val_ssim",
               "val_psnr", "val_psnr_mean_corrected", "val_accuracy", "identity_ssim", "identity_psnr", "identity_accuracy",
               "val_face_lstd_ratio", "images_per_s")



def save_checkpoint(run_dir: Path, model: torch.nn.Module, optimiser: torch.optim.Optimizer, state: TrainState) -> None:
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


def load_checkpoint(run_dir: Path, model: torch.nn.Module, optimiser: torch.optim.Optimizer) -> TrainState:
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


def model_card_fields(config: TrainConfig, state: TrainState, device: torch.device,
                      summary: dict[str, float]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``training`` and ``metrics`` sections of the model card."""
    entries = read_split(Path(config.split_csv))
    counts = {s: sum(e.split == s for e in entries) for s in ("train", "validation", "test")}
    people = {s: len({e.person for e in entries if e.split == s}) for s in counts}
    training = {
        "data": "synthetic phone-flash renders (deepflash_train.renderer) of studio portraits",
        "data_sources": DATA_SOURCES,
        "split": {"file": "deepflash_train/data/portraits_split.csv", "images": counts, "people": people},
        "steps": state.step, "epochs": state.epoch, "images_seen": state.images,
        "wall_time_s": round(state.elapsed_s, 1), "hardware": hardware_description(device),
        "optimizer": {"name": "Adam", "lr": config.lr, "betas": [config.beta1, config.beta2], "eps": config.eps},
        "batch_size": config.batch_size, "loss": loss_description(config),
        "bf16": config.bf16, "seed": config.seed,
    }
    if config.look_input:
        training["look_input"] = ("the flash render after the global look transform toward the target's own look "
                                  "(deepflash_core.look.transfer, through the subject matte); condition: that look "
                                  "(deepflash_core.look.describe, as_condition); identity pairs keep their own look")
    if config.init_weights:
        training["init_weights"] = {"file": Path(config.init_weights).name, "reset_head": config.reset_head}
    estimate = "x-2y+1" if model_kind(config.model_kind).encoding is Encoding.BILATERAL else "the output o"
    metrics = {"validation": {k: round(v, 5) for k, v in summary.items()},
               "protocol": f"prediction {estimate} vs eq. 8 ground truth x-BL(x)+BL(o) at the training size; "
                           "identity = input unchanged"}
    return training, metrics


def loss_description(config: TrainConfig) -> str:
    if model_kind(config.model_kind).encoding is Encoding.DIRECT:
        return "L1 on the studio photo"
    return "eq. 5" + (f" + {config.mean_weight} x mean term" if config.mean_weight else "")


def export_model(model: torch.nn.Module, path: Path, config: TrainConfig, state: TrainState, device: torch.device,
                 summary: dict[str, float]) -> None:
    """Write ``model`` with its model card via :func:`deepflash_core.network.weights.save_model`."""
    from deepflash_core.network.weights import ModelCard, save_model

    training, metrics = model_card_fields(config, state, device, summary)
    card = ModelCard.for_model(model, name=config.name, training=training, metrics=metrics, hypothesis=config.hypothesis)
    save_model(model, card, path)


def copy_weights(source: Path, destination: Path) -> None:
    """Copy a weights file and its model card (written by ``save_model``) to another place."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".safetensors", ".json"):
        temporary = destination.with_suffix(suffix + ".partial")
        shutil.copyfile(source.with_suffix(suffix), temporary)
        temporary.replace(destination.with_suffix(suffix))


def export_run(run_dir: Path, destination: Path, name: str | None = None, hypothesis: str | None = None,
               evaluations: list[Path] | None = None) -> Path:
    """Copy a run's best model (and card) to ``destination`` (e.g. the package's default weights).

    Args:
        name: the model's name in its card (default: the name it was trained under).
        hypothesis: what the model tests, recorded in the card.
        evaluations: ``deepflash eval`` output folders of this model; each one's means go into the
            card's ``metrics`` under its split (``test``, ``shift``, ``no-flash``, ``real``).
    """
    best = Path(run_dir) / "best.safetensors"
    if not best.exists():
        raise TrainingError(f"{run_dir} has no validated model yet (no best.safetensors).")
    if name is None and hypothesis is None and not evaluations:
        copy_weights(best, Path(destination))
        return Path(destination)
    from deepflash_core.network.weights import load_model, save_model

    model, card = load_model(best)
    card.name = name or card.name
    if hypothesis:
        card.hypothesis = hypothesis
    for folder in evaluations or []:
        details = json.loads((Path(folder) / "eval.json").read_text())
        summary = {k: round(v, 5) if isinstance(v, float) else v for k, v in details["summary"].items()}
        card.metrics[details.get("split", Path(folder).name)] = {"title": details["title"], **summary}
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    save_model(model, card, Path(destination))
    return Path(destination)
