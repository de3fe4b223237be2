"""Every installed model side by side, in the papers' Table 2/3 form, next to leaving the photo alone.

Each model is scored on the same pairs (rendered once per test set and input size) against the eq. 8
ground truth: SSIM, PSNR, accuracy (eq. 7) and, where the pairs carry a face mask, the face's L*
standard deviation relative to the ground truth (1 = the modelling kept; below 1 = a flatter face).
The identity row is the input itself, so a model above it helps and a model below it harms.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from deepflash_train.evaluate import evaluate_batches

IDENTITY = "identity (input unchanged)"
Batches = list[dict[str, torch.Tensor]]
BatchSource = Callable[[int], Iterable[dict[str, torch.Tensor]]]
"""Makes the pairs of one test set at a given side."""


@dataclass(frozen=True)
class Contender:
    """A model in the comparison: a label and its weights file."""

    label: str
    weights: Path


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    test_set: str
    label: str
    kind: str
    size: int
    images: int
    ssim: float
    psnr: float
    accuracy: float
    face_lstd_ratio: float = math.nan


def installed_contenders(extra: Sequence[str | Path] = ()) -> list[Contender]:
    """The installed models that exist (default, then candidates), then ``extra`` weights by path or name."""
    from deepflash_core.network.weights import installed_models, read_card, resolve_weights

    found = [Contender(name, path) for name, path in installed_models().items() if path.is_file()]
    for item in extra:
        path = resolve_weights(item)
        found.append(Contender(read_card(path).name, path))
    return found


def compare(contenders: Sequence[Contender], test_sets: dict[str, BatchSource], device: str = "cpu") -> list[Row]:
    """Score every contender on every test set; the identity row comes first in each (set, size) group.

    Raises:
        WeightsError: no contenders, or one of them cannot be loaded.
    """
    from deepflash_client.errors import WeightsError
    from deepflash_core.network.weights import load_model

    if not contenders:
        raise WeightsError("No models to compare: none is installed and none was given.")
    loaded = [(contender, *load_model(contender.weights, device)) for contender in contenders]
    sizes = sorted({int(card.config.input_size) for _, _, card in loaded})
    rows: list[Row] = []
    for set_name, source in test_sets.items():
        for size in sizes:
            batches: Batches = list(source(size))
            group = [(contender, model, card) for contender, model, card in loaded if card.config.input_size == size]
            for index, (contender, model, card) in enumerate(group):
                summary = evaluate_batches(model, batches)[0].summary()
                if index == 0:
                    rows.append(_row(set_name, IDENTITY, "", size, summary, "identity_"))
                rows.append(_row(set_name, contender.label, card.architecture, size, summary, ""))
    return rows


def _row(test_set: str, label: str, kind: str, size: int, summary: dict[str, float], prefix: str) -> Row:
    return Row(test_set, label, kind, size, int(summary["images"]), summary[prefix + "ssim"], summary[prefix + "psnr"],
               summary[prefix + "accuracy"], summary.get(prefix + "face_lstd_ratio", math.nan))


def format_comparison(rows: Sequence[Row], titles: dict[str, str] | None = None) -> str:
    """Markdown: one table per test set, SSIM (%), PSNR (dB), accuracy (%), face L* std ratio."""
    titles = titles or {}
    lines: list[str] = []
    for test_set in dict.fromkeys(row.test_set for row in rows):
        members = [row for row in rows if row.test_set == test_set]
        lines += [f"{titles.get(test_set, test_set)} ({members[0].images} images)", "",
                  "| model | kind | input | SSIM (%) | PSNR (dB) | accuracy eq. 7 (%) | face L* std / truth |",
                  "|---|---|---|---|---|---|---|"]
        for row in members:
            ratio = f"{row.face_lstd_ratio:.3f}" if math.isfinite(row.face_lstd_ratio) else "–"
            lines.append(f"| {row.label} | {row.kind or '–'} | {row.size}² | {100 * row.ssim:.2f} | {row.psnr:.2f} | "
                         f"{row.accuracy:.2f} | {ratio} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_comparison(rows: Sequence[Row], text: str, out_dir: Path) -> None:
    """``compare.md`` (the tables) and ``compare.json`` (the rows) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compare.md").write_text(text)
    (out_dir / "compare.json").write_text(json.dumps([asdict(row) for row in rows], indent=1) + "\n")


def synthetic_test_sets(data_root: Path | None, names: Sequence[str], seed: int, limit: int | None,
                        cache_dir: Path | None = None) -> tuple[dict[str, BatchSource], dict[str, str]]:
    """The named synthetic test sets (held-out people) as batch sources, with their table titles.

    With ``cache_dir`` the rendered pairs are kept there and reused (``deepflash eval`` does the same).

    Raises:
        InvalidOptionError: an unknown test set name.
    """
    from deepflash_client.errors import InvalidOptionError
    from deepflash_train.evaluate import synthetic_batches

    known: dict[str, tuple[str, BatchSource]] = {
        "test": ("Synthetic test split (held-out people, training's flash and look ranges)",
                 lambda size: synthetic_batches(data_root, "test", size, seed, limit, cache_dir=cache_dir)),
        "shift": ("Shift test (held-out people, flash and look outside the training ranges)",
                  lambda size: synthetic_batches(data_root, "test", size, seed, limit, shift=True, cache_dir=cache_dir)),
        "no-flash": ("No flash (held-out people's studio photos as input: the right output is the input)",
                     lambda size: synthetic_batches(data_root, "test", size, seed, limit, no_flash=True,
                                                    cache_dir=cache_dir)),
    }
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidOptionError(f"Unknown test set {unknown[0]!r}; choose from {', '.join(known)}.")
    return ({name: known[name][1] for name in names},
            {name: f"{known[name][0]}, flash seed {seed}" for name in names})


def run_comparison(data_root: Path | None, sets: Sequence[str], extra: Sequence[str | Path] = (), seed: int = 1234,
                   limit: int | None = None, out_dir: Path = Path("runs/compare"), device: str = "auto",
                   cache_dir: Path | None = None) -> str:
    """Compare the installed models (and ``extra`` weights) on the named test sets; write and return the tables."""
    from deepflash_core.device import select_device

    sources, titles = synthetic_test_sets(data_root, sets, seed, limit, cache_dir)
    rows = compare(installed_contenders(extra), sources, str(select_device(device)))
    text = format_comparison(rows, titles)
    write_comparison(rows, text, Path(out_dir))
    return text
