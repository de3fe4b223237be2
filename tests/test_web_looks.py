"""The page's looks through its API: a preset or the photo's own look, a reference portrait described once,
bad references refused in one line, and the look sweep (``/look_sweep``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the web extra is not installed")

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from deepflash_client.options import DEFAULT_LOOK, LOOK_AS_SHOT  # noqa: E402
from deepflash_core.imageio import load_photo  # noqa: E402
from deepflash_core.look.presets import preset_names  # noqa: E402
from deepflash_core.look.reference import describe_reference  # noqa: E402
from test_web_options import Recording, client, recording  # noqa: E402,F401 (fixtures)
from deepflash_web.looks import REFERENCE, look_choices  # noqa: E402
from portraits import EXAMPLES

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

REFERENCE_PORTRAIT = EXAMPLES / "congress_A000055.jpg"


def with_look(client: Client, photo: Path, look: str, reference: Path | None = None) -> tuple:
    return client.predict(handle_file(str(photo)), 1.0, "faces", "keep", True, False, look,
                          handle_file(str(reference)) if reference else None, api_name="/correct")


def refusal(client: Client, photo: Path, look: str, reference: Path | None = None) -> str:
    with pytest.raises(AppError) as caught:
        with_look(client, photo, look, reference)
    message = str(caught.value)
    assert "Traceback" not in message and "\n" not in message.strip()
    return message


def test_the_menu_offers_every_preset_default_first_the_photos_own_look_and_the_reference():
    values = [value for _, value in look_choices()]
    assert values == [DEFAULT_LOOK, *sorted(set(preset_names()) - {DEFAULT_LOOK}), LOOK_AS_SHOT, REFERENCE]


def test_a_preset_and_the_photos_own_look_reach_the_pipeline_by_name(client: Client, recording: Recording,
                                                                      portrait_path: Path) -> None:
    for look in ("neutral-studio", LOOK_AS_SHOT):
        with_look(client, portrait_path, look)
        assert recording.options[-1].look == look


def test_a_reference_portrait_is_described_once_and_its_numbers_are_the_look(client: Client, recording: Recording,
                                                                             portrait_path: Path) -> None:
    expected = describe_reference(load_photo(REFERENCE_PORTRAIT).pixels).as_vector()
    _, _, first, _, _ = with_look(client, portrait_path, REFERENCE, REFERENCE_PORTRAIT)
    assert recording.options[-1].look == pytest.approx(expected)
    _, _, default, _, _ = with_look(client, portrait_path, DEFAULT_LOOK)
    assert not np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(default)))


def greyscale(path: Path, folder: Path) -> Path:
    grey = folder / "grey_reference.jpg"
    Image.open(REFERENCE_PORTRAIT).convert("L").convert("RGB").save(grey)
    return grey


def tiny(path: Path, folder: Path) -> Path:
    small = folder / "tiny_reference.png"
    image = Image.open(REFERENCE_PORTRAIT)
    image.resize((image.width // 4, image.height // 4)).save(small)
    return small


def faceless(path: Path, folder: Path) -> Path:
    wall = folder / "wall.png"
    Image.fromarray(np.full((240, 200, 3), 90, np.uint8)).save(wall)
    return wall


def not_a_photo(path: Path, folder: Path) -> Path:
    text = folder / "notes.png"
    text.write_text("a reference, honestly")
    return text


@pytest.mark.parametrize(("make", "words"), [
    (greyscale, "grey_reference.jpg: The reference is greyscale; a look is taken from a colour photo."),
    (tiny, "tiny_reference.png: The reference's face is"),
    (faceless, "wall.png: The reference has no face; a look is taken from a portrait."),
    (not_a_photo, "notes.png: not an image file DeepFlash can read."),
])
def test_a_bad_reference_is_one_line_and_nothing_is_corrected(client: Client, recording: Recording,
                                                              portrait_path: Path, tmp_path: Path, make, words) -> None:
    before = len(recording.options)
    assert words in refusal(client, portrait_path, REFERENCE, make(REFERENCE_PORTRAIT, tmp_path))
    assert len(recording.options) == before  # nothing fell back to a preset


def test_the_reference_look_without_a_reference_and_an_unknown_look_are_refused(client: Client,
                                                                               portrait_path: Path) -> None:
    assert "Upload a reference portrait" in refusal(client, portrait_path, REFERENCE)
    assert "look must be one of" in refusal(client, portrait_path, "sepia")


def test_the_sweep_shows_the_photo_small_under_every_look_and_the_references(client: Client, recording: Recording) -> None:
    # A flash photo whose eye whites the look reads: each preset moves its colour its own way.
    portrait_path = EXAMPLES / "flash_portrait.jpg"
    sweep = client.predict(handle_file(str(portrait_path)), 1.0, "faces", "keep", True, None, api_name="/look_sweep")
    values = [value for _, value in look_choices() if value != REFERENCE]
    assert len(sweep) == len(values)  # every look but the reference's, which needs a portrait
    previews = [np.asarray(Image.open(item["image"])) for item in sweep]
    assert all(max(preview.shape[:2]) <= 384 for preview in previews)
    assert len({preview.tobytes() for preview in previews}) == len(previews)  # each look changed the photo its way
    assert [options.look for options in recording.options[-len(sweep):]] == values
    with_reference = client.predict(handle_file(str(portrait_path)), 1.0, "faces", "keep", True,
                                    handle_file(str(REFERENCE_PORTRAIT)), api_name="/look_sweep")
    assert len(with_reference) == len(sweep) + 1 and with_reference[-1]["caption"] == "The reference portrait's"
