"""``deepflash render``, ``deepflash train`` and ``deepflash eval``: make data, train, measure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from deepflash_client.errors import InvalidOptionError
from deepflash_train.config import PORTRAITS_ENV, TrainConfig

DEFAULT_PAIRS = "cache/pairs-128"


@click.command()
@click.option("--data", "data_root", envvar=PORTRAITS_ENV, default=None, type=click.Path(file_okay=False, path_type=Path),
              help=f"Folder of studio portraits (default: ${PORTRAITS_ENV}; see docs/DATA.md).")
@click.option("--out", "out_dir", default=DEFAULT_PAIRS, show_default=True, type=click.Path(path_type=Path),
              help="Folder the passes are written to.")
@click.option("--size", default=128, show_default=True, help="Side of the square training crops.")
@click.option("--passes", default=20, show_default=True, help="How many passes (one pair per portrait each).")
@click.option("--start", default=None, type=int, help="First pass index (default: after the last one written).")
@click.option("--seed", default=0, show_default=True)
@click.option("--landmarks", default="cache/landmarks_portraits.json", show_default=True, type=click.Path(path_type=Path))
@click.option("--max-minutes", type=float, default=None, help="Stop after the pass running at this time.")
def render(data_root: Path | None, out_dir: Path, size: int, passes: int, start: int | None, seed: int, landmarks: Path,
           max_minutes: float | None) -> None:
    """Render synthetic flash/studio training pairs of the training split into OUT (one file per pass)."""
    import time

    from deepflash_train import pair_bank
    from deepflash_train.data import default_renderer, portrait_store
    from deepflash_train.dataset import SyntheticPairs

    if size < 32 or size % 32:
        raise InvalidOptionError(f"--size must be a multiple of 32, got {size}.")
    import cv2
    import torch

    # One renderer process per core: its own threads would only contend with each other.
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    config = TrainConfig(data_root=str(data_root or ""), landmarks=str(landmarks), input_size=size, seed=seed)
    store = portrait_store(config, "train")
    store.preload(progress=True)
    pairs = SyntheticPairs(store, default_renderer(), size, seed=seed)
    done = pair_bank.complete_passes(out_dir)
    first = start if start is not None else (done[-1] + 1 if done else 0)
    began = time.monotonic()
    for pass_index in range(first, first + passes):
        if max_minutes is not None and time.monotonic() - began > 60 * max_minutes:
            break
        t0 = time.monotonic()
        path = pair_bank.render_pass(pairs, pass_index, out_dir)
        seconds = time.monotonic() - t0
        click.echo(f"{path}: {len(store)} pairs in {seconds:.0f} s ({len(store) / seconds:.2f} pairs/s)")


@click.command()
@click.option("--run", "run_dir", default="runs/default", show_default=True, type=click.Path(path_type=Path),
              help="Run directory (checkpoints, log, curve, best model).")
@click.option("--data", "data_root", envvar=PORTRAITS_ENV, default=None, type=click.Path(file_okay=False, path_type=Path),
              help=f"Folder of studio portraits (default: ${PORTRAITS_ENV}; see docs/DATA.md).")
@click.option("--pairs", "pairs_dir", default=None, type=click.Path(path_type=Path),
              help="Train on passes written by `deepflash render` (else render on the fly).")
@click.option("--kind", "model_kind", default="vgg16-unet", show_default=True,
              help="Model kind: vgg16-unet, bilateral-grid (HDRNet-style) or direct-unet (ablation, evaluation only).")
@click.option("--model-options", default="{}", show_default=True, metavar="JSON",
              help='Settings of the kind beyond --width/--size, e.g. \'{"grid_size": 16, "luma_bins": 8}\'.')
@click.option("--landmarks", default="cache/landmarks_portraits.json", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Landmark cache of the portraits.")
@click.option("--width", default=0.25, show_default=True, help="Channel multiplier of the U-Nets (1.0 = the paper's network).")
@click.option("--size", "input_size", default=128, show_default=True, help="Training crop side (paper: 512).")
@click.option("--batch-size", default=8, show_default=True)
@click.option("--lr", default=5e-4, show_default=True, help="Adam learning rate (paper: 1e-5).")
@click.option("--mean-weight", default=0.0, show_default=True,
              help="Weight of the per-image mean error that eq. 5 leaves free (0 = paper).")
@click.option("--bf16/--no-bf16", default=False, show_default=True, help="bfloat16 autocast for the forward pass.")
@click.option("--channels-last/--no-channels-last", default=True, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--max-minutes", type=float, default=None, help="Stop (checkpoint, validate, export) after this long.")
@click.option("--max-steps", type=int, default=None)
@click.option("--validate-every", default=500, show_default=True, help="Steps between validations.")
@click.option("--val-limit", type=int, default=None, help="Validate on the first N validation portraits only.")
@click.option("--workers", default=0, show_default=True, help="Data loader processes for on-the-fly rendering.")
@click.option("--threads", type=int, default=None, help="torch threads (default: torch's choice; 1 on a busy CPU).")
@click.option("--export", "export", default=None, type=click.Path(path_type=Path),
              help="Also write the best model here (+ model card).")
@click.option("--export-default", is_flag=True, help="Export to the package's default weights.")
@click.option("--init-weights", default=None, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Start from these weights (e.g. the shipped model) instead of a fresh network.")
@click.option("--keep-head", is_flag=True, help="With --init-weights: keep their last layer instead of zeroing it.")
@click.option("--look-input", is_flag=True,
              help="Condition the model on the target's look (FiLM), reading the flash after the global look "
                   "transform toward it.")
@click.option("--resume", is_flag=True, help="Continue the run in --run from its checkpoint.")
@click.option("--export-only", is_flag=True, help="Only copy the run's best model to --export / the default.")
@click.option("--name", default=None,
              help="The model's name in its card (default: deepflash-default; with --export-only: the trained name).")
@click.option("--hypothesis", default=None, help="What the model tests, kept in its card.")
@click.option("--evaluation", "evaluations", multiple=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="With --export-only: a `deepflash eval --out` folder of this model; its figures go into the card.")
def train(run_dir: Path, export: Path | None, export_default: bool, export_only: bool, resume: bool,
          max_minutes: float | None, name: str | None, hypothesis: str | None, evaluations: tuple[Path, ...],
          **settings: Any) -> None:
    """Train a DeepFlash model on synthetic flash/studio pairs (eq. 5, Adam; L1 for the direct ablation)."""
    from deepflash_core.network.weights import DEFAULT_WEIGHTS

    if export_default:
        export = DEFAULT_WEIGHTS
    if export_only:
        _export_best(run_dir, export, name, hypothesis, evaluations)
        return
    config = _train_config(run_dir, export, name, hypothesis, **settings)
    _run(config, resume, max_minutes)


def _export_best(run_dir: Path, export: Path | None, name: str | None, hypothesis: str | None,
                 evaluations: tuple[Path, ...]) -> None:
    """``--export-only``: copy the run's best model and its card to ``export``."""
    from deepflash_train.checkpoint import export_run

    if export is None:
        raise InvalidOptionError("--export-only needs --export PATH or --export-default.")
    click.echo(f"wrote {export_run(run_dir, export, name=name, hypothesis=hypothesis, evaluations=list(evaluations))}")


def _train_config(run_dir: Path, export: Path | None, name: str | None, hypothesis: str | None, *,
                  data_root: Path | None, pairs_dir: Path | None, model_kind: str, model_options: str,
                  landmarks: Path, width: float, input_size: int, batch_size: int, lr: float, mean_weight: float,
                  bf16: bool, channels_last: bool, device: str, seed: int, max_steps: int | None,
                  validate_every: int, val_limit: int | None, workers: int, threads: int | None,
                  init_weights: Path | None, keep_head: bool, look_input: bool) -> TrainConfig:
    """The run's settings from the command's options; a bad ``--size`` or ``--model-options`` is a usage error."""
    import json

    if input_size < 32 or input_size % 32:
        raise InvalidOptionError(f"--size must be a multiple of 32, got {input_size}.")
    try:
        options = json.loads(model_options)
    except json.JSONDecodeError as error:
        raise InvalidOptionError(f"--model-options is not JSON: {error}.") from None
    if not isinstance(options, dict):
        raise InvalidOptionError("--model-options must be a JSON object.")
    return TrainConfig(
        run_dir=str(run_dir), data_root=str(data_root or ""), pairs_dir=str(pairs_dir) if pairs_dir else None,
        model_kind=model_kind, model_options=options, name=name or "deepflash-default", hypothesis=hypothesis or "",
        landmarks=str(landmarks),
        width=width, input_size=input_size, batch_size=batch_size, lr=lr, mean_weight=mean_weight, bf16=bf16,
        channels_last=channels_last, device=device, seed=seed, max_steps=max_steps, validate_every=validate_every,
        val_limit=val_limit, workers=workers, threads=threads, export=str(export) if export else None,
        init_weights=str(init_weights) if init_weights else None, reset_head=not keep_head, look_input=look_input,
    )


def _run(config: TrainConfig, resume: bool, max_minutes: float | None) -> None:
    """Train (or resume) until the run stops, then say where it ended and how well it did."""
    from deepflash_train.loop import train as run_training

    state = run_training(config, resume=resume, max_minutes=max_minutes)
    click.echo(f"stopped at step {state.step} (epoch {state.epoch}); best validation PSNR {state.best_psnr:.2f} dB "
               f"at step {state.best_step}; run in {config.run_dir}")


@click.command()
@click.option("--weights", metavar="FILE|NAME", default=None,
              help="Weights file or installed model's name (default: the default model).")
@click.option("--data", "data_root", envvar=PORTRAITS_ENV, default=None, type=click.Path(file_okay=False, path_type=Path),
              help=f"Portrait folder for the synthetic split (default: ${PORTRAITS_ENV}; see docs/DATA.md).")
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "validation", "train", "shift", "no-flash"]),
              help="Synthetic split; `shift`: test people rendered outside the training ranges; "
                   "`no-flash`: their studio targets as input.")
@click.option("--real", "real_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Evaluate on a folder of real NAME_flash.* / NAME_studio.* pairs instead.")
@click.option("--size", type=int, default=None, help="Evaluation crop side (default: the model's training size).")
@click.option("--limit", type=int, default=None, help="Only the first N pairs.")
@click.option("--seed", default=1234, show_default=True, help="Seed of the synthetic flash renders.")
@click.option("--out", "out_dir", default="runs/eval", show_default=True, type=click.Path(path_type=Path),
              help="Where the table (eval.md, eval.json) and contact sheet go.")
@click.option("--sheet-rows", default=8, show_default=True)
@click.option("--sheet-tile", default=192, show_default=True, help="Side of each contact-sheet tile, in pixels.")
@click.option("--cache", "cache_dir", default="cache/eval", show_default=True, type=click.Path(path_type=Path),
              help="Keep the rendered synthetic pairs here, so every model is scored on the same ones.")
@click.option("--device", default="auto", show_default=True)
@click.option("--compare", is_flag=True,
              help="Score every installed model (default and candidates) and --also weights side by side.")
@click.option("--also", multiple=True, metavar="FILE|NAME",
              help="With --compare: more weights to include, e.g. the direct-output ablation (repeatable).")
@click.option("--sets", default="test,shift,no-flash", show_default=True,
              help="With --compare: the test sets, comma-separated.")
def evaluate(weights: str | None, data_root: Path | None, split: str, real_dir: Path | None, size: int | None,
             limit: int | None, seed: int, out_dir: Path, sheet_rows: int, sheet_tile: int, device: str,
             cache_dir: Path, compare: bool, also: tuple[str, ...], sets: str) -> None:
    """SSIM, PSNR and accuracy (eq. 7) of the model vs eq. 8 ground truth, next to the identity baseline."""
    if compare:
        from deepflash_train.compare import run_comparison

        names = [name.strip() for name in sets.split(",") if name.strip()]
        click.echo(run_comparison(data_root, names, [*also, *([weights] if weights else [])], seed=seed, limit=limit,
                                  out_dir=out_dir, device=device, cache_dir=cache_dir), nl=False)
        return
    from deepflash_train.evaluate import run_evaluation

    table = run_evaluation(weights=weights, data_root=data_root, split=split, real_dir=real_dir, size=size,
                           limit=limit, seed=seed, out_dir=out_dir, sheet_rows=sheet_rows, device=device,
                           cache_dir=cache_dir, sheet_tile=sheet_tile)
    click.echo(table)
