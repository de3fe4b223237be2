"""What a batch job reads and writes, and how it asks Ray for resources (no Ray started here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deepflash_app.batch import manifest, resources, sources
from portraits import EXAMPLES



@pytest.fixture()
def shoot(tmp_path: Path) -> Path:
    folder = tmp_path / "shoot"
    folder.mkdir()
    for name in ("b.jpg", "a.JPG", "c.png"):
        shutil.copy(EXAMPLES / "congress_A000014.jpg", folder / name)
    (folder / "notes.txt").write_text("not a photo")
    (folder / ".hidden.jpg").write_bytes(b"")
    (folder / "sub").mkdir()
    return folder


def test_folders_globs_and_files_expand_in_order(shoot: Path) -> None:
    photos, failures = sources.list_photos([str(shoot), str(shoot / "*.jpg"), str(shoot / "c.png"), str(shoot / "missing.jpg")])
    names = [Path(p).name for p in photos]
    assert names == ["a.JPG", "b.jpg", "c.png", "b.jpg", "c.png"]
    assert failures == [(str(shoot / "missing.jpg"), "no such file or folder.")]


def test_an_empty_folder_or_glob_is_reported(tmp_path: Path) -> None:
    photos, failures = sources.list_photos([str(tmp_path), str(tmp_path / "*.jpg")])
    assert photos == [] and [reason for _, reason in failures] == ["holds no images.", "holds no images."]


def test_uris_are_listed_through_pyarrow(shoot: Path) -> None:
    pytest.importorskip("pyarrow")
    photos, failures = sources.list_photos([f"file://{shoot}/", f"file://{shoot}/b*"])
    assert failures == []
    assert photos == [f"file://{shoot}/a.JPG", f"file://{shoot}/b.jpg", f"file://{shoot}/c.png", f"file://{shoot}/b.jpg"]
    with sources.local_copy(photos[1]) as copy:
        assert copy.name == "b.jpg" and copy.read_bytes() == (shoot / "b.jpg").read_bytes()
    assert not copy.exists()


def test_plan_refuses_collisions_inputs_and_unknown_formats(shoot: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(EXAMPLES / "congress_A000014.jpg", other / "b.jpg")
    (other / "x.unknown").write_bytes(b"")
    photos = [str(shoot / "b.jpg"), str(shoot / "b.jpg"), str(other / "b.jpg"), str(other / "x.unknown"), str(shoot / "c.png")]
    items, failures = sources.plan(photos, shoot)
    assert items == []
    assert [Path(photo).name for photo, _ in failures] == ["b.jpg", "b.jpg", "x.unknown", "c.png"]
    assert "refusing to overwrite an input photo" in failures[0][1]
    out = tmp_path / "out"
    items, failures = sources.plan(photos, out)
    assert items == [sources.Item(str(shoot / "b.jpg"), str(out / "b.jpg")), sources.Item(str(shoot / "c.png"), str(out / "c.png"))]
    assert "would overwrite the result of" in failures[0][1] and "extension" in failures[1][1]


def test_only_results_that_exist_count_as_done(tmp_path: Path) -> None:
    items = [sources.Item("a.jpg", str(tmp_path / "a.jpg")), sources.Item("b.jpg", str(tmp_path / "b.jpg"))]
    (tmp_path / "a.jpg").write_bytes(b"whole")
    todo, done = sources.split_done(items)
    assert todo == items[1:] and done == items[:1]


@pytest.mark.parametrize("cpus", [1, 2, 3, 8, 64])
def test_on_cpus_one_single_threaded_actor_per_core_takes_whole_photos(cpus: int) -> None:
    plan = resources.plan_for(cpus)
    assert plan.whole_photos and plan.actors == cpus and plan.actor_gpus == 0 and plan.actor_threads == 1
    # Nothing but the actors asks for a CPU, and together they fit the budget.
    assert plan.actors * plan.actor_cpus <= cpus and plan.task_concurrency == 0


def test_with_gpus_there_is_one_actor_per_gpu_and_room_for_the_tasks() -> None:
    plan = resources.plan_for(16, gpus=2)
    assert plan.actors == 2 and plan.actor_gpus == 1 and not plan.whole_photos
    # A decode task and an encode task must fit beside the whole pool, or Ray Data waits forever.
    assert plan.actors * plan.actor_cpus + 2 * plan.task_cpus <= 16
    assert plan.task_cpus > 0 and plan.actor_threads == int(plan.actor_cpus)


def test_a_cluster_address_always_means_ray() -> None:
    for photos, megapixels, cores in ((1, 0.1, 1), (3, 6.0, 2), (10_000, 120_000.0, 64)):
        chosen = resources.choose_runner(photos, megapixels, cores, address="10.0.0.5:6379")
        assert chosen.on_ray and "10.0.0.5:6379" in chosen.reason


def test_one_core_never_starts_ray() -> None:
    assert not resources.choose_runner(100_000, 1_200_000.0, cores=1).on_ray


def test_a_few_photos_stay_here_and_many_go_to_ray() -> None:
    few = resources.choose_runner(20, 140.0, cores=2)
    many = resources.choose_runner(2000, 14_000.0, cores=2)
    assert not few.on_ray and "this process" in few.reason
    assert many.on_ray and "Ray" in many.reason


def test_ray_is_chosen_exactly_where_its_estimate_beats_the_loop_here() -> None:
    for cores in (2, 4, 32):
        seen = []
        for photos in (1, 5, 20, 60, 100, 200, 400, 1000, 5000):
            megapixels = 7.0 * photos
            work = photos * resources.PHOTO_SECONDS + megapixels * resources.MEGAPIXEL_SECONDS
            on_ray = resources.RAY_FIXED_SECONDS + work / (1 + (cores - 1) * resources.CORE_EFFICIENCY)
            chosen = resources.choose_runner(photos, megapixels, cores)
            assert chosen.on_ray == (on_ray < work), (cores, photos)
            seen.append(chosen.on_ray)
        assert seen == sorted(seen)  # once Ray pays off, a larger job keeps it
    # More cores make Ray pay off sooner: the smallest job sent to Ray shrinks.
    def smallest(cores: int) -> int:
        return next(n for n in range(1, 100_000, 5) if resources.choose_runner(n, 7.0 * n, cores).on_ray)
    assert smallest(32) < smallest(4) < smallest(2)


def test_megapixels_are_read_from_headers_and_unknown_ones_counted(shoot: Path) -> None:
    photos = [str(shoot / "a.JPG"), str(shoot / "b.jpg"), "s3://bucket/x.jpg", str(shoot / "missing.jpg")]
    one = 225 * 275 / 1e6  # the congress portrait
    assert sources.megapixels(photos, unknown=12.0) == pytest.approx(2 * one + 2 * 12.0)


def test_manifest_round_trips_and_counts(tmp_path: Path) -> None:
    records = [
        manifest.Record("a.jpg", "out/a.jpg", manifest.DONE, faces=2, seconds=1.5),
        manifest.Record("b.jpg", "out/b.jpg", manifest.FAILED, error="damaged or truncated image."),
        manifest.Record("c.jpg", "out/c.jpg", manifest.SKIPPED),
    ]
    path = tmp_path / "run" / manifest.MANIFEST_NAME
    manifest.write(records, path)
    assert manifest.read(path) == records
    assert manifest.summary(records) == {"done": 1, "skipped": 1, "failed": 1, "not run": 0}
    assert [p.name for p in path.parent.iterdir()] == [manifest.MANIFEST_NAME]


@pytest.mark.slow
def test_a_small_job_runs_here_and_writes_what_process_writes(tmp_path: Path, tiny_weights: Path) -> None:
    shoot = tmp_path / "small"
    shoot.mkdir()
    shutil.copy(EXAMPLES / "congress_A000014.jpg", shoot / "a.jpg")
    shutil.copy(EXAMPLES / "flash_portrait.jpg", shoot / "b.jpg")
    (shoot / "c.jpg").write_bytes((EXAMPLES / "congress_A000022.jpg").read_bytes()[:3000])
    command = [sys.executable, "-c", "from deepflash_app.cli import main; main()"]
    batch = subprocess.run([*command, "batch", str(shoot), "--out", str(tmp_path / "batch"), "--weights", str(tiny_weights), "-q"],
                           capture_output=True, text=True, timeout=600)
    process = subprocess.run([*command, "process", str(shoot / "a.jpg"), str(shoot / "b.jpg"), "--out-dir", str(tmp_path / "process"),
                              "--weights", str(tiny_weights), "-q"], capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr
    assert batch.returncode == 1, batch.stderr  # c.jpg is truncated
    assert batch.stderr.splitlines()[0].startswith("deepflash: 3 photos in this process:")
    records = {Path(record.input).name: record.status for record in manifest.read(tmp_path / "batch" / manifest.MANIFEST_NAME)}
    assert records == {"a.jpg": "done", "b.jpg": "done", "c.jpg": "failed"}
    for name in ("a.jpg", "b.jpg"):
        assert (tmp_path / "batch" / name).read_bytes() == (tmp_path / "process" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "batch").iterdir()) == ["a.jpg", "b.jpg", manifest.MANIFEST_NAME]


def test_the_batch_command_gives_its_caller_back_its_signal_handlers(tmp_path) -> None:
    """A batch run inside another program (a test, a script) leaves SIGINT and SIGTERM as it found them, so a
    process that program forks later still ends on SIGTERM."""
    import signal

    from deepflash_app.commands import batch

    before = batch._signal_handlers()
    batch._stop_on_signals(at_once=False)
    assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
    batch._restore_signal_handlers(before)
    assert batch._signal_handlers() == before
