"""``deepflash batch --look``: a preset checked, or a reference portrait described once, before Ray starts, and the
look's numbers handed to every worker in the job's settings."""

from __future__ import annotations


import pytest

pytest.importorskip("ray")

from deepflash_app.commands import batch as batch_command  # noqa: E402
from deepflash_app.commands import look as look_command  # noqa: E402
from deepflash_core.look.reference import describe_reference  # noqa: E402
from deepflash_core.imageio import load_photo  # noqa: E402
from test_cli import run  # noqa: E402
from portraits import EXAMPLES

REFERENCE = EXAMPLES / "congress_A000055.jpg"


@pytest.fixture
def handed_to_workers(monkeypatch) -> list:
    """The settings batch would hand to Ray's workers (`--runner ray`; Ray itself is not started)."""
    seen: list = []

    def run_job(todo, settings, *args):
        seen.append((len(todo), settings))
        return ""

    monkeypatch.setattr(batch_command, "_run", run_job)
    return seen


def test_a_reference_is_described_once_and_its_numbers_go_to_every_worker(handed_to_workers, monkeypatch, tmp_path):
    described = []
    real = look_command.reference_look
    monkeypatch.setattr(look_command, "reference_look", lambda path: described.append(path) or real(path))
    result = run("batch", EXAMPLES / "congress_A000014.jpg", EXAMPLES / "congress_A000022.jpg", EXAMPLES / "flash_portrait.jpg",
                 "--out", tmp_path / "out", "--look", REFERENCE, "--runner", "ray")
    assert result.exit_code == 0, result.output
    assert described == [REFERENCE]
    [(photos, settings)] = handed_to_workers
    assert photos == 3
    assert settings.options.look == describe_reference(load_photo(REFERENCE).pixels).as_vector()


def test_a_preset_goes_to_the_workers_by_name_and_an_unknown_one_stops_the_job_first(handed_to_workers, tmp_path):
    result = run("batch", EXAMPLES / "congress_A000014.jpg", "--out", tmp_path / "out", "--look", "neutral-studio", "--runner", "ray")
    assert result.exit_code == 0, result.output
    assert handed_to_workers[0][1].options.look == "neutral-studio"
    result = run("batch", EXAMPLES / "congress_A000014.jpg", "--out", tmp_path / "other", "--look", "noir")
    assert result.exit_code == 2 and "Unknown look 'noir'" in result.output
    assert len(handed_to_workers) == 1 and not (tmp_path / "other").exists()


def test_a_bad_reference_stops_the_job_in_one_line_before_any_photo(handed_to_workers, tmp_path):
    from PIL import Image

    grey = tmp_path / "grey.jpg"
    Image.open(REFERENCE).convert("L").save(grey)
    result = run("batch", EXAMPLES / "congress_A000014.jpg", "--out", tmp_path / "out", "--look", grey)
    assert result.exit_code == 2 and f"{grey}: The reference is greyscale" in result.output
    assert "Traceback" not in result.output and not handed_to_workers


def test_batch_and_process_toward_one_reference_write_the_same_file(tiny_weights, tmp_path):
    photo = EXAMPLES / "congress_A000014.jpg"
    result = run("batch", photo, "--out", tmp_path / "batch", "--look", REFERENCE, "--weights", tiny_weights,
                 "--device", "cpu", "--runner", "here", "-q")
    assert result.exit_code == 0, result.output
    result = run("process", photo, "-o", tmp_path / "process.jpg", "--look", REFERENCE, "--weights", tiny_weights,
                 "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "batch" / photo.name).read_bytes() == (tmp_path / "process.jpg").read_bytes()
    result = run("process", photo, "-o", tmp_path / "default.jpg", "--weights", tiny_weights, "--device", "cpu")
    assert (tmp_path / "default.jpg").read_bytes() != (tmp_path / "process.jpg").read_bytes()
