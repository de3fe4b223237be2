"""Where tests find photos: the shipped examples (read, never copied into tests/) and the test-only eye crops."""

from __future__ import annotations

from pathlib import Path

from deepflash_app.examples import FOLDER as EXAMPLES

FIXTURES = Path(__file__).resolve().parent / "fixtures"  # red-eye and glare crops, and the script that makes them
PORTRAIT = EXAMPLES / "congress_A000014.jpg"  # public-domain studio portrait (225×275 JPEG), one face
STUDIO_PORTRAITS = sorted(EXAMPLES.glob("congress_*.jpg"))  # the three studio originals



def path_of(name: str) -> Path:
    """A photo by file name: a shipped example, else a test-only crop of fixtures/."""
    return EXAMPLES / name if (EXAMPLES / name).is_file() else FIXTURES / name
