"""``deepflash process`` runs: an absent or lost server, unwritable outputs, NaN, untouched photos, notes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepflash_app.commands import process as process_command
from deepflash_client.errors import ServerUnavailableError
from deepflash_core.result import Result as Correction
from server_helpers import free_port
from test_cli import error_lines, no_installed_weights, run  # noqa: F401 (an autouse fixture)
from portraits import EXAMPLES

PORTRAIT = EXAMPLES / "congress_A000014.jpg"


def folder_of(tmp_path: Path, count: int, convert=None) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(count):
        if convert is None:
            shutil.copyfile(PORTRAIT, folder / f"p{index}.jpg")
        else:
            convert(Image.open(PORTRAIT)).save(folder / f"p{index}.jpg")
    return folder


class Recorder:
    """A corrector that records its calls and answers with ``answer(pixels)`` (or raises it)."""

    description = "in a test"

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls = 0

    def correct(self, pixels, options, progress=None):
        self.calls += 1
        return self.answer(pixels)


def test_no_server_is_one_line_for_a_whole_folder_and_nothing_is_written(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    result = run("process", folder_of(tmp_path, 3), "--out-dir", tmp_path / "out", "--server", address)
    assert result.exit_code == 1
    errors = error_lines(result)
    assert len(errors) == 1 and f"No DeepFlash server answers at {address}" in errors[0]
    assert "stopped answering" not in result.stderr
    assert not list((tmp_path / "out").glob("*.jpg"))


def test_a_server_lost_during_a_folder_stops_the_run_after_the_first_photo(tmp_path: Path, monkeypatch) -> None:
    def lost(pixels):
        raise ServerUnavailableError("The DeepFlash server at tcp://127.0.0.1:1 stopped answering during the request.")

    corrector = Recorder(lost)
    monkeypatch.setattr(process_command, "_corrector", lambda *args: corrector)
    result = run("process", folder_of(tmp_path, 4), "--out-dir", tmp_path / "out", "--server", "tcp://127.0.0.1:1")
    assert result.exit_code == 1
    assert corrector.calls == 1
    assert any("stopped answering during the request" in line for line in error_lines(result))
    assert any("3 photos not sent" in line for line in error_lines(result))
    assert "0 corrected, 4 failed" in result.stderr


def test_an_unwritable_output_is_refused_in_one_line_before_the_model_loads(tmp_path: Path) -> None:
    # No weights are installed: loading the model would fail with its own message.
    result = run("process", PORTRAIT, "-o", "/proc/deepflash-result.jpg")
    assert result.exit_code == 1
    assert error_lines(result) == ["deepflash: /proc/deepflash-result.jpg: cannot write into /proc "
                             "(the folder does not take new files)."]
    result = run("process", PORTRAIT, "-o", tmp_path / "missing" / "out.jpg")
    assert result.exit_code == 1 and len(error_lines(result)) == 1 and "does not exist" in result.stderr


def test_a_folder_into_an_unwritable_folder_is_named_once(tmp_path: Path, monkeypatch) -> None:
    corrector = Recorder(lambda pixels: Correction(pixels, []))
    monkeypatch.setattr(process_command, "_corrector", lambda *args: corrector)
    result = run("process", folder_of(tmp_path, 3), "--out-dir", "/proc/sys")
    assert result.exit_code == 1 and corrector.calls == 0
    assert len([line for line in error_lines(result) if "/proc/sys" in line]) == 2  # the refusal, then "2 more"
    assert "2 more photos" in result.stderr


@pytest.mark.parametrize("value", ["nan", "NaN", "-nan"])
def test_nan_strength_is_refused_when_the_arguments_are_parsed(tmp_path: Path, monkeypatch, value: str) -> None:
    corrector = Recorder(lambda pixels: Correction(pixels, []))
    monkeypatch.setattr(process_command, "_corrector", lambda *args: corrector)
    result = run("process", PORTRAIT, "-o", tmp_path / "out.jpg", "--strength", value)
    assert result.exit_code == 2 and corrector.calls == 0
    reasons = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(reasons) == 1 and "--strength" in reasons[0] and "nan" in reasons[0]
    assert not (tmp_path / "out.jpg").exists()


def test_an_unchanged_photo_is_copied_byte_for_byte(tmp_path: Path, monkeypatch) -> None:
    corrector = Recorder(lambda pixels: Correction(pixels.copy(), [], warnings=["strength 0: the photo is returned unchanged"]))
    monkeypatch.setattr(process_command, "_corrector", lambda *args: corrector)
    result = run("process", PORTRAIT, "-o", tmp_path / "same.jpg", "--strength", "0")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "same.jpg").read_bytes() == PORTRAIT.read_bytes()
    # Another format cannot be a copy: written from the same pixels instead.
    result = run("process", PORTRAIT, "-o", tmp_path / "same.png", "--strength", "0")
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.asarray(Image.open(tmp_path / "same.png")), np.asarray(Image.open(PORTRAIT)))


def test_a_changed_photo_is_written_not_copied(tmp_path: Path, monkeypatch) -> None:
    corrector = Recorder(lambda pixels: Correction(255 - pixels, []))
    monkeypatch.setattr(process_command, "_corrector", lambda *args: corrector)
    result = run("process", PORTRAIT, "-o", tmp_path / "out.jpg")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.jpg").read_bytes() != PORTRAIT.read_bytes()


def test_help_says_what_stays_exact_and_how_a_jpeg_is_written() -> None:
    text = " ".join(run("process", "--help").output.split())
    assert "(with --background keep), pixels stay exactly as they were in lossless formats (PNG, TIFF)" in text
    assert "JPEG output is written at the source's quality and chroma subsampling" in text
    assert "copied byte for byte" in text
    assert "pixels away from the faces are left exactly as they were" not in text


def test_conversion_notes_are_printed_once_per_folder_and_per_photo_with_verbose(tmp_path: Path, monkeypatch) -> None:
    corrector = Recorder(lambda pixels: Correction(255 - pixels, []))
    monkeypatch.setattr(process_command, "_corrector", lambda *args: corrector)
    folder = folder_of(tmp_path, 3, convert=lambda image: image.convert("CMYK"))
    result = run("process", folder, "--out-dir", tmp_path / "out")
    assert result.exit_code == 0, result.output
    noted = [line for line in error_lines(result) if "CMYK converted to RGB" in line]
    assert noted == ["deepflash: note: CMYK converted to RGB (3 of 3 photos; -v names them)"]
    result = run("process", folder, "--out-dir", tmp_path / "out-v", "-v")
    noted = [line for line in error_lines(result) if "CMYK converted to RGB" in line]
    assert sorted(noted) == [f"deepflash: {tmp_path / 'out-v' / f'p{i}.jpg'}: note: CMYK converted to RGB" for i in range(3)]
    result = run("process", folder / "p0.jpg", "-o", tmp_path / "one.png")
    assert [line for line in error_lines(result) if "note:" in line] == [
        f"deepflash: {tmp_path / 'one.png'}: note: CMYK converted to RGB"]
    result = run("process", folder, "--out-dir", tmp_path / "out-q", "-q")
    assert "note" not in result.stderr


def test_the_collector_is_held_off_while_the_model_loads_and_back_on_for_the_photos(tmp_path: Path, monkeypatch) -> None:
    import gc

    seen = []

    def loading(*args):
        seen.append(gc.isenabled())
        return Recorder(lambda pixels: Correction(pixels, []))

    monkeypatch.setattr(process_command, "_corrector", loading)
    frozen = gc.get_freeze_count()
    try:
        result = run("process", PORTRAIT, "-o", tmp_path / "out.jpg")
        assert result.exit_code == 0, result.output
        assert seen == [False], "no collection while torch is imported and the model loaded"
        assert gc.isenabled()
        assert gc.get_freeze_count() > frozen, "what was loaded is kept out of later collections"
    finally:
        gc.unfreeze()
        gc.enable()


def test_an_mpo_photo_in_a_folder_is_listed_as_it_is_given_directly(tmp_path: Path, portrait_path: Path) -> None:
    from deepflash_app.batch import sources

    shutil.copy(portrait_path, tmp_path / "stereo_left.mpo")  # what cameras write: a JPEG Pillow reads as MPO
    shutil.copy(portrait_path, tmp_path / "plain.jpg")
    photos, failures = process_command.expand_inputs([tmp_path])
    assert [photo.name for photo in photos] == ["plain.jpg", "stereo_left.mpo"] and failures == []
    listed, failures = sources.list_photos([str(tmp_path)])  # deepflash batch
    assert [Path(photo).name for photo in listed] == ["plain.jpg", "stereo_left.mpo"] and failures == []


def loop(folder: Path, name: str) -> Path:
    """A symbolic link that leads back to itself through a second one."""
    (folder / f"{name}.other.jpg").symlink_to(folder / name)
    (folder / name).symlink_to(folder / f"{name}.other.jpg")
    return folder / name


def test_symlink_loops_as_input_output_or_in_the_output_folder_are_one_line(tmp_path: Path, monkeypatch) -> None:
    from test_cli import assert_clean_failure

    corrector = Recorder(lambda pixels: Correction(255 - pixels, []))
    monkeypatch.setattr(process_command, "_corrector", lambda *args: corrector)
    looped_input = loop(tmp_path, "in.jpg")
    result = run("process", looped_input, "-o", tmp_path / "out.jpg")
    assert_clean_failure(result)
    assert "symbolic link" in result.stderr and "loop" in result.stderr
    # As the output, or an entry of the output folder: the link is replaced by the result, as a file would be.
    for target in (loop(tmp_path, "out.jpg"), None):
        out_dir = tmp_path / "outs"
        if target is None:
            out_dir.mkdir()
            loop(out_dir, PORTRAIT.name)
        result = run("process", PORTRAIT, *(["-o", target] if target else ["--out-dir", out_dir]))
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
        written = target or out_dir / PORTRAIT.name
        assert not written.is_symlink() and Image.open(written).size == Image.open(PORTRAIT).size


def test_a_file_name_with_a_newline_and_a_terminal_escape_is_printed_escaped_and_once(tmp_path: Path,
                                                                                       monkeypatch) -> None:
    monkeypatch.setattr(process_command, "_corrector", lambda *args: Recorder(lambda pixels: Correction(pixels, [])))
    name = "bad\nname\x1b[31mred.jpg"
    (tmp_path / name).write_text("not an image")
    result = run("process", tmp_path / name, "-o", tmp_path / "out.jpg")
    lines = error_lines(result)
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "\x1b" not in result.stderr
    assert lines[0].count("name\\x1b[31mred.jpg") == 1 and "bad\\nname" in lines[0], lines
