"""Typed settings stored as JSON, loaded with type checks and a fallback to defaults.

Two files use it: the install record that ``deepflash install`` writes next to a plug-in
(server address, the DeepFlash environment's Python) and the Krita docker's own settings.
A damaged or hand-edited file never stops a plug-in: each bad value falls back to its
default and the problem is reported to the caller for the log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepflash_client.protocol import DEFAULT_ADDRESS

INSTALL_RECORD_NAME = "deepflash_install.json"


@dataclass(frozen=True)
class Setting:
    """One setting: its name, type, default, a description and an optional extra check."""

    name: str
    kind: type
    default: Any
    description: str
    valid: Callable[[Any], bool] = lambda value: True

    def accept(self, value: Any) -> bool:
        """Whether ``value`` has this setting's type (ints count as floats, bools never as numbers)."""
        if self.kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, self.kind)
        return ok and self.valid(value)


def _address_ok(value: str) -> bool:
    return value.startswith(("tcp://", "ipc://")) and len(value) > 6


INSTALL_RECORD = (
    Setting("address", str, DEFAULT_ADDRESS, "ZeroMQ address of the DeepFlash server", _address_ok),
    Setting("python", str, "", "Python of the DeepFlash environment (runs the helper when pyzmq is missing)"),
    Setting("serve_command", list, [], "Command line that starts `deepflash serve` (without --bind)",
            lambda value: all(isinstance(part, str) for part in value)),
    Setting("version", str, "", "DeepFlash version that installed the plug-in"),
    Setting("looks", list, [], "The looks the DeepFlash environment ships: name and description of each preset",
            lambda value: all(isinstance(look, dict) and isinstance(look.get("name"), str)
                              and isinstance(look.get("description", ""), str) for look in value)),
)

class SettingsFile:
    """Values of a fixed set of :class:`Setting` declarations, backed by one JSON file."""

    def __init__(self, declarations: Iterable[Setting], path: Path) -> None:
        self.declarations = {setting.name: setting for setting in declarations}
        self.path = path
        self.values: dict[str, Any] = {name: s.default for name, s in self.declarations.items()}

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def set(self, name: str, value: Any) -> None:
        """Change one value.

        Raises:
            KeyError: the name is not declared.
            ValueError: the value has the wrong type or is out of range.
        """
        setting = self.declarations[name]
        if not setting.accept(value):
            raise ValueError(f"{name}={value!r} is not a valid {setting.kind.__name__}")
        self.values[name] = float(value) if setting.kind is float else value

    def load(self) -> list[str]:
        """Read the file; missing, unreadable or invalid entries keep their defaults.

        Returns:
            One line per problem found (empty when the file was fine or absent), for the log.
        """
        if not self.path.exists():
            return []
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            return [f"{self.path}: unreadable ({error}); using defaults"]
        if not isinstance(stored, dict):
            return [f"{self.path}: not a JSON object; using defaults"]
        problems = []
        for name, value in stored.items():
            if name not in self.declarations:
                problems.append(f"{self.path}: unknown setting {name!r} ignored")
                continue
            try:
                self.set(name, value)
            except ValueError:
                default = self.declarations[name].default
                problems.append(f"{self.path}: {name}={value!r} is invalid; using {default!r}")
        return problems

    def save(self) -> None:
        """Write every value to the file (its folder is created when missing).

        Raises:
            OSError: the file cannot be written.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(self.values, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        temporary.replace(self.path)  # atomic: a crash never leaves half a file


def install_record(plugin_dir: Path) -> SettingsFile:
    """The install record of the plug-in installed in ``plugin_dir`` (not yet loaded)."""
    return SettingsFile(INSTALL_RECORD, plugin_dir / INSTALL_RECORD_NAME)
