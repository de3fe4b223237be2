"""``deepflash batch`` on a local Ray: the files `deepflash process` writes, bad photos reported, reruns resume."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("ray")

from deepflash_app.batch import manifest  # noqa: E402
from portraits import EXAMPLES, path_of

DEEPFLASH = [sys.executable, "-c", "from deepflash_app.cli import main; main()"]


def deepflash(*args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The real command in its own process, as a user runs it (Ray is started and stopped by it)."""
    return subprocess.run([*DEEPFLASH, *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def shoot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two portraits (one a 16-bit PNG with alpha), a truncated JPEG and a text file named like a photo."""
    folder = tmp_path_factory.mktemp("shoot")
    shutil.copy(EXAMPLES / "congress_A000014.jpg", folder / "a_portrait.jpg")
    rgb = np.asarray(Image.open(EXAMPLES / "flash_portrait.jpg").convert("RGB"))
    deep = rgb.astype(np.uint16) * 257
    alpha = np.full(rgb.shape[:2] + (1,), 50000, np.uint16)
    cv2.imwrite(str(folder / "b_deep.png"), cv2.cvtColor(np.concatenate([deep, alpha], axis=2), cv2.COLOR_RGBA2BGRA))
    (folder / "c_truncated.jpg").write_bytes((EXAMPLES / "congress_A000022.jpg").read_bytes()[:3000])
    (folder / "d_not_a_photo.png").write_text("not an image")
    return folder


@pytest.fixture(scope="module")
def first_run(shoot: Path, tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("batch-out")
    # Two CPUs: two actors, each asking for one of them and taking whole photos.
    return deepflash("batch", shoot, "--out", out, "--weights", tiny_weights, "--cpus", "2", "--runner", "ray", "-q"), out


def records_by_name(out: Path) -> dict[str, manifest.Record]:
    return {Path(record.input).name: record for record in manifest.read(out / manifest.MANIFEST_NAME)}


@pytest.mark.slow
def test_batch_writes_the_same_files_as_process(first_run, shoot: Path, tiny_weights: Path, tmp_path: Path) -> None:
    result, out = first_run
    processed = tmp_path / "process"
    reference = deepflash("process", shoot / "a_portrait.jpg", shoot / "b_deep.png", "--out-dir", processed, "--weights", tiny_weights, "-q")
    assert reference.returncode == 0, reference.stderr
    for name in ("a_portrait.jpg", "b_deep.png"):
        assert (out / name).read_bytes() == (processed / name).read_bytes(), name
    deep = cv2.imread(str(out / "b_deep.png"), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16 and deep.shape[2] == 4 and (deep[..., 3] == 50000).all()
    assert result.returncode == 1, result.stderr  # two photos failed


@pytest.mark.slow
def test_the_staged_layout_of_gpu_clusters_writes_the_same_files(first_run, shoot: Path, tiny_weights: Path, tmp_path: Path) -> None:
    import ray

    from deepflash_app.batch import job, resources, sources

    _, whole_photos = first_run
    items, _ = sources.plan([str(shoot / name) for name in ("a_portrait.jpg", "b_deep.png", "c_truncated.jpg")], tmp_path)
    # The layout planned for a node with a GPU (decode and encode tasks beside the model's actor), run on the CPU.
    staged = replace(resources.plan_for(2, gpus=1), actor_gpus=0.0)
    assert not staged.whole_photos
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    try:
        records = list(job.run(items, job.BatchSettings(weights=str(tiny_weights)), staged, job.new_staging_folder(tmp_path), progress=False))
    finally:
        ray.shutdown()
    assert {Path(r.input).name: r.status for r in records} == {"a_portrait.jpg": "done", "b_deep.png": "done", "c_truncated.jpg": "failed"}
    for name in ("a_portrait.jpg", "b_deep.png"):
        assert (tmp_path / name).read_bytes() == (whole_photos / name).read_bytes(), name


@pytest.mark.slow
def test_unreadable_photos_are_reported_and_the_job_goes_on(first_run) -> None:
    result, out = first_run
    records = records_by_name(out)
    assert {name: record.status for name, record in records.items()} == {
        "a_portrait.jpg": "done",
        "b_deep.png": "done",
        "c_truncated.jpg": "failed",
        "d_not_a_photo.png": "failed",
    }
    assert records["a_portrait.jpg"].faces == 1 and records["a_portrait.jpg"].seconds > 0
    assert "truncated" in records["c_truncated.jpg"].error
    assert "not an image" in records["d_not_a_photo.png"].error
    assert records["c_truncated.jpg"].faces == 0 and not (out / "c_truncated.jpg").exists()
    assert "c_truncated.jpg: damaged or truncated image" in result.stderr
    assert "2 corrected, 0 already done, 2 failed" in result.stderr
    # Quiet: none of Ray's own notices, only DeepFlash's lines.
    assert all(line.startswith("deepflash: ") for line in result.stderr.splitlines()), result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a_portrait.jpg", "b_deep.png", manifest.MANIFEST_NAME]


@pytest.mark.slow
def test_a_rerun_writes_only_what_is_missing(first_run, shoot: Path, tiny_weights: Path) -> None:
    _, out = first_run
    kept = out / "a_portrait.jpg"
    kept_stat = kept.stat()
    redo = (out / "b_deep.png").read_bytes()
    (out / "b_deep.png").unlink()
    result = deepflash("batch", shoot, "--out", out, "--weights", tiny_weights, "--cpus", "2", "--runner", "ray", "-q")
    records = records_by_name(out)
    assert records["a_portrait.jpg"].status == "skipped"
    assert records["b_deep.png"].status == "done"
    assert (out / "b_deep.png").read_bytes() == redo
    assert kept.stat().st_mtime_ns == kept_stat.st_mtime_ns and kept.stat().st_ino == kept_stat.st_ino
    assert "1 corrected, 1 already done, 2 failed" in result.stderr


@pytest.mark.slow
def test_ctrl_c_keeps_what_is_done_and_records_the_rest(tiny_weights: Path, tmp_path: Path) -> None:
    shoot = tmp_path / "many"
    shoot.mkdir()
    for index in range(16):
        shutil.copy(EXAMPLES / "congress_A000055.jpg", shoot / f"p{index:02d}.jpg")
    out = tmp_path / "out"
    job = subprocess.Popen([*DEEPFLASH, "batch", str(shoot), "--out", str(out), "--weights", str(tiny_weights), "--cpus", "2", "--runner", "ray", "-q"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while job.poll() is None and not any(out.glob("p*.jpg")) and time.monotonic() < deadline:
        time.sleep(0.1)
    job.send_signal(signal.SIGINT)
    _, stderr = job.communicate(timeout=300)
    assert job.returncode in (0, 130), stderr  # 0: every photo was done before the signal arrived
    records = records_by_name(out)
    assert len(records) == 16
    written = sorted(p.name for p in out.iterdir() if p.name != manifest.MANIFEST_NAME)
    assert written == sorted(name for name, record in records.items() if record.status == "done")
    assert {record.status for record in records.values()} <= {"done", "not run"}
    expected = (EXAMPLES / "congress_A000055.jpg").stat().st_size
    for name in written:  # whole files: each decodes, none is a leftover temporary file
        with Image.open(out / name) as image:
            image.load()
        assert (out / name).stat().st_size > expected // 4
    if job.returncode == 130:
        assert "not run (stopped)" in stderr


def test_without_ray_the_command_says_how_to_install_it(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from deepflash_app.cli import main\n"
        f"sys.argv = ['deepflash', 'batch', {str(tmp_path)!r}, '--out', {str(tmp_path / 'out')!r}, '--runner', 'ray']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == "deepflash: deepflash batch needs Ray: pip install 'deepflash[batch]'."
    assert os.listdir(tmp_path) == []


# Each flag away from its default, on photos where each one changes the result (checked below).
USER_FLAGS = ("--strength", "0.4", "--background", "lift", "--no-red-eye", "--whole-image")


@pytest.fixture(scope="module")
def options_shoot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("options-shoot")
    for name in ("congress_A000014.jpg", "red_eye_portrait.jpg"):
        shutil.copy(path_of(name), folder / name)
    return folder


def test_each_user_option_changes_the_results_of_the_options_shoot(options_shoot: Path, tiny_weights: Path) -> None:
    """The guard of the two tests below: a worker that dropped any one option would write other files."""
    from deepflash_client.options import Options
    from deepflash_core.imageio import load_photo
    from deepflash_core.pipeline import Pipeline

    pipeline = Pipeline.load(weights=tiny_weights, device="cpu")
    users = Options(strength=0.4, background="lift", red_eye=False, whole_image=True)
    photos = [load_photo(path).pixels for path in sorted(options_shoot.iterdir())]
    wanted = [pipeline.process(pixels, users).pixels for pixels in photos]
    for name, default in {"strength": 1.0, "background": "keep", "red_eye": True, "whole_image": False}.items():
        dropped = replace(users, **{name: default})
        assert any(not np.array_equal(pipeline.process(pixels, dropped).pixels, want)
                   for pixels, want in zip(photos, wanted)), f"{name} changes nothing on these photos"


@pytest.fixture(scope="module")
def processed_with_user_options(options_shoot: Path, tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("process-options")
    result = deepflash("process", *sorted(options_shoot.iterdir()), "--out-dir", out, "--weights", tiny_weights,
                       *USER_FLAGS, "-q")
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["ray", "here"])
def test_batch_workers_apply_the_users_options(options_shoot: Path, processed_with_user_options: Path,
                                               tiny_weights: Path, tmp_path: Path, runner: str) -> None:
    result = deepflash("batch", options_shoot, "--out", tmp_path, "--weights", tiny_weights, "--cpus", "2",
                       "--runner", runner, "-q", *USER_FLAGS)
    assert result.returncode == 0, result.stderr
    for path in options_shoot.iterdir():
        assert (tmp_path / path.name).read_bytes() == (processed_with_user_options / path.name).read_bytes(), path.name


@pytest.mark.slow
def test_the_staged_layout_applies_the_users_options(options_shoot: Path, processed_with_user_options: Path,
                                                     tiny_weights: Path, tmp_path: Path) -> None:
    import ray

    from deepflash_app.batch import job, resources, sources
    from deepflash_client.options import Options

    items, _ = sources.plan([str(path) for path in sorted(options_shoot.iterdir())], tmp_path)
    staged = replace(resources.plan_for(2, gpus=1), actor_gpus=0.0)
    settings = job.BatchSettings(Options(strength=0.4, background="lift", red_eye=False, whole_image=True),
                            weights=str(tiny_weights))
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    try:
        records = list(job.run(items, settings, staged, job.new_staging_folder(tmp_path), progress=False))
    finally:
        ray.shutdown()
    assert {record.status for record in records} == {"done"}
    for path in options_shoot.iterdir():
        assert (tmp_path / path.name).read_bytes() == (processed_with_user_options / path.name).read_bytes(), path.name


def test_a_rerun_keeps_the_faces_and_seconds_of_photos_done_before(tiny_weights: Path, tmp_path: Path) -> None:
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    shutil.copy(EXAMPLES / "congress_A000014.jpg", shoot / "a.jpg")
    out = tmp_path / "out"
    first = deepflash("batch", shoot, "--out", out, "--weights", tiny_weights, "--runner", "here", "-q")
    assert first.returncode == 0, first.stderr
    [done] = manifest.read(out / manifest.MANIFEST_NAME)
    assert (done.status, done.faces) == ("done", 1) and done.seconds > 0
    again = deepflash("batch", shoot, "--out", out, "--weights", tiny_weights, "--runner", "here", "-q")
    assert again.returncode == 0, again.stderr
    [skipped] = manifest.read(out / manifest.MANIFEST_NAME)
    assert skipped.status == "skipped"
    assert (skipped.faces, skipped.seconds) == (done.faces, done.seconds)  # what the run that did it measured


PHOTOS_TO_STOP = 40
"""Enough photos that the job cannot end between the first result and the signal."""


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "runner"), [(signal.SIGINT, "here"), (signal.SIGTERM, "ray"), (signal.SIGTERM, "here")],
                         ids=["sigint-ignored-by-the-parent", "sigterm-ray", "sigterm-here"])
def test_a_background_batch_stops_on_sigint_or_sigterm_with_its_manifest(tiny_weights: Path, tmp_path: Path, signum, runner) -> None:
    """A script's background job starts with SIGINT ignored (the shell does so); SIGTERM is how services stop."""
    shoot = tmp_path / "many"
    shoot.mkdir()
    for index in range(PHOTOS_TO_STOP):
        shutil.copy(EXAMPLES / "congress_A000055.jpg", shoot / f"p{index:02d}.jpg")
    out = tmp_path / "out"
    job = subprocess.Popen([*DEEPFLASH, "batch", str(shoot), "--out", str(out), "--weights", str(tiny_weights), "--cpus", "2",
                            "--runner", runner, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.monotonic() + 300
    while job.poll() is None and not any(out.glob("p*.jpg")) and time.monotonic() < deadline:
        time.sleep(0.1)
    job.send_signal(signum)
    _, stderr = job.communicate(timeout=300)
    assert job.returncode == 130, stderr  # stopped: the signal came after the first of many photos
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    records = records_by_name(out)
    assert len(records) == PHOTOS_TO_STOP and {record.status for record in records.values()} <= {"done", "not run"}
    assert "not run (stopped)" in stderr and sum(r.status == "not run" for r in records.values()) > 0
