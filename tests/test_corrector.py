"""Where a correction runs: ``open_corrector`` chooses the server or this process, and the CLI hands one Options."""

from __future__ import annotations

import click
import numpy as np
import pytest
from click.testing import CliRunner

from deepflash_app.commands.correction_options import correction_options
from deepflash_client.errors import ServerUnavailableError
from deepflash_client.options import Options
from deepflash_core.corrector import InProcessCorrector, ServerCorrector, open_corrector
from server_helpers import free_port


def test_a_server_that_does_not_answer_fails_when_the_corrector_opens():
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ServerUnavailableError, match=address):
        open_corrector(address, timeout_s=2.0, retries=0)


def test_without_a_server_the_pipeline_loads_in_this_process(tiny_weights):
    corrector = open_corrector(weights=tiny_weights, device="cpu")
    assert isinstance(corrector, InProcessCorrector) and not isinstance(corrector, ServerCorrector)
    pixels = np.full((64, 48, 3), 120, np.uint8)
    result = corrector.correct(pixels, Options(whole_image=True))
    assert result.pixels.shape == pixels.shape and result.pixels.dtype == np.uint8


def _recording_command(seen: list) -> click.Command:
    @click.command()
    @correction_options
    @click.option("--device", default="auto")
    def command(options: Options, device: str) -> None:
        seen.append((options, device))

    return command


def test_the_correction_flags_reach_the_command_as_one_options():
    seen: list = []
    result = CliRunner().invoke(_recording_command(seen), ["--strength", "0.25", "--whole-image", "--background",
                                                          "lift", "--no-red-eye", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert seen == [(Options(strength=0.25, whole_image=True, background="lift", red_eye=False), "cpu")]
    assert CliRunner().invoke(_recording_command(seen), []).exit_code == 0
    assert seen[-1] == (Options(), "auto")


def test_a_value_options_refuse_is_a_usage_error_naming_the_flag():
    seen: list = []
    result = CliRunner().invoke(_recording_command(seen), ["--strength", "nan"])
    assert result.exit_code == 2 and not seen
    assert "'--strength'" in result.output and "nan" in result.output
