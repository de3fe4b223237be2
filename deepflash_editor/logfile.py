"""A per-editor log file that always exists, so every error message can name it."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from deepflash_editor.paths import plugin_log_path


def open_log(editor: str, path: Path | None = None) -> tuple[logging.Logger, Path]:
    """A logger writing to the plug-in's log file (created with its folder when missing).

    Args:
        editor: ``"gimp"`` or ``"krita"``; names the logger and the file.
        path: log file to use instead of the per-user default.

    Returns:
        The logger and the path of its file. When the file cannot be created the
        logger writes nowhere and the path is still returned for messages.
    """
    path = plugin_log_path(editor) if path is None else path
    logger = logging.getLogger(f"deepflash.{editor}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        if getattr(handler, "baseFilename", None) == str(path.absolute()):
            return logger, path
        logger.removeHandler(handler)
        handler.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Rotating keeps a long-lived editor session from growing the file without bound.
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=2, encoding="utf-8")
    except OSError:
        logger.addHandler(logging.NullHandler())
        return logger, path
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger, path
