"""Looks where they are chosen: ``deepflash look``, ``deepflash looks``, ``process --look``, and the pipeline's look stage."""

from __future__ import annotations

import dataclasses
import json
import shlex
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepflash_app.commands import process as process_command
from deepflash_client.options import DEFAULT_LOOK, LOOK_AS_SHOT, LOOK_NAMES, Options
from deepflash_core.look import Look
from deepflash_core.look.presets import preset_names, read_preset
from deepflash_core.pipeline import Pipeline
from deepflash_core.result import Result as Correction
from test_cli import error_lines, no_installed_weights, run  # noqa: F401 (an autouse fixture)
from test_pipeline import portrait, portrait_on_noise, random_pipe  # noqa: F401 (fixtures)
from portraits import EXAMPLES

PORTRAIT = EXAMPLES / "congress_A000022.jpg"


def recorded_options(monkeypatch) -> list[Options]:
    """The options ``deepflash process`` sends, recorded by a corrector standing in for the model."""
    seen: list[Options] = []

    class Recorder:
        description = "in a test"

        def correct(self, pixels, options, progress=None):
            seen.append(options)
            return Correction(255 - pixels, [])

    monkeypatch.setattr(process_command, "_corrector", lambda *args: Recorder())
    return seen


def test_look_prints_the_numbers_and_saves_a_preset_with_its_sources(tmp_path: Path) -> None:
    result = run("look", PORTRAIT, "--json")
    assert result.exit_code == 0, result.output
    look = json.loads(result.stdout)
    assert list(look) == list(LOOK_NAMES)
    saved = tmp_path / "mine.json"
    result = run("look", PORTRAIT, EXAMPLES / "congress_A000055.jpg", "--save", saved, "--keep", "white_a",
                 "--licence", "public domain", "--attribution", "US GPO", "--description", "two portraits")
    assert result.exit_code == 0, result.output
    preset = read_preset(saved)
    assert preset.look.white_a is None and preset.look.white_b is not None
    assert [s["file"] for s in preset.sources] == ["congress_A000022.jpg", "congress_A000055.jpg"]
    assert all(s["licence"] == "public domain" and s["attribution"] == "US GPO" for s in preset.sources)
    # The provenance is a command to run again in the collection: no path of the machine that wrote it.
    assert str(tmp_path) not in preset.command and str(EXAMPLES) not in preset.command
    assert shlex.split(preset.command) == ["deepflash", "look", "congress_A000022.jpg", "congress_A000055.jpg",
                                           "--save", "mine.json", "--keep", "white_a", "--licence", "public domain",
                                           "--attribution", "US GPO", "--description", "two portraits"]


def test_a_bad_reference_is_one_line(tmp_path: Path) -> None:
    grey = tmp_path / "grey.png"
    Image.open(PORTRAIT).convert("L").convert("RGB").save(grey)
    result = run("look", grey)
    assert result.exit_code == 1 and error_lines(result) == [f"deepflash: {grey}: The reference is greyscale; a look is taken from a colour photo."]
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (128, 128, 128)).save(blank)
    result = run("process", PORTRAIT, "-o", tmp_path / "out.jpg", "--look", blank)
    assert result.exit_code != 0 and "The reference has no face" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out.jpg").exists()


def test_looks_lists_every_preset_and_marks_the_default() -> None:
    result = run("looks")
    assert result.exit_code == 0, result.output
    for name in preset_names():
        assert name in result.stdout
    assert f"{DEFAULT_LOOK} (default)" in result.stdout and LOOK_AS_SHOT in result.stdout


@pytest.mark.parametrize("given", ["keep-colour", "reference"])
def test_process_sends_the_chosen_look_in_the_options(tmp_path: Path, monkeypatch, given: str) -> None:
    seen = recorded_options(monkeypatch)
    value = EXAMPLES / "congress_A000055.jpg" if given == "reference" else given
    result = run("process", PORTRAIT, "-o", tmp_path / "out.jpg", "--look", value)
    assert result.exit_code == 0, result.output
    if given == "reference":
        assert isinstance(seen[0].look, tuple) and Look.from_vector(seen[0].look).complete
    else:
        assert seen[0].look == "keep-colour"


def test_an_unknown_look_name_is_refused_naming_the_presets(tmp_path: Path) -> None:
    result = run("process", PORTRAIT, "-o", tmp_path / "out.jpg", "--look", "Bogus Look")
    assert result.exit_code != 0 and "look" in result.output


def test_the_look_changes_the_person_and_never_the_backdrop(random_pipe: Pipeline) -> None:  # noqa: F811
    canvas, _ = portrait_on_noise()
    own = random_pipe.process(canvas, Options(look=LOOK_AS_SHOT, with_matte=True))
    warm = random_pipe.process(canvas, Options(look="warm-studio", with_matte=True))
    assert "look" in warm.timings
    backdrop = warm.matte == 0
    assert np.array_equal(warm.pixels[backdrop], canvas[backdrop])
    person = warm.matte == 255
    assert np.abs(warm.pixels[person].astype(int) - own.pixels[person]).mean() > 3


def test_the_whole_image_mode_keeps_the_photos_own_look_and_says_so(random_pipe: Pipeline) -> None:  # noqa: F811
    pixels = portrait()
    result = random_pipe.process(pixels, Options(whole_image=True))
    same = random_pipe.process(pixels, Options(whole_image=True, look=LOOK_AS_SHOT))
    assert np.array_equal(result.pixels, same.pixels)
    assert any("keeps its own" in warning for warning in result.warnings)


def test_a_model_conditioned_on_looks_gets_the_requested_look(random_pipe: Pipeline) -> None:  # noqa: F811
    seen: list[torch.Tensor | None] = []
    network = random_pipe.model

    class Conditioned(torch.nn.Module):
        config = types.SimpleNamespace(input_size=random_pipe.input_size, look_dim=len(LOOK_NAMES))

        def forward(self, batch, look=None):
            seen.append(look)
            return network(batch)

    pipe = Pipeline(Conditioned(), dataclasses.replace(random_pipe.card, config=Conditioned.config))
    pipe.process(portrait(), Options(look="neutral-studio"))
    assert seen[0] is not None and tuple(seen[0].shape) == (1, len(LOOK_NAMES))
    assert torch.all(seen[0].abs() <= 1)
    pipe.process(portrait(), Options(whole_image=True))
    assert seen[1] is None


def test_key_moves_the_looks_key_light_to_the_side_asked_for(tmp_path: Path, monkeypatch) -> None:
    seen = recorded_options(monkeypatch)
    for side in ("left", "right"):
        result = run("process", PORTRAIT, "-o", tmp_path / f"{side}.jpg", "--look", "keep-colour", "--key", side)
        assert result.exit_code == 0, result.output
    left, right = (Look.from_vector(options.look) for options in seen)
    assert left.key_x < 0 < right.key_x
    assert left.white_a is None and left.face_lightness == read_preset(
        Path(__file__).parents[1] / "deepflash_core/look/presets/keep-colour.json").look.face_lightness
