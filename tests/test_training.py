"""Training data and loop: by-person split, synthetic pairs, augmentation, learning, exact resume."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from deepflash_core.encoding import equations
from deepflash_core.encoding.bilateral import bilateral_filter, sigma_s_for
from deepflash_core.network.registry import Encoding, kind_of
from deepflash_train import pair_bank
from deepflash_train.dataset import (
    AUGMENTATIONS, Augmentation, PortraitStore, SyntheticPairs, bilateral_image, crop_affine, transform_points,
)
from deepflash_train.checkpoint import load_checkpoint, read_log, save_checkpoint
from deepflash_train.config import PORTRAITS_ENV, TrainConfig, TrainingError, TrainState, portraits_root
from deepflash_train.landmarks import build_landmark_cache
from deepflash_train.loop import make_model, train, train_step
from deepflash_train.objective import loss as objective_loss
from deepflash_train.split import SPLIT_CSV, person_of, read_split, split_by_person
from portraits import EXAMPLES, STUDIO_PORTRAITS

PORTRAITS = [path.name for path in STUDIO_PORTRAITS]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from a second thread, and lose a lot when the CPU is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The public-domain fixtures laid out like the portrait folder, with a split and landmarks."""
    root = tmp_path_factory.mktemp("portraits")
    (root / "congress_225x275").mkdir()
    for name in PORTRAITS:
        shutil.copy(EXAMPLES / name, root / "congress_225x275" / name.removeprefix("congress_"))
    files = [f"congress_225x275/{name.removeprefix('congress_')}" for name in PORTRAITS]
    with open(root / "split.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "set", "person", "split"])
        for index, file in enumerate(files):
            # Two portraits train, the last one validates (test-only layout).
            writer.writerow([file, "congress_225x275", file, "validation" if index == len(files) - 1 else "train"])
    build_landmark_cache(root, files, root / "landmarks.json", progress=False)
    return root


@pytest.fixture(scope="module")
def pairs(data_root: Path) -> SyntheticPairs:
    from deepflash_train.landmarks import load_landmark_cache
    from deepflash_train.renderer import FlashRenderer

    files = sorted(str(p.relative_to(data_root)) for p in (data_root / "congress_225x275").glob("*.jpg"))
    store = PortraitStore(data_root, files, load_landmark_cache(data_root / "landmarks.json")["entries"], 64)
    return SyntheticPairs(store, FlashRenderer(), 64, seed=3)


# ------------------------------------------------------------------------------------------- split


def test_split_keeps_every_person_in_one_split_and_is_deterministic() -> None:
    files = [f"frl_london_neutral/{i:03d}_03.jpg" for i in range(1, 41)]
    files += [f"frl_london_smiling/{i:03d}_08.jpg" for i in range(1, 41)]
    files += [f"congress_225x275/A{i:06d}.jpg" for i in range(200)]
    first = split_by_person(files)
    assert first == split_by_person(list(files))
    split_of_person: dict[str, set[str]] = {}
    for entry in first:
        split_of_person.setdefault(entry.person, set()).add(entry.split)
    assert all(len(splits) == 1 for splits in split_of_person.values())
    # Neutral and smiling photos of one London person share the person id, hence the split.
    assert person_of("frl_london_neutral/012_03.jpg")[1] == person_of("frl_london_smiling/012_08.jpg")[1]
    counts = {s: sum(e.split == s for e in first) for s in ("train", "validation", "test")}
    assert counts["test"] > 0 and counts["validation"] > 0 and counts["train"] > counts["test"] * 5
    # A different key gives a different (but still by-person) assignment.
    assert [e.split for e in split_by_person(files, seed="other")] != [e.split for e in first]


def test_committed_split_is_by_person() -> None:
    entries = read_split(SPLIT_CSV)
    assert len(entries) > 1000
    splits_of: dict[str, set[str]] = {}
    for entry in entries:
        assert person_of(entry.file)[1] == entry.person
        splits_of.setdefault(entry.person, set()).add(entry.split)
    assert all(len(s) == 1 for s in splits_of.values())
    assert {e.split for e in entries} == {"train", "validation", "test"}


# ----------------------------------------------------------------------------------------- dataset


def test_pairs_have_shapes_ranges_and_filtered_images_of_themselves(pairs: SyntheticPairs) -> None:
    assert len(pairs) == 3 * AUGMENTATIONS
    item = pairs[7]
    for key in ("flash", "studio", "flash_filtered", "studio_filtered"):
        assert item[key].shape == (3, 64, 64) and item[key].dtype == torch.float32
        assert 0.0 <= float(item[key].min()) and float(item[key].max()) <= 1.0
    flash = item["flash"].permute(1, 2, 0).numpy()
    assert np.allclose(item["flash_filtered"].permute(1, 2, 0).numpy(), bilateral_image(flash), atol=1e-6)
    # The exact filter used for training data agrees with the grid filter the pipeline runs.
    grid = bilateral_filter(item["flash"][None], sigma_s_for(64, 64))[0]
    assert float((grid - item["flash_filtered"]).abs().mean()) < 0.01
    target = equations.target(item["flash_filtered"], item["studio_filtered"])
    assert 0.0 <= float(target.min()) and float(target.max()) <= 1.0
    # A flash render differs from its studio target: something to learn.
    assert float((item["flash"] - item["studio"]).abs().mean()) > 0.01
    # eq. 2 applied to the exact target gives back eq. 8.
    truth = equations.reconstructed_ground_truth(item["flash"], item["flash_filtered"], item["studio_filtered"])
    assert torch.allclose(equations.reconstruct(item["flash"], target), truth, atol=1e-6)


def test_pairs_are_reproducible_and_fresh_each_epoch(pairs: SyntheticPairs) -> None:
    pairs.set_epoch(0)
    first, again = pairs[5], pairs[5]
    pairs.set_epoch(1)
    other_epoch = pairs[5]
    pairs.set_epoch(0)
    assert torch.equal(first["flash"], again["flash"]) and torch.equal(first["studio"], again["studio"])
    # Same crop (the face hull does not move), fresh flash and a fresh target look.
    assert torch.equal(first["face"], other_epoch["face"])
    assert not torch.equal(first["flash"], other_epoch["flash"])
    assert not torch.equal(first["studio"], other_epoch["studio"])


def test_augmentation_covers_rotations_crops_and_flips(pairs: SyntheticPairs) -> None:
    combos = {(a.rotation_deg, a.tight_crop, a.flip) for a in map(Augmentation.from_index, range(AUGMENTATIONS))}
    assert len(combos) == 20
    assert {c[0] for c in combos} == {-20.0, -10.0, 0.0, 10.0, 20.0}
    # Index 12 = index 2 flipped (same rotation and crop): the face hulls mirror each other (the
    # targets' looks are drawn per sample, so the images themselves differ).
    assert Augmentation.from_index(12) == Augmentation(0.0, False, True)
    assert torch.equal(pairs[12]["face"], pairs[2]["face"].flip(-1))
    # The rotation turns the eye line by the rotation angle about the face centre.
    _, face = pairs.store.get(0)
    eyes = face.landmarks[[36, 45]].astype(np.float64)
    for index in (0, 1, 3, 4):
        augmentation = Augmentation.from_index(index)
        moved = transform_points(eyes, crop_affine(face, 64, augmentation))
        before = math.degrees(math.atan2(*(eyes[1] - eyes[0])[::-1]))
        after = math.degrees(math.atan2(*(moved[1] - moved[0])[::-1]))
        assert after - before == pytest.approx(-augmentation.rotation_deg, abs=1e-6)
    # The tight crop zooms in: the face box spans more of the frame.
    wide = transform_points(np.array(face.box, dtype=np.float64).reshape(2, 2), crop_affine(face, 64, Augmentation.from_index(2)))
    tight = transform_points(np.array(face.box, dtype=np.float64).reshape(2, 2), crop_affine(face, 64, Augmentation.from_index(7)))
    assert (tight[1, 0] - tight[0, 0]) > 1.3 * (wide[1, 0] - wide[0, 0])


def test_render_pass_round_trips_through_the_bank(pairs: SyntheticPairs, tmp_path: Path) -> None:
    path = pair_bank.render_pass(pairs, 2, tmp_path, progress=False)
    assert pair_bank.complete_passes(tmp_path) == [2]
    data = pair_bank.PassData(path)
    assert len(data) == 3
    batch = data.batch([1])
    pairs.set_epoch(2)
    item = pairs[pair_bank.sample_index(1, 2)]
    assert torch.allclose(batch["flash_filtered"][0], item["flash_filtered"], atol=2e-3)
    assert torch.allclose(batch["flash"][0], item["flash"], atol=1 / 255)
    assert pair_bank.choose_pass([2, 3], [2], epoch=1) == 3 and pair_bank.choose_pass([2, 3], [2, 3], epoch=5) == 3


# -------------------------------------------------------------------------------------------- loop


def test_mean_weight_one_gives_plain_squared_error() -> None:
    generator = torch.Generator().manual_seed(0)
    output, target = torch.rand(2, 3, 8, 8, generator=generator), torch.rand(2, 3, 8, 8, generator=generator)
    bilateral = Encoding.BILATERAL
    assert float(objective_loss(bilateral, output, target, 0.0)) == pytest.approx(float(equations.deepflash_loss(output, target)))
    assert float(objective_loss(bilateral, output, target, 1.0)) == pytest.approx(4 * float((output - target).square().mean()), rel=1e-5)
    # eq. 5 ignores a constant offset; the mean term does not.
    assert float(objective_loss(bilateral, target + 0.1, target, 0.0)) == pytest.approx(0.0, abs=1e-10)
    assert float(objective_loss(bilateral, target + 0.1, target, 1.0)) == pytest.approx(0.04, rel=1e-4)
    # The direct ablation's loss is L1 on the image, offset included.
    assert float(objective_loss(Encoding.DIRECT, target + 0.1, target)) == pytest.approx(0.1, rel=1e-4)


def test_tiny_training_lowers_the_loss_on_a_fixed_batch(pairs: SyntheticPairs) -> None:
    batch = {k: torch.nn.functional.avg_pool2d(torch.stack([pairs[i][k] for i in (0, 21, 42)]), 2)
             for k in ("flash_filtered", "studio_filtered")}
    config = TrainConfig(width=0.0625, input_size=32, lr=2e-3, batch_size=3, device="cpu")
    model, optimiser = make_model(config, torch.device("cpu"))
    # The network starts at "no change", so the first loss is already that of the identity.
    losses = [train_step(model, optimiser, batch, config, torch.device("cpu")) for _ in range(40)]
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("kind, options", [("bilateral-grid", {"grid_size": 8, "luma_bins": 4, "channels": 4}),
                                           ("direct-unet", {})])
def test_every_kind_trains_from_its_card_settings(pairs: SyntheticPairs, kind: str, options: dict) -> None:
    batch = {k: torch.nn.functional.avg_pool2d(torch.stack([pairs[i][k] for i in (0, 21, 42)]), 2)
             for k in ("flash", "studio", "flash_filtered", "studio_filtered")}
    config = TrainConfig(width=0.0625, input_size=32, lr=2e-3, batch_size=3, device="cpu", model_kind=kind,
                         model_options=options)
    model, optimiser = make_model(config, torch.device("cpu"))
    assert kind_of(model).name == kind and model.config.input_size == 32
    losses = [train_step(model, optimiser, batch, config, torch.device("cpu")) for _ in range(25)]
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("kind, options", [("vgg16-unet", {}), ("bilateral-grid", {"grid_size": 8, "luma_bins": 4})])
def test_look_conditioned_models_train_on_the_target_look(data_root: Path, kind: str, options: dict) -> None:
    """The look input: pairs carry the moved flash and the target's look, and the model learns to use the look."""
    from deepflash_core.network.film import look_dimension
    from deepflash_train.renderer import FlashRenderer
    from deepflash_train.landmarks import load_landmark_cache

    files = sorted(str(p.relative_to(data_root)) for p in (data_root / "congress_225x275").glob("*.jpg"))
    store = PortraitStore(data_root, files, load_landmark_cache(data_root / "landmarks.json")["entries"], 128)
    looks = SyntheticPairs(store, FlashRenderer(), 128, seed=3, look_input=True)
    items = [looks[i] for i in (0, 21, 42)]
    assert items[0]["look"].shape == (look_dimension(),)
    batch = {k: torch.nn.functional.avg_pool2d(torch.stack([item[k] for item in items]), 4)
             for k in ("look_flash", "look_flash_filtered", "studio_filtered")}
    batch["look"] = torch.stack([item["look"] for item in items])
    config = TrainConfig(width=0.0625, input_size=32, lr=2e-3, batch_size=3, device="cpu", model_kind=kind,
                         model_options=options, look_input=True)
    model, optimiser = make_model(config, torch.device("cpu"))
    assert model.config.look_dim == look_dimension()
    losses = [train_step(model, optimiser, batch, config, torch.device("cpu")) for _ in range(25)]
    assert losses[-1] < 0.7 * losses[0]
    film = [p for name, p in model.named_parameters() if ".layers." in name and "look" in name]
    assert film and any(float(p.detach().abs().sum()) > 0 for p in film)  # the look modulation has left zero


def test_full_width_model_takes_a_training_step() -> None:
    # The paper's network (width 1.0) through the same code path, at a tiny size on the CPU.
    config = TrainConfig(width=1.0, input_size=64, batch_size=1, device="cpu", bf16=True)
    model, optimiser = make_model(config, torch.device("cpu"))
    batch = {"flash_filtered": torch.rand(1, 3, 64, 64), "studio_filtered": torch.rand(1, 3, 64, 64)}
    before = model.head.weight.detach().clone()
    loss = train_step(model, optimiser, batch, config, torch.device("cpu"))
    assert math.isfinite(loss) and not torch.equal(before, model.head.weight)


def test_checkpoint_restores_the_next_step_exactly(pairs: SyntheticPairs, tmp_path: Path) -> None:
    config = TrainConfig(width=0.0625, input_size=64, batch_size=2, device="cpu")
    batches = [{k: torch.stack([pairs[i][k] for i in (j, j + 20)]) for k in ("flash_filtered", "studio_filtered")}
               for j in range(3)]
    cpu = torch.device("cpu")
    model, optimiser = make_model(config, cpu)
    train_step(model, optimiser, batches[0], config, cpu)
    train_step(model, optimiser, batches[1], config, cpu)

    save_checkpoint(tmp_path, model, optimiser, TrainState(step=2))
    expected = train_step(model, optimiser, batches[2], config, cpu)
    restored, restored_optimiser = make_model(TrainConfig(**{**config.__dict__, "seed": 99}), cpu)
    state = load_checkpoint(tmp_path, restored, restored_optimiser)
    assert state.step == 2
    assert train_step(restored, restored_optimiser, batches[2], config, cpu) == expected


def test_resumed_run_matches_an_uninterrupted_run(data_root: Path, tmp_path: Path) -> None:
    def config(run: str, steps: int) -> TrainConfig:
        return TrainConfig(run_dir=str(tmp_path / run), data_root=str(data_root), split_csv=str(data_root / "split.csv"),
                           landmarks=str(data_root / "landmarks.json"), width=0.0625, input_size=64, batch_size=4,
                           device="cpu", max_steps=steps, validate_every=3, export=str(tmp_path / "export" / "m.safetensors"))

    whole = train(config("whole", 5), progress=False)
    # The training split (2 portraits × 20 augmentations) holds 10 batches of 4: steps 3–5 cross no epoch.
    train(config("parts", 3), progress=False)
    resumed = train(config("parts", 5), resume=True, progress=False)
    assert whole.step == resumed.step == 5
    a = (tmp_path / "whole" / "checkpoint" / "model.safetensors").read_bytes()
    b = (tmp_path / "parts" / "checkpoint" / "model.safetensors").read_bytes()
    assert a == b
    log_whole, log_parts = read_log(tmp_path / "whole"), read_log(tmp_path / "parts")
    assert log_whole[-1]["val_loss"] == log_parts[-1]["val_loss"]
    assert (tmp_path / "whole" / "curve.png").stat().st_size > 1000
    from deepflash_core.network.weights import load_model

    model, card = load_model(tmp_path / "export" / "m.safetensors")
    assert card.training["steps"] in (3, 5) and "identity_psnr" in card.metrics["validation"]
    assert any("CC BY" in source["license"] for source in card.training["data_sources"])
    # A candidate export names the model and the hypothesis it tests.
    from deepflash_train.checkpoint import export_run

    import json

    evaluation = tmp_path / "eval-shift"
    evaluation.mkdir()
    (evaluation / "eval.json").write_text(json.dumps({"title": "Shift test", "split": "shift", "summary": {"psnr": 20.123456}}))
    out = export_run(tmp_path / "whole", tmp_path / "candidates" / "c.safetensors", name="c", hypothesis="h",
                     evaluations=[evaluation])
    candidate, candidate_card = load_model(out)
    assert candidate_card.name == "c" and candidate_card.hypothesis == "h"
    assert candidate_card.metrics["shift"]["psnr"] == 20.12346 and "validation" in candidate_card.metrics
    assert candidate_card.training["steps"] == whole.best_step  # the best validation's model, whichever step it was
    # Warm start: the exported weights start a new run, with the last layer back at "no change".
    started, _ = make_model(TrainConfig(width=0.0625, input_size=64, device="cpu", init_weights=str(out)), torch.device("cpu"))
    assert torch.equal(started.encoder.blocks[0][0][0].weight, candidate.encoder.blocks[0][0][0].weight)
    assert not started.head.weight.any()


def test_portrait_folder_comes_from_the_argument_or_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(PORTRAITS_ENV, raising=False)
    with pytest.raises(TrainingError, match="docs/DATA.md"):
        portraits_root(None)
    with pytest.raises(TrainingError, match="does not exist"):
        portraits_root(tmp_path / "missing")
    monkeypatch.setenv(PORTRAITS_ENV, str(tmp_path))
    assert portraits_root(None) == tmp_path
    assert portraits_root(EXAMPLES) == EXAMPLES


def test_evaluation_does_not_import_the_training_loop() -> None:
    import subprocess
    import sys

    code = ("import sys, deepflash_train.evaluate, deepflash_train.data; "
            "print('deepflash_train.loop' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
