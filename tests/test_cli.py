"""``deepflash process`` and ``deepflash info`` from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from deepflash_app.cli import cli
from deepflash_client.options import Options
from deepflash_core.network import weights as weights_module
from deepflash_core.network.unet import FlashUNet, ModelConfig
from deepflash_core.network.weights import ModelCard, save_model
from portraits import EXAMPLES, FIXTURES

PORTRAIT = EXAMPLES / "congress_A000014.jpg"


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = FlashUNet(ModelConfig(width=0.125, input_size=64))
    torch.nn.init.xavier_uniform_(model.head.weight)  # a fresh network changes nothing; the CLI tests need a change
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_model(model, ModelCard.for_model(model, name="test"), path)
    return path


@pytest.fixture(autouse=True)
def no_installed_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Behave as a fresh copy without trained weights, whatever is installed on this machine."""
    monkeypatch.setattr(weights_module, "DEFAULT_WEIGHTS", tmp_path / "not-installed" / "deepflash-default.safetensors")


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("deepflash:")]


def assert_clean_failure(result: Result, lines: int = 1) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(error_lines(result)) >= lines


def test_process_writes_a_photo_of_the_same_size(tmp_path: Path, weights: Path) -> None:
    out = tmp_path / "studio.jpg"
    result = run("process", PORTRAIT, "-o", out, "--weights", weights)
    assert result.exit_code == 0, result.output
    with Image.open(out) as written, Image.open(PORTRAIT) as original:
        assert written.size == original.size and written.mode == original.mode


def test_without_weights_says_none_are_installed_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "studio.jpg"
    result = run("process", PORTRAIT, "-o", out)
    assert_clean_failure(result)
    assert "No trained DeepFlash weights are installed" in result.stderr
    assert not out.exists()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_FILES = {
    "missing": lambda d: d / "absent.jpg",
    "empty": lambda d: _write(d / "empty.jpg", b""),
    "truncated": lambda d: _write(d / "truncated.jpg", PORTRAIT.read_bytes()[:3000]),
    "not-an-image": lambda d: _write(d / "notes.png", b"not pixels\n" * 50),
    "one-pixel": lambda d: (Image.new("RGB", (1, 1)).save(d / "dot.png"), d / "dot.png")[1],
    "no-face": lambda d: (Image.new("RGB", (300, 200), (90, 120, 150)).save(d / "wall.png"), d / "wall.png")[1],
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_bad_input_fails_with_one_line_and_no_output(tmp_path: Path, weights: Path, kind: str) -> None:
    source = BAD_FILES[kind](tmp_path)
    out = tmp_path / "out" / "result.png"
    out.parent.mkdir()
    result = run("process", source, "-o", out, "--weights", weights)
    assert_clean_failure(result)
    lines = error_lines(result)
    assert len(lines) == 1 and str(source) in lines[0]
    assert list(out.parent.iterdir()) == []


def test_a_folder_processes_good_photos_and_reports_each_bad_one(tmp_path: Path, weights: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for portrait in sorted(EXAMPLES.glob("congress_*.jpg")):
        (folder / portrait.name).write_bytes(portrait.read_bytes())
    BAD_FILES["empty"](folder)
    BAD_FILES["no-face"](folder)
    (folder / "readme.txt").write_text("not an image extension: skipped")
    out_dir = tmp_path / "studio"
    result = run("process", folder, "--out-dir", out_dir, "--weights", weights)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    failed = error_lines(result)
    assert sum("empty.jpg" in line for line in failed) == 1 and sum("wall.png" in line for line in failed) == 1
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in EXAMPLES.glob("congress_*.jpg"))
    assert "3 corrected, 2 failed" in result.stderr


def test_refuses_to_overwrite_the_input(tmp_path: Path, weights: Path) -> None:
    source = tmp_path / "me.jpg"
    source.write_bytes(PORTRAIT.read_bytes())
    result = run("process", source, "-o", source, "--weights", weights)
    assert_clean_failure(result)
    assert "overwrite" in result.stderr
    assert source.read_bytes() == PORTRAIT.read_bytes()
    result = run("process", source, "--out-dir", tmp_path, "--weights", weights)
    assert_clean_failure(result)
    assert source.read_bytes() == PORTRAIT.read_bytes()


def test_unknown_output_extension_fails_cleanly(tmp_path: Path, weights: Path) -> None:
    out = tmp_path / "result.unknown"
    result = run("process", PORTRAIT, "-o", out, "--weights", weights)
    assert_clean_failure(result)
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [["-o", "a.jpg", "--out-dir", "d"], [], ["-o", "a.jpg", "--strength", "1.5"], ["-o", "a.jpg", "--device", "tpu"],
     ["-o", "a.jpg", "--background", "blur"]],
    ids=["both-outputs", "no-output", "strength", "device", "background"],
)
def test_bad_options_fail_without_traceback(tmp_path: Path, weights: Path, args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["process", str(PORTRAIT), "--weights", str(weights), *[str(tmp_path / a) if a.endswith(".jpg") else a for a in args]])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_background_keep_leaves_the_backdrop_bit_identical_and_lift_brightens_it(tmp_path: Path, weights: Path) -> None:
    source = tmp_path / "portrait.png"
    Image.open(PORTRAIT).convert("RGB").save(source)
    before = np.asarray(Image.open(source)).astype(int)
    corner = (slice(0, 20), slice(0, 20))  # the studio backdrop, top left
    for background in ("keep", "lift"):
        out = tmp_path / f"{background}.png"
        result = run("process", source, "-o", out, "--weights", weights, "--background", background)
        assert result.exit_code == 0, result.output
        after = np.asarray(Image.open(out)).astype(int)
        assert not np.array_equal(after, before), "the person is corrected"
        if background == "keep":
            assert np.array_equal(after[corner], before[corner])
        else:
            assert (after[corner] >= before[corner]).all() and (after[corner] - before[corner]).mean() > 5


def test_one_output_file_for_several_inputs_is_a_usage_error(tmp_path: Path, weights: Path) -> None:
    result = run("process", PORTRAIT, EXAMPLES / "congress_A000022.jpg", "-o", tmp_path / "x.jpg", "--weights", weights)
    assert result.exit_code == 2 and "--out-dir" in result.output


def test_16bit_png_with_alpha_keeps_mode_and_alpha(tmp_path: Path, weights: Path) -> None:
    rgb = np.asarray(Image.open(PORTRAIT).convert("RGB")).astype(np.uint16) * 257
    alpha = np.linspace(0, 65535, rgb.shape[0] * rgb.shape[1]).astype(np.uint16).reshape(rgb.shape[:2])
    source = tmp_path / "deep.png"
    cv2.imwrite(str(source), cv2.cvtColor(np.dstack([rgb, alpha]), cv2.COLOR_RGBA2BGRA))
    out = tmp_path / "deep-studio.png"
    result = run("process", source, "-o", out, "--weights", weights)
    assert result.exit_code == 0, result.output
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == (275, 225, 4)
    assert np.array_equal(written[..., 3], alpha)


def test_exif_rotated_photo_comes_out_upright(tmp_path: Path, weights: Path) -> None:
    upright = Image.open(PORTRAIT)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    source = tmp_path / "phone.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(source, quality=95, exif=exif.tobytes())
    out = tmp_path / "studio.jpg"
    result = run("process", source, "-o", out, "--weights", weights)
    assert result.exit_code == 0, result.output
    with Image.open(out) as written:
        assert written.size == upright.size
        assert written.getexif().get(0x0112) == 1


def test_server_option_sends_pixels_through_the_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deepflash_client import zmq_client as client_module
    from deepflash_client.client_base import ProcessReply
    from deepflash_client.protocol import ImageSpec

    calls = []

    class EchoClient:
        # The real array <-> wire conversion runs on top of this fake transport.
        process_array = client_module.DeepFlashClient.process_array

        def __init__(self, address: str, **_: object) -> None:
            self.address = address

        def __enter__(self):
            return self

        def __exit__(self, *exc_info: object) -> None:
            pass

        def ping(self, fail_fast: bool = False) -> dict:
            calls.append(("ping", self.address))
            return {"state": "ready"}

        def process(self, pixels, width, height, channels, dtype, options):
            calls.append((self.address, width, height, channels, dtype, options))
            inverted = 255 - np.asarray(pixels)
            return ProcessReply(inverted.tobytes(), ImageSpec(width, height, channels, dtype))

    monkeypatch.setattr(client_module, "DeepFlashClient", EchoClient)
    out = tmp_path / "served.png"
    result = run("process", PORTRAIT, "-o", out, "--server", "tcp://127.0.0.1:5999", "--strength", "0.5",
                 "--background", "lift", "--no-red-eye")
    assert result.exit_code == 0, result.output
    expected = Options(strength=0.5, whole_image=False, background="lift", red_eye=False)
    assert calls == [("ping", "tcp://127.0.0.1:5999"), ("tcp://127.0.0.1:5999", 225, 275, 3, "u8", expected)]
    original = np.asarray(Image.open(PORTRAIT).convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(out)), 255 - original)


def test_info_reports_device_weights_and_versions(weights: Path) -> None:
    result = run("info")
    assert result.exit_code == 0
    assert "device:" in result.stdout and "torch" in result.stdout
    assert "No trained DeepFlash weights are installed" in result.stdout
    result = run("info", "--weights", weights, "--json")
    assert result.exit_code == 0
    import json

    report = json.loads(result.stdout)
    assert report["weights"]["status"] == "installed, sha256 verified"
    assert report["weights"]["model_card"]["config"]["width"] == 0.125
    assert report["models"][0] == "default"


def test_weights_by_installed_name_and_models_listing(tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    candidates = tmp_path / "candidates"
    model = FlashUNet(ModelConfig(width=0.125, input_size=64))
    save_model(model, ModelCard.for_model(model, name="warm", hypothesis="warm flash transfers"), candidates / "warm.safetensors")
    monkeypatch.setattr(weights_module, "CANDIDATES_DIR", candidates)
    listing = run("models")
    assert listing.exit_code == 0, listing.output
    assert "warm" in listing.stdout and "hypothesis: warm flash transfers" in listing.stdout
    assert "No trained DeepFlash weights" in listing.stdout  # the default is reported as missing, not hidden
    out = tmp_path / "studio.jpg"
    result = run("process", PORTRAIT, "-o", out, "--weights", "warm")
    assert result.exit_code == 0, result.output
    assert out.exists()
    unknown = run("process", PORTRAIT, "-o", tmp_path / "x.jpg", "--weights", "cold")
    assert_clean_failure(unknown)
    assert "installed models: default, warm" in unknown.stderr


def test_console_entry_point_prints_one_line_for_a_missing_file(tmp_path: Path) -> None:
    """The real entry point in a fresh interpreter: exit code and stderr as a user sees them."""
    out = tmp_path / "x.jpg"
    completed = subprocess.run(
        [sys.executable, "-c", "from deepflash_app.cli import main; main()", "process", str(tmp_path / "nope.jpg"), "-o", str(out), "--weights", str(tmp_path / "none.safetensors")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_console_entry_point_says_one_line_on_success(tmp_path: Path, weights: Path) -> None:
    """The matte and the face mesh run natively; their start-up logging must not reach the user's terminal."""
    out = tmp_path / "studio.png"
    completed = subprocess.run(
        [sys.executable, "-c", "from deepflash_app.cli import main; main()", "process", str(EXAMPLES / "flash_portrait.jpg"),
         "-o", str(out), "--weights", str(weights)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert lines[-1] == f"deepflash: wrote {out}"
    assert all(line.startswith("deepflash: ") for line in lines), lines  # notes only, no native logging
    assert out.is_file()


def test_no_red_eye_keeps_the_red_pupils_that_the_default_removes(tmp_path: Path, weights: Path) -> None:
    source = FIXTURES / "red_eye_portrait.jpg"
    outputs = {}
    for flag in ("--red-eye", "--no-red-eye"):
        out = tmp_path / f"{flag.strip('-')}.png"
        result = run("process", source, "-o", out, "--weights", weights, flag)
        assert result.exit_code == 0, result.output
        outputs[flag] = np.asarray(Image.open(out)).astype(np.int32)
    differs = np.any(outputs["--red-eye"] != outputs["--no-red-eye"], axis=-1)
    assert 50 < differs.sum() < 0.01 * differs.size
    red = outputs["--no-red-eye"][differs]
    fixed = outputs["--red-eye"][differs]
    assert (red[:, 0] - red[:, 1:].max(axis=1)).mean() > 3 * (fixed[:, 0] - fixed[:, 1:].max(axis=1)).mean()


def test_a_phone_heic_is_corrected_into_a_heic_with_its_metadata(tmp_path: Path, weights: Path) -> None:
    from imageio_samples import CAMERA_MAKE, PHONE_ICC, phone_heic

    source = phone_heic(tmp_path / "IMG_0003.HEIC")
    before = source.read_bytes()
    out = tmp_path / "studio.heic"
    result = run("process", source, "-o", out, "--weights", weights)
    assert result.exit_code == 0, result.output
    assert source.read_bytes() == before
    with Image.open(out) as written, Image.open(PORTRAIT) as upright:
        assert written.format == "HEIF" and written.size == upright.size  # upright: the phone's turn applied
        assert written.info.get("icc_profile") == PHONE_ICC
        assert written.getexif().get(0x010F) == CAMERA_MAKE
        assert written.getexif().get(0x0112, 1) == 1
