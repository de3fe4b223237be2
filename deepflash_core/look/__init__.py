"""Looks: what light and rendering a correction aims for, measured on a face, kept as presets, applied globally."""

from typing import Any

from deepflash_core.look.values import Look

__all__ = ["Look", "describe"]


def __getattr__(name: str) -> Any:
    # The descriptor loads OpenCV: only when it is used, so that checking a preset (the command line, before
    # it forks the detection child) loads no thread pool.
    if name == "describe":
        from deepflash_core.look.descriptor import describe

        return describe
    raise AttributeError(f"module 'deepflash_core.look' has no attribute {name!r}")
