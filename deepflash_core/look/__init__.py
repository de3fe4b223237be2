"""Looks: what light and rendering a correction aims for, measured on a face, kept as presets, applied globally."""

from deepflash_core.look.descriptor import Look, describe

__all__ = ["Look", "describe"]
