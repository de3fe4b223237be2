"""The example photos ship inside the application package, readable, the flash portrait first."""

from __future__ import annotations

from deepflash_app import examples
from deepflash_core.imageio import load_photo


def test_the_examples_are_bundled_photos_with_the_large_flash_portrait_first():
    photos = examples.photos()
    assert photos[:2] == [examples.LARGE_FLASH_PORTRAIT, examples.FLASH_PORTRAIT] and len(photos) == 5
    for path in photos:
        assert path.parent == examples.FOLDER and "tests" not in path.parts
        photo = load_photo(path)
        assert photo.pixels.ndim == 3 and min(photo.pixels.shape[:2]) > 100
    sources = (examples.FOLDER / "SOURCES.csv").read_text()
    assert all(path.stem.removeprefix("congress_") in sources for path in photos[2:])


def test_the_first_example_is_at_least_a_megapixel_credited_and_small_enough_to_ship():
    photo = load_photo(examples.LARGE_FLASH_PORTRAIT)
    assert photo.width * photo.height >= 1_000_000
    assert examples.LARGE_FLASH_PORTRAIT.stat().st_size <= 400_000
    sources = (examples.FOLDER / "SOURCES.csv").read_text()
    assert examples.LARGE_FLASH_PORTRAIT.name in sources and "doi:10.6084/m9.figshare.5047666.v5" in sources
