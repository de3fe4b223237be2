"""Where the plug-ins keep their log and settings files, per operating system."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from deepflash_client.user_folders import is_unix, user_folder


def user_config_dir(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The DeepFlash folder in the user's configuration area.

    Args:
        environ: environment to read (defaults to ``os.environ``); tests pass their own.
        platform: ``sys.platform`` value to assume.

    Returns:
        ``%APPDATA%\\DeepFlash`` on Windows, ``~/Library/Application Support/DeepFlash`` on macOS,
        ``$XDG_CONFIG_HOME/deepflash`` (default ``~/.config/deepflash``) elsewhere.
    """
    return user_folder("config", environ, platform) / ("deepflash" if is_unix(platform) else "DeepFlash")


def plugin_log_path(editor: str, environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The log file of one editor's plug-in, e.g. ``~/.config/deepflash/logs/gimp-plugin.log``."""
    return user_config_dir(environ, platform) / "logs" / f"{editor}-plugin.log"
