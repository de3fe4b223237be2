"""Looks as data: the presets shipped in ``presets/*.json``, and a requested look turned into a :class:`Look`.

Each preset file was written by ``deepflash look PHOTO... --save FILE``: the per-number median of the looks of
named, licensed studio portraits, with their provenance (file, licence, attribution, each one's look) beside it.
A preset may leave numbers open (``null``): those stay the photo's own (``keep-colour`` keeps the colour of
the light). See docs/LOOK.md for the presets and the default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepflash_client.errors import InvalidOptionError
from deepflash_client.options import LOOK_AS_SHOT
from deepflash_core.look.values import Look

PRESET_FOLDER = Path(__file__).with_name("presets")


@dataclass(frozen=True)
class Preset:
    """A named look and where it comes from.

    Attributes:
        name: the preset's name (its file's stem).
        description: one line for ``deepflash looks`` and the editors' menus.
        look: the look; numbers left None are the photo's own.
        sources: the portraits it was measured on: ``file``, ``licence``, ``attribution`` and their ``look``.
        command: the command that wrote it.
    """

    name: str
    description: str
    look: Look
    sources: list[dict[str, Any]] = field(default_factory=list)
    command: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "look": self.look.to_dict(),
                "command": self.command, "sources": self.sources}


def preset_names() -> list[str]:
    """The shipped presets' names, sorted."""
    return sorted(path.stem for path in PRESET_FOLDER.glob("*.json"))


def load_preset(name: str) -> Preset:
    """The preset called ``name``.

    Raises:
        InvalidOptionError: there is none (the message lists the presets).
    """
    path = PRESET_FOLDER / f"{name}.json"
    if "/" in name or not path.is_file():
        raise InvalidOptionError(f"Unknown look {name!r}; the looks are {', '.join([*preset_names(), LOOK_AS_SHOT])}, "
                                 "or a reference photo.")
    return read_preset(path)


def read_preset(path: Path) -> Preset:
    """A preset from its JSON file."""
    values = json.loads(path.read_text(encoding="utf-8"))
    return Preset(path.stem, values.get("description", ""), Look.from_dict(values["look"]),
                  values.get("sources", []), values.get("command", ""))


def requested_look(look: str | tuple[float | None, ...]) -> Look:
    """The look an :class:`~deepflash_client.options.Options` value asks for (as-shot: every number the photo's own).

    Raises:
        InvalidOptionError: an unknown preset name.
    """
    if isinstance(look, str):
        return Look() if look == LOOK_AS_SHOT else load_preset(look).look
    return Look.from_vector(look)
