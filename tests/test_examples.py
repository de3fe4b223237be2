"""The example photos ship inside the application package, readable, the flash portrait first."""

from __future__ import annotations

from deepflash_app import examples
from deepflash_core.imageio import load_photo


def test_the_examples_are_bundled_photos_with_the_flash_portrait_first():
    photos = examples.photos()
    assert photos[0] == examples.FLASH_PORTRAIT and len(photos) == 4
    for path in photos:
        assert path.parent == examples.FOLDER and "tests" not in path.parts
        photo = load_photo(path)
        assert photo.pixels.ndim == 3 and min(photo.pixels.shape[:2]) > 100
    sources = (examples.FOLDER / "SOURCES.csv").read_text()
    assert all(path.stem.removeprefix("congress_") in sources for path in photos[1:])
