"""Weights as data: a safetensors file plus a JSON model card beside it.

The card names the model kind (``architecture``, see :mod:`deepflash_core.network.registry`) and its settings,
from which the network is rebuilt; it records how the weights were made (data, attribution, split,
steps, hardware, metrics), the hypothesis a candidate model tests, and pins the file's sha256, which is
verified on every load. Nothing is unpickled.

Installed models: the default in ``pretrained/`` and candidates in ``pretrained/candidates/``; each is
selectable by name (``default`` or the candidate's file stem) wherever a weights path is accepted.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from deepflash_client.errors import WeightsError
from deepflash_core import __version__
from deepflash_core.network.config import CardConfig
from deepflash_core.network.registry import DEFAULT_KIND, kind_of, model_kind

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
DEFAULT_WEIGHTS = PRETRAINED_DIR / "deepflash-default.safetensors"
CANDIDATES_DIR = PRETRAINED_DIR / "candidates"
DEFAULT_NAME = "default"
WEIGHTS_SUFFIX = ".safetensors"


@dataclass
class ModelCard:
    """What a weights file is and how it was made."""

    name: str
    config: CardConfig
    architecture: str = DEFAULT_KIND
    hypothesis: str = ""
    parameters: int = 0
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    created: str = ""
    software_version: str = __version__

    @classmethod
    def for_model(
        cls,
        model: torch.nn.Module,
        name: str = "deepflash",
        training: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        hypothesis: str = "",
    ) -> ModelCard:
        return cls(
            name=name,
            config=model.config,
            architecture=kind_of(model).name,
            hypothesis=hypothesis,
            parameters=sum(p.numel() for p in model.parameters()),
            training=dict(training or {}),
            metrics=dict(metrics or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "architecture": self.architecture,
            "config": self.config.to_dict(),
            "hypothesis": self.hypothesis,
            "parameters": self.parameters,
            "training": self.training,
            "metrics": self.metrics,
            "sha256": self.sha256,
            "created": self.created,
            "software_version": self.software_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        try:
            kind = model_kind(data["architecture"])
            return cls(
                name=str(data["name"]),
                architecture=kind.name,
                config=kind.config_from_dict(dict(data["config"])),
                hypothesis=str(data.get("hypothesis", "")),
                parameters=int(data.get("parameters", 0)),
                training=dict(data.get("training", {})),
                metrics=dict(data.get("metrics", {})),
                sha256=str(data["sha256"]),
                created=str(data.get("created", "")),
                software_version=str(data.get("software_version", "")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise WeightsError(f"The model card is incomplete or malformed ({error}).") from error


def card_path(weights_path: Path) -> Path:
    """The model card that belongs to a weights file: same name, ``.json``."""
    return Path(weights_path).with_suffix(".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(model: torch.nn.Module, card: ModelCard, path: Path | str) -> ModelCard:
    """Write ``model``'s weights to ``path`` (safetensors) and its card beside it; return the final card.

    The card's config must describe the model, and its sha256 and creation time are filled in here.
    The file is written to a temporary name first so a reader never sees half a file.
    """
    path = Path(path)
    if card.architecture != kind_of(model).name:
        raise WeightsError(f"The model card names a '{card.architecture}' model, but the model is '{kind_of(model).name}'.")
    if card.config != model.config:
        raise WeightsError(f"The model card describes {card.config}, but the model is {model.config}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: (tensor.float() if tensor.is_floating_point() else tensor).detach().cpu().contiguous()
               for name, tensor in model.state_dict().items()}
    temporary = path.with_name(path.name + ".partial")
    save_file(tensors, str(temporary), metadata={"architecture": card.architecture,
                                                 "config": json.dumps(card.config.to_dict())})
    temporary.replace(path)
    card.sha256 = file_sha256(path)
    card.created = card.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    card.parameters = sum(p.numel() for p in model.parameters())
    card_file = card_path(path)
    card_file.write_text(json.dumps(card.to_dict(), indent=2, sort_keys=False) + "\n")
    return card


def installed_models() -> dict[str, Path]:
    """Name → weights path of every installed model: ``default``, then the candidates by name."""
    models = {DEFAULT_NAME: DEFAULT_WEIGHTS}
    if CANDIDATES_DIR.is_dir():
        models.update((path.stem, path) for path in sorted(CANDIDATES_DIR.glob(f"*{WEIGHTS_SUFFIX}")))
    return models


def resolve_weights(weights: Path | str | None = None) -> Path:
    """The weights file meant by a path, an installed model's name, or None (the default model).

    A value naming an existing file, ending in ``.safetensors`` or holding a folder separator is a path;
    anything else must be an installed model's name.

    Raises:
        WeightsError: a name that is neither a path nor an installed model; the message lists the models.
    """
    if weights is None:
        return DEFAULT_WEIGHTS
    path = Path(weights)
    text = str(weights)
    if path.is_file() or text.endswith(WEIGHTS_SUFFIX) or "/" in text or "\\" in text:
        return path
    models = installed_models()
    if text in models:
        return models[text]
    raise WeightsError(f"No weights file or installed model called {text!r}; installed models: "
                       f"{', '.join(models)} (see `deepflash models`).")


def read_card(weights: Path | str | None = None) -> ModelCard:
    """Read the model card of a weights file or installed model (the default one when ``weights`` is None)."""
    weights_path = resolve_weights(weights)
    card_file = card_path(weights_path)
    if not weights_path.is_file():
        hint = ("No trained DeepFlash weights are installed in this copy; train them with `deepflash train` "
                "or pass --weights FILE.safetensors.") if weights is None else "Check the --weights path."
        raise WeightsError(f"Weights file {weights_path} not found. {hint}")
    if not card_file.is_file():
        raise WeightsError(f"The model card {card_file} is missing; it must sit beside {weights_path.name}.")
    try:
        data = json.loads(card_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"The model card {card_file} cannot be read: {error}.") from error
    if not isinstance(data, dict):
        raise WeightsError(f"The model card {card_file} is not a JSON object.")
    return ModelCard.from_dict(data)


def load_model(weights: Path | str | None = None, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, ModelCard]:
    """Load weights and their card, verify the sha256, and build the card's model kind in eval mode on ``device``.

    Args:
        weights: a weights path or an installed model's name (see :func:`resolve_weights`); None = default.

    Raises:
        WeightsError: the file or its card is missing, the card names an unknown kind, the checksum
            differs, or the tensors do not fit the architecture the card describes.
    """
    weights_path = resolve_weights(weights)
    card = read_card(weights_path if weights is not None else None)
    actual = file_sha256(weights_path)
    if actual != card.sha256:
        raise WeightsError(f"{weights_path.name} does not match its model card (sha256 {actual[:12]}… ≠ "
                           f"{card.sha256[:12]}…); the file is corrupt or was replaced.")
    try:
        tensors = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{weights_path.name} is not a readable safetensors file: {error}.") from error
    look_version = getattr(card.config, "look_version", "")
    if look_version:
        from deepflash_core.network.film import look_fields_version

        if look_version != look_fields_version():
            raise WeightsError(f"{weights_path.name} was trained on looks of version {look_version}; this version "
                               f"describes looks as {look_fields_version()} (other fields or ranges).")
    model = model_kind(card.architecture).build(card.config, initialise=False)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[0]
        raise WeightsError(f"{weights_path.name} does not fit the architecture in its card: {first_line}") from error
    model.eval().to(device=torch.device(device), memory_format=torch.channels_last)
    return model, card
