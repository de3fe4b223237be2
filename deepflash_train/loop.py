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

import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from deepflash_client.errors import InvalidOptionError
from deepflash_core.device import select_device
from deepflash_client.errors import InvalidOptionError
from deepflash_core.network.film import is_look_parameter, reads_looks
from deepflash_core.network.registry import kind_of, model_kind
from deepflash_train import objective
from deepflash_train.checkpoint import (append_log, copy_weights, export_model, load_checkpoint, plot_curve,
                                                save_checkpoint)
from deepflash_train.config import TrainConfig, TrainingError, TrainState
from deepflash_train.data import EpochSource, validation_batches
from deepflash_train.evaluate import evaluate_batches


def train_step(model: torch.nn.Module, optimiser: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
               config: TrainConfig, device: torch.device) -> float:
    """One Adam step on a batch, with the input, target and loss of the model's encoding; returns the loss."""
    encoding = kind_of(model).encoding
    conditioned = reads_looks(model)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    x = objective.network_input(encoding, batch, conditioned).to(device).contiguous(memory_format=memory_format)
    target = objective.network_target(encoding, batch, conditioned).to(device)
    look = objective.network_condition(batch, conditioned)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
        output = model(x) if look is None else model(x, look.to(device))
    loss = objective.loss(encoding, output.float(), target, config.mean_weight)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def make_model(config: TrainConfig, device: torch.device) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """The run's model kind, fresh (or warm-started from ``config.init_weights``), and its Adam optimiser."""
    torch.manual_seed(config.seed)
    model = model_kind(config.model_kind).build(config.model_config())
    if config.init_weights:
        from deepflash_core.network.weights import load_model

        start, _ = load_model(Path(config.init_weights), torch.device("cpu"))
        # The network is fully convolutional: weights trained at one input size start another. Weights
        # trained without looks start a conditioned model: its look modulation starts at "no effect".
        missing, unexpected = model.load_state_dict(start.state_dict(), strict=False)
        if unexpected or any(not is_look_parameter(name) for name in missing):
            raise TrainingError(f"{config.init_weights} does not fit a {config.model_kind} model of this run "
                                f"(missing {missing[:3]}, unexpected {unexpected[:3]}).")
        if config.reset_head:
            model.reset_head()
    model = model.to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps)
    return model, optimiser


def train(config: TrainConfig, resume: bool = False, max_minutes: float | None = None, progress: bool = True,
          renderer: Any = None) -> TrainState:
    """Train (or continue) the run in ``config.run_dir``; returns the final state.

    Args:
        resume: continue from the run's checkpoint (the saved config is used, with ``max_steps``,
            ``export`` and ``validate_every`` taken from ``config``).
        max_minutes: stop, checkpoint and validate after this many minutes of this invocation.
        renderer: the flash renderer (``deepflash_train.renderer.FlashRenderer()`` when None).
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
    if config.look_input and config.pairs_dir:
        raise InvalidOptionError("--look-input renders its pairs on the fly; rendered passes (--pairs) hold no looks.")
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
