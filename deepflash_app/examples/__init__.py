"""Public-domain example portraits shipped with DeepFlash (sources in ``SOURCES.csv`` beside this file).

``flash_portrait.jpg`` is ``congress_A000014.jpg`` re-lit by DeepFlash's virtual flash studio: the photo the
quick start corrects and the web page offers first.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
FLASH_PORTRAIT = FOLDER / "flash_portrait.jpg"


def photos() -> list[Path]:
    """The example photos, the flash portrait first."""
    return [FLASH_PORTRAIT, *sorted(FOLDER.glob("congress_*.jpg"))]
