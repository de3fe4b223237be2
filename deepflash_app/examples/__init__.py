"""Example portraits shipped with DeepFlash (sources and licences in ``SOURCES.csv`` beside this file).

``flash_portrait_frl_012.jpg`` (1350×1350) is a Face Research Lab London portrait re-lit by DeepFlash's
virtual flash studio, shown under CC BY 4.0 with its attribution in ``SOURCES.csv``: the web page offers it
first, so the correction is seen at photo resolution. ``flash_portrait.jpg`` is the public-domain
``congress_A000014.jpg`` re-lit the same way: the photo the quick start corrects.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
FLASH_PORTRAIT = FOLDER / "flash_portrait.jpg"
"""The quick start's input (public domain)."""
LARGE_FLASH_PORTRAIT = FOLDER / "flash_portrait_frl_012.jpg"
"""The web page's first example (CC BY 4.0, attribution in SOURCES.csv)."""


def photos() -> list[Path]:
    """The example photos: the large flash portrait, the public-domain one, then their studio originals."""
    return [LARGE_FLASH_PORTRAIT, FLASH_PORTRAIT, *sorted(FOLDER.glob("congress_*.jpg"))]
