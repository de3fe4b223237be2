"""The papers' evaluation protocol, next to the identity baseline.

A prediction ``x − 2y + 1`` (eq. 2) is compared with the reconstructed ground truth
``ō = x − BL(x) + BL(o)`` (eq. 8) by SSIM and PSNR (scikit-image) and accuracy (eq. 7).
The identity baseline scores the flash input itself against the same ``ō``: a model that
does nothing gets exactly those figures, so the gap is what the model adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from deepflash_core.encoding import equations
from deepflash_core.network.film import reads_looks
from deepflash_core.network.registry import Encoding, kind_of
from deepflash_train import objective

METRICS = ("ssim", "psnr", "accuracy")


@dataclass
class Scores:
    """Per-image scores of one method; ``mean()`` averages them."""

    ssim: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)

    def add(self, prediction: np.ndarray, reference: np.ndarray) -> None:
        """Score one ``(H, W, 3)`` prediction in [0, 1] against its reference."""
        self.ssim.append(float(structural_similarity(prediction, reference, channel_axis=2, data_range=1.0)))
        # Identical images have infinite PSNR; cap at 100 dB so means stay finite.
        identical = not np.any(prediction != reference)
        self.psnr.append(100.0 if identical else float(min(100.0, peak_signal_noise_ratio(reference, prediction, data_range=1.0))))
        self.accuracy.append(float(equations.accuracy(prediction, reference)))

    def mean(self) -> dict[str, float]:
        return {name: float(np.mean(getattr(self, name))) if getattr(self, name) else float("nan") for name in METRICS}

    def __len__(self) -> int:
        return len(self.ssim)


def face_lightness_std(image: np.ndarray, face: np.ndarray) -> float:
    """Standard deviation of CIELAB L* over a face mask: how much modelling the face's light has."""
    from skimage.color import rgb2lab

    return float(rgb2lab(image)[..., 0][face > 0.5].std())


def to_hwc(batch: torch.Tensor) -> list[np.ndarray]:
    """``(B, 3, H, W)`` tensor → list of float64 ``(H, W, 3)`` arrays clipped to [0, 1]."""
    array = batch.detach().float().clamp(0.0, 1.0).permute(0, 2, 3, 1).cpu().numpy().astype(np.float64)
    return list(array)


@torch.no_grad()
def predict(model: torch.nn.Module, network_input: torch.Tensor, bf16: bool = False,
            look: torch.Tensor | None = None) -> torch.Tensor:
    """Network output for a batch of its input (``BL(x)`` or ``x``; eval mode, on the model's device), given
    ``look`` when the model is conditioned on one."""
    parameter = next(model.parameters())
    x = network_input.to(parameter.device).contiguous(memory_format=torch.channels_last)
    with torch.autocast(parameter.device.type, dtype=torch.bfloat16, enabled=bf16):
        y = model(x) if look is None else model(x, look.to(parameter.device))
    return y.float().cpu()


@dataclass
class Evaluation:
    """Scores of the model and of the identity baseline, plus eq. 5 loss and the mean error it ignores."""

    model: Scores = field(default_factory=Scores)
    identity: Scores = field(default_factory=Scores)
    losses: list[float] = field(default_factory=list)
    mean_errors: list[float] = field(default_factory=list)
    # PSNR had the per-image, per-channel mean of y been right (what eq. 5 alone cannot fix).
    psnr_mean_corrected: list[float] = field(default_factory=list)
    # Face modelling: L* standard deviation over the landmark hull, output (or input) over ground truth.
    face_lstd_ratio: list[float] = field(default_factory=list)
    identity_face_lstd_ratio: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Flat dict: ``loss``, ``mean_error``, ``ssim``, ``psnr``, ``accuracy``, ``identity_*``, ``images``."""
        result = {"loss": float(np.mean(self.losses)) if self.losses else float("nan"),
                  "mean_error": float(np.mean(self.mean_errors)) if self.mean_errors else float("nan"),
                  "psnr_mean_corrected": float(np.mean(self.psnr_mean_corrected)) if self.psnr_mean_corrected
                  else float("nan")}
        result.update(self.model.mean())
        result.update({f"identity_{k}": v for k, v in self.identity.mean().items()})
        for name in ("face_lstd_ratio", "identity_face_lstd_ratio"):
            values = getattr(self, name)
            result[name] = float(np.mean(values)) if values else float("nan")
        result["images"] = len(self.model)
        return result


def evaluate_batches(
    model: torch.nn.Module, batches: Iterable[dict[str, torch.Tensor]], bf16: bool = False, keep: int = 0,
    encoding_kind: Encoding | None = None,
) -> tuple[Evaluation, list[tuple[np.ndarray, ...]]]:
    """Score a model on batches of pairs (dicts as :class:`~deepflash_train.dataset.SyntheticPairs` yields).

    The model reads the input of its kind's encoding; its studio estimate (eq. 2 for the bilateral
    encoding, the output itself for the direct one) is scored against eq. 8. The loss is the kind's
    training loss without the mean term.

    Args:
        keep: how many ``(flash, prediction, ground truth, studio)`` examples to return for a contact sheet.
        encoding_kind: how to read the model (default: its registered kind's encoding).

    Returns:
        The evaluation and the kept examples.
    """
    kind = encoding_kind or kind_of(model).encoding
    conditioned = reads_looks(model)
    was_training = model.training
    model.eval()
    result = Evaluation()
    examples: list[tuple[np.ndarray, ...]] = []
    try:
        for batch in batches:
            flash = batch["flash"]
            output = predict(model, objective.network_input(kind, batch, conditioned), bf16,
                             objective.network_condition(batch, conditioned))
            target = objective.network_target(kind, batch, conditioned)
            result.losses.append(float(objective.loss(kind, output, target)))
            prediction = objective.studio_estimate(kind, batch, output, conditioned)
            truth = equations.reconstructed_ground_truth(flash, batch["flash_filtered"], batch["studio_filtered"])
            # The part of the error eq. 5 leaves free: the per-image, per-channel mean, in image units.
            offset = (prediction - truth).mean(dim=(2, 3), keepdim=True)
            result.mean_errors.append(float(offset.abs().mean()))
            corrected = prediction - offset
            for p, g in zip(to_hwc(corrected), to_hwc(truth)):
                result.psnr_mean_corrected.append(float(min(100.0, peak_signal_noise_ratio(g, p, data_range=1.0))))
            studio = batch.get("studio", truth)
            faces = [None] * len(flash) if "face" not in batch else list(batch["face"][:, 0].numpy())
            for x, p, g, o, face in zip(to_hwc(flash), to_hwc(prediction), to_hwc(truth), to_hwc(studio), faces):
                result.model.add(p, g)
                result.identity.add(x, g)
                if face is not None and face.sum() >= 16:
                    reference = max(face_lightness_std(g, face), 1e-6)
                    result.face_lstd_ratio.append(face_lightness_std(p, face) / reference)
                    result.identity_face_lstd_ratio.append(face_lightness_std(x, face) / reference)
                if len(examples) < keep:
                    examples.append((x, p, g, o))
    finally:
        model.train(was_training)
    return result, examples


def format_table(summary: dict[str, float], title: str) -> str:
    """A Markdown table: model vs identity for SSIM (%), PSNR (dB), accuracy (%)."""
    lines = [f"{title} ({int(summary['images'])} images)", "",
             "| method | SSIM (%) | PSNR (dB) | accuracy eq. 7 (%) |", "|---|---|---|---|"]
    for label, prefix in (("DeepFlash model", ""), ("identity (input unchanged)", "identity_")):
        lines.append(f"| {label} | {100 * summary[prefix + 'ssim']:.2f} | {summary[prefix + 'psnr']:.2f} | "
                     f"{summary[prefix + 'accuracy']:.2f} |")
    lines.append(f"| gain | {100 * (summary['ssim'] - summary['identity_ssim']):+.2f} | "
                 f"{summary['psnr'] - summary['identity_psnr']:+.2f} | "
                 f"{summary['accuracy'] - summary['identity_accuracy']:+.2f} |")
    if np.isfinite(summary.get("face_lstd_ratio", np.nan)):
        lines += ["", f"Face L* std over the landmark hull, relative to the eq. 8 ground truth: model "
                      f"{summary['face_lstd_ratio']:.3f}, input {summary['identity_face_lstd_ratio']:.3f} (goal 0.85–1.15)"]
    return "\n".join(lines)


def contact_sheet(examples: list[tuple[np.ndarray, ...]], path: Path, tile: int = 192, quality: int = 90) -> None:
    """Write rows of flash input | model output | reconstructed ground truth (eq. 8) | studio photo."""
    if not examples:
        return
    columns = len(examples[0])
    sheet = Image.new("RGB", (columns * tile, len(examples) * tile), "white")
    for row, images in enumerate(examples):
        for column, image in enumerate(images):
            tile_image = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((tile, tile), Image.LANCZOS)
            sheet.paste(tile_image, (column * tile, row * tile))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=quality)


def renderer_fingerprint() -> str:
    """A hash of the code that makes synthetic pairs: cached evaluation pairs are reused only while it holds."""
    import hashlib

    import deepflash_core.look as look
    import deepflash_train.renderer as synthetic
    from deepflash_train import dataset, look_input

    digest = hashlib.sha256()
    sources = [Path(synthetic.__file__).parent, Path(look.__file__).parent]
    for path in sorted(p for folder in sources for p in folder.glob("*.py")) + [Path(dataset.__file__),
                                                                                Path(look_input.__file__)]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def synthetic_batches(data_root: Path | None, split: str, size: int, seed: int, limit: int | None,
                      batch_size: int = 8, shift: bool = False, no_flash: bool = False,
                      cache_dir: Path | None = None) -> Iterable[dict[str, torch.Tensor]]:
    """Pairs of one split of the portrait folder (no augmentation or identity pairs, flash seeded by ``seed``).

    With ``shift``, flash and target look come from the ranges training never draws (the shift test);
    with ``no_flash``, each input is its target (a studio-lit photo: the right output is the input).
    With ``cache_dir``, the rendered pairs are kept there (keyed by the renderer's code), so every
    model is scored on the same pairs without rendering them again. The pairs carry the look input too, so
    models with and without looks are scored on the same renders.
    """
    from safetensors.torch import load_file, save_file

    from deepflash_train.config import TrainConfig
    from deepflash_train.data import default_renderer, portrait_store
    from deepflash_train.dataset import SyntheticPairs

    name = (f"{split}{'-shift' if shift else ''}{'-no-flash' if no_flash else ''}-{size}-seed{seed}-{limit or 'all'}"
            f"-look-{renderer_fingerprint()}.safetensors")
    cached = Path(cache_dir) / name if cache_dir else None
    if cached is None or not cached.exists():
        store = portrait_store(TrainConfig(data_root=str(data_root or ""), input_size=size), split)
        if limit:
            store.files = store.files[:limit]
        pairs = SyntheticPairs(store, default_renderer(), size, seed=seed, augment=False, shift=shift,
                               identity_pairs=False, no_flash=no_flash, look_input=True)
        items = [pairs[i] for i in range(len(pairs))]
        tensors = {key: torch.stack([item[key] for item in items]).contiguous() for key in items[0]}
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            save_file(tensors, str(cached.with_suffix(".partial")))
            cached.with_suffix(".partial").replace(cached)
    else:
        tensors = load_file(str(cached))
    count = len(next(iter(tensors.values())))
    for start in range(0, count, batch_size):
        yield {key: value[start: start + batch_size] for key, value in tensors.items()}


def real_batches(folder: Path, size: int, limit: int | None) -> Iterable[dict[str, torch.Tensor]]:
    """Aligned real pairs of a folder, one per batch."""
    from deepflash_train.real_pairs import find_pairs, load_real_pair

    for pair in find_pairs(folder)[:limit]:
        yield {key: value.unsqueeze(0) for key, value in load_real_pair(pair, size).items()}


def run_evaluation(weights: Path | None, data_root: Path | None, split: str = "test", real_dir: Path | None = None,
                   size: int | None = None, limit: int | None = None, seed: int = 1234,
                   out_dir: Path = Path("runs/eval"), sheet_rows: int = 8, device: str = "auto",
                   cache_dir: Path | None = None, sheet_tile: int = 192) -> str:
    """Evaluate a weights file on the synthetic split or a folder of real pairs.

    ``split="shift"`` is the shift test: the test people rendered from the flash and look ranges
    that training excludes (:mod:`deepflash_train.renderer.params`), reported on its own.
    ``split="no-flash"`` feeds the test people's studio targets in: how much a model changes a
    photo without flash cues (the identity row is then perfect by construction).

    Writes ``eval.md`` (the table), ``eval.json`` (means and per-image scores) and
    ``contact_sheet.jpg`` (flash | model | eq. 8 ground truth | studio) into ``out_dir``.

    Returns:
        The table as Markdown.
    """
    import json

    from deepflash_core.device import select_device
    from deepflash_core.network.weights import load_model

    model, card = load_model(weights, select_device(device))
    size = size or card.config.input_size
    if real_dir is not None and reads_looks(model):
        from deepflash_train.config import TrainingError

        raise TrainingError(f"{card.name} is conditioned on looks: score it on real pairs through `deepflash process "
                            "--look` (the look is measured on the detected face), not on crops without one.")
    if real_dir is not None:
        batches, title = real_batches(Path(real_dir), size, limit), f"Real pairs in {real_dir}"
    elif split == "shift":
        batches = synthetic_batches(data_root, "test", size, seed, limit, shift=True, cache_dir=cache_dir)
        title = f"Shift test (held-out people, flash and backdrops outside the training ranges), {size}², seed {seed}"
    elif split == "no-flash":
        batches = synthetic_batches(data_root, "test", size, seed, limit, no_flash=True, cache_dir=cache_dir)
        title = f"No-flash test (held-out people, the studio target as input: the best output is the input), {size}²"
    else:
        batches = synthetic_batches(data_root, split, size, seed, limit, cache_dir=cache_dir)
        title = f"Synthetic {split} split (held-out people), {size}², flash seed {seed}"
    # Keep every example, then show ones spread over the whole set (it is sorted by source).
    evaluation, examples = evaluate_batches(model, batches, keep=10**9)
    if len(examples) > sheet_rows:
        examples = [examples[int(i)] for i in np.linspace(0, len(examples) - 1, sheet_rows).round()]
    summary = evaluation.summary()
    table = format_table(summary, title)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.md").write_text(table + "\n")
    details = {"title": title, "split": "real" if real_dir is not None else split, "seed": seed,
               "weights": str(weights or "default"), "model": card.name, "summary": summary,
               "per_image": {"model": evaluation.model.__dict__, "identity": evaluation.identity.__dict__}}
    (out_dir / "eval.json").write_text(json.dumps(details, indent=1))
    contact_sheet(examples, out_dir / "contact_sheet.jpg", tile=sheet_tile)
    return table
