"""The page's options (background, red eyes, the subject matte) and refused values, through ``/correct``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the web extra is not installed")

from gradio_client import Client, handle_file  # noqa: E402

from deepflash_client.errors import InvalidOptionError  # noqa: E402
from deepflash_client.options import Options  # noqa: E402
from deepflash_core.corrector import InProcessCorrector  # noqa: E402
from test_web import correct, error_of, page_client  # noqa: E402
from deepflash_web.app import _options  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")


class Recording:
    """The real corrector, remembering the options of every request."""

    def __init__(self, inner: InProcessCorrector) -> None:
        self.inner = inner
        self.description = inner.description
        self.options: list[Options] = []

    def correct(self, pixels, options, progress=None):
        self.options.append(options)
        return self.inner.correct(pixels, options, progress=progress)


@pytest.fixture(scope="module")
def recording(tiny_weights: Path) -> Recording:
    return Recording(InProcessCorrector.load(weights=tiny_weights, device="cpu"))


@pytest.fixture(scope="module")
def client(recording: Recording, tmp_path_factory: pytest.TempPathFactory):
    with page_client(recording, tmp_path_factory.mktemp("web-results")) as page:
        yield page


def test_background_red_eye_and_matte_reach_the_pipeline_as_options(client: Client, recording: Recording,
                                                                     portrait_path: Path) -> None:
    (before, after), _, download, _, matte = correct(client, portrait_path, background="lift", red_eye=False,
                                                     show_matte=True)
    assert recording.options[-1] == Options(background="lift", red_eye=False, with_matte=True)
    person = np.asarray(Image.open(matte))
    assert person.shape[:2] == (275, 225)
    assert person[140, 112].min() > 200 and person[5, 5].max() < 50  # white on the face, black in the corner
    assert Image.open(download).size == (225, 275)


@pytest.mark.parametrize("strength", [0.3, 0.8])
def test_the_in_process_page_applies_the_strength_slider(client: Client, recording: Recording, portrait_path: Path,
                                                         tmp_path: Path, strength: float) -> None:
    from deepflash_core.imageio import load_photo

    upload = tmp_path / "portrait.png"  # lossless, so the download holds the pipeline's pixels exactly
    Image.open(portrait_path).convert("RGB").save(upload)
    (_, _), _, download, _, _ = correct(client, upload, strength=strength)
    assert recording.options[-1] == Options(strength=strength)
    pixels = load_photo(upload).pixels
    expected = recording.inner.pipeline.process(pixels, Options(strength=strength)).pixels
    assert np.array_equal(np.asarray(Image.open(download)), expected)
    full = recording.inner.pipeline.process(pixels, Options()).pixels
    assert not np.array_equal(expected, full)  # the slider's value matters for this photo


def test_the_defaults_of_the_page_are_those_of_options(client: Client, recording: Recording,
                                                       portrait_path: Path) -> None:
    client.predict(handle_file(str(portrait_path)), 1.0, "faces", api_name="/correct")  # older three-value calls
    assert recording.options[-1] == Options()


@pytest.mark.parametrize("strength", ["nan", "NaN", "inf", "-Infinity"])
def test_a_non_finite_strength_is_refused_in_one_line(client: Client, portrait_path: Path, strength: str) -> None:
    # JSON has no NaN, so a client sends it as text (gradio_client refuses to encode a float NaN at all).
    message = error_of(client, portrait_path, strength=strength)
    assert "strength must be a number between 0 and 1" in message


@pytest.mark.parametrize("strength", [10**400, True, "0.5"], ids=["1e400", "true", "text"])
def test_a_strength_the_protocol_refuses_is_refused_by_name(client: Client, recording: Recording,
                                                            portrait_path: Path, strength) -> None:
    corrected = len(recording.options)
    message = error_of(client, portrait_path, strength=strength)
    assert "strength must be a number between 0 and 1" in message
    assert len(recording.options) == corrected  # nothing reached the pipeline


@pytest.mark.parametrize(("values", "words"), [
    ((float("nan"), "faces"), "strength"),
    ((1.0, "faces", "blur"), "background"),
    ((1.0, "faces", "keep", "yes"), "red_eye"),
    ((1.0, "faces", "keep", True, 1), "with_matte"),
])
def test_the_form_values_are_checked_as_options(values: tuple, words: str) -> None:
    with pytest.raises(InvalidOptionError, match=words):
        _options(*values)
