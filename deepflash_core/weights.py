"""Weights as data: a safetensors file plus a JSON model card beside it.

The card rebuilds the network (architecture and :class:`~deepflash_core.network.ModelConfig`), records
how the weights were made (data, attribution, split, steps, hardware, metrics) and pins the file's
sha256, which is verified on every load. Nothing is unpickled.
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

from deepflash_core import __version__
from deepflash_core.errors import WeightsError
from deepflash_core.network import ARCHITECTURE, FlashUNet, ModelConfig

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
DEFAULT_WEIGHTS = PRETRAINED_DIR / "deepflash-default.safetensors"


@dataclass
class ModelCard:
    """What a weights file is and how it was made."""

    name: str
    config: ModelConfig
    architecture: str = ARCHITECTURE
    parameters: int = 0
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    created: str = ""
    software_version: str = __version__

    @classmethod
    def for_model(
        cls,
        model: FlashUNet,
        name: str = "deepflash",
        training: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> ModelCard:
        return cls(
            name=name,
            config=model.config,
            parameters=sum(p.numel() for p in model.parameters()),
            training=dict(training or {}),
            metrics=dict(metrics or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "architecture": self.architecture,
            "config": self.config.to_dict(),
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
            return cls(
                name=str(data["name"]),
                architecture=str(data["architecture"]),
                config=ModelConfig.from_dict(dict(data["config"])),
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


def save_model(model: FlashUNet, card: ModelCard, path: Path | str) -> ModelCard:
    """Write ``model``'s weights to ``path`` (safetensors) and its card beside it; return the final card.

    The card's config must describe the model, and its sha256 and creation time are filled in here.
    The file is written to a temporary name first so a reader never sees half a file.
    """
    path = Path(path)
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


def read_card(path: Path | str | None = None) -> ModelCard:
    """Read the model card of a weights file (``DEFAULT_WEIGHTS`` when ``path`` is None)."""
    weights_path = Path(path) if path is not None else DEFAULT_WEIGHTS
    card_file = card_path(weights_path)
    if not weights_path.is_file():
        hint = ("No trained DeepFlash weights are installed in this copy; train them with `deepflash train` "
                "or pass --weights FILE.safetensors.") if path is None else "Check the --weights path."
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


def load_model(path: Path | str | None = None, device: torch.device | str = "cpu") -> tuple[FlashUNet, ModelCard]:
    """Load weights and their card, verify the sha256, and rebuild the network in eval mode on ``device``.

    Raises:
        WeightsError: the file or its card is missing, the checksum differs, or the tensors do not fit
            the architecture the card describes.
    """
    weights_path = Path(path) if path is not None else DEFAULT_WEIGHTS
    card = read_card(path)
    if card.architecture != ARCHITECTURE:
        raise WeightsError(f"{weights_path.name} is a '{card.architecture}' model; this version runs '{ARCHITECTURE}'.")
    actual = file_sha256(weights_path)
    if actual != card.sha256:
        raise WeightsError(f"{weights_path.name} does not match its model card (sha256 {actual[:12]}… ≠ "
                           f"{card.sha256[:12]}…); the file is corrupt or was replaced.")
    try:
        tensors = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"{weights_path.name} is not a readable safetensors file: {error}.") from error
    model = FlashUNet(card.config, initialise=False)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[0]
        raise WeightsError(f"{weights_path.name} does not fit the architecture in its card: {first_line}") from error
    model.eval().to(device=torch.device(device), memory_format=torch.channels_last)
    return model, card
