"""Where the plug-ins keep their log and settings files, per operating system."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path


def user_config_dir(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The DeepFlash folder in the user's configuration area.

    Args:
        environ: environment to read (defaults to ``os.environ``); tests pass their own.
        platform: ``sys.platform`` value to assume.

    Returns:
        ``%APPDATA%\\DeepFlash`` on Windows, ``~/Library/Application Support/DeepFlash`` on macOS,
        ``$XDG_CONFIG_HOME/deepflash`` (default ``~/.config/deepflash``) elsewhere.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    home = Path(environ.get("HOME") or environ.get("USERPROFILE") or Path.home())
    if platform.startswith("win"):
        return Path(environ.get("APPDATA") or home / "AppData" / "Roaming") / "DeepFlash"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "DeepFlash"
    return Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "deepflash"


def plugin_log_path(editor: str, environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The log file of one editor's plug-in, e.g. ``~/.config/deepflash/logs/gimp-plugin.log``."""
    return user_config_dir(environ, platform) / "logs" / f"{editor}-plugin.log"
