"""The per-user folders of each operating system where DeepFlash, its server and the editors keep files.

Standard library only: the plug-ins carry it. Every function takes the environment and the ``sys.platform``
value to assume, so tests can ask for another user's or another system's folders.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

AREAS: dict[str, tuple[tuple[str, str], str, tuple[str, str]]] = {
    # area: (Windows variable, its default under the home), the folder under ~/Library on macOS,
    #       (XDG variable, its default under the home) elsewhere
    "config": (("APPDATA", "AppData/Roaming"), "Application Support", ("XDG_CONFIG_HOME", ".config")),
    "data": (("APPDATA", "AppData/Roaming"), "Application Support", ("XDG_DATA_HOME", ".local/share")),
    "preferences": (("LOCALAPPDATA", "AppData/Local"), "Preferences", ("XDG_CONFIG_HOME", ".config")),
    "state": (("LOCALAPPDATA", "AppData/Local"), "Logs", ("XDG_STATE_HOME", ".local/state")),
}
"""Where each kind of per-user file goes; an empty variable counts as unset, as the XDG specification says."""


def home_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's home folder (``HOME``, else ``USERPROFILE``, else the account's)."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("HOME") or environ.get("USERPROFILE") or Path.home())


def user_folder(area: str, environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The user's folder of one :data:`AREAS` kind, e.g. ``user_folder("config")`` is ``%APPDATA%`` on Windows,
    ``~/Library/Application Support`` on macOS and ``$XDG_CONFIG_HOME`` (default ``~/.config``) elsewhere."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    (windows, windows_default), mac, (xdg, xdg_default) = AREAS[area]
    if platform.startswith("win"):
        return Path(environ.get(windows) or home_dir(environ) / windows_default)
    if platform == "darwin":
        return home_dir(environ) / "Library" / mac
    return Path(environ.get(xdg) or home_dir(environ) / xdg_default)


def is_unix(platform: str | None = None) -> bool:
    """True on the systems that follow the XDG folders (neither Windows nor macOS)."""
    platform = sys.platform if platform is None else platform
    return not platform.startswith("win") and platform != "darwin"
