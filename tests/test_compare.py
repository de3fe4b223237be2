"""``deepflash eval --compare``: every installed model and the ablation side by side, next to identity."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from deepflash_app.cli import cli
from deepflash_core.encoding import equations
from deepflash_core.network import weights as weights_module
from deepflash_core.network.gridnet import BilateralGridNet, GridNetConfig
from deepflash_core.network.unet import DirectUNet, FlashUNet, ModelConfig
from deepflash_core.network.weights import ModelCard, save_model
from deepflash_train import compare
from deepflash_train.dataset import bilateral_image
from portraits import EXAMPLES

SIZE = 64


def tiny_pairs(size: int) -> list[dict[str, torch.Tensor]]:
    """Fixture portraits as studio photos, a brighter, colder copy as the flash photo."""
    items = []
    for path in sorted(EXAMPLES.glob("congress_*.jpg"))[:3]:
        studio = cv2.resize(np.asarray(Image.open(path).convert("RGB")), (size, size), interpolation=cv2.INTER_AREA)
        studio = studio.astype(np.float32) / 255.0
        flash = np.clip(studio * np.float32([1.2, 1.25, 1.35]) + 0.05, 0, 1).astype(np.float32)
        face = np.zeros((size, size, 1), np.float32)
        face[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1.0  # stands in for the landmark hull
        images = {"flash": flash, "studio": studio, "flash_filtered": bilateral_image(flash),
                  "studio_filtered": bilateral_image(studio), "face": face}
        items.append({k: torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1) for k, v in images.items()})
    return [{k: torch.stack([item[k] for item in items]) for k in items[0]}]


@pytest.fixture()
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A default U-Net and a bilateral-grid candidate installed; a direct ablation outside; returns its path."""
    torch.manual_seed(0)
    unet = FlashUNet(ModelConfig(width=0.0625, input_size=SIZE))
    with torch.no_grad():
        unet.head.weight.normal_(0, 0.05)  # a model that does something
    grid = BilateralGridNet(GridNetConfig(input_size=SIZE, grid_size=8, luma_bins=4, channels=2, guide_knots=4))
    direct = DirectUNet(ModelConfig(width=0.0625, input_size=SIZE))
    default = tmp_path / "pretrained" / "deepflash-default.safetensors"
    save_model(unet, ModelCard.for_model(unet, name="deepflash-default"), default)
    save_model(grid, ModelCard.for_model(grid, name="grid", hypothesis="local affine"),
               tmp_path / "pretrained" / "candidates" / "grid.safetensors")
    ablation = tmp_path / "runs" / "direct.safetensors"
    save_model(direct, ModelCard.for_model(direct, name="direct-ablation"), ablation)
    monkeypatch.setattr(weights_module, "DEFAULT_WEIGHTS", default)
    monkeypatch.setattr(weights_module, "CANDIDATES_DIR", tmp_path / "pretrained" / "candidates")
    return ablation


def test_every_model_is_scored_on_the_same_pairs_after_identity(installed: Path) -> None:
    contenders = compare.installed_contenders([installed])
    assert [c.label for c in contenders] == ["default", "grid", "direct-ablation"]
    rows = compare.compare(contenders, {"tiny": tiny_pairs})
    assert [(r.label, r.kind) for r in rows] == [(compare.IDENTITY, ""), ("default", "vgg16-unet"),
                                                  ("grid", "bilateral-grid"), ("direct-ablation", "direct-unet")]
    identity, default, grid, direct = rows
    # Identity is the input itself scored against eq. 8.
    batch = tiny_pairs(SIZE)[0]
    truth = equations.reconstructed_ground_truth(batch["flash"], batch["flash_filtered"], batch["studio_filtered"])
    expected = np.mean([peak_signal_noise_ratio(t.clamp(0, 1).permute(1, 2, 0).double().numpy(),
                                                x.permute(1, 2, 0).double().numpy(), data_range=1.0)
                        for t, x in zip(truth, batch["flash"])])
    assert identity.psnr == pytest.approx(expected, rel=1e-6) and identity.images == 3
    # A new bilateral-grid model changes nothing (x − 2·0.5 + 1: float rounding only), so it scores as identity.
    assert (grid.ssim, grid.psnr, grid.accuracy) == pytest.approx((identity.ssim, identity.psnr, identity.accuracy), abs=1e-6)
    assert default.psnr != identity.psnr and direct.psnr != identity.psnr
    # The face modelling column: the input's own ratio for identity, and so for the no-change model.
    assert 0 < identity.face_lstd_ratio < 10 and grid.face_lstd_ratio == pytest.approx(identity.face_lstd_ratio, abs=1e-4)
    assert direct.face_lstd_ratio != pytest.approx(identity.face_lstd_ratio, abs=1e-4)
    table = compare.format_comparison(rows, {"tiny": "Tiny set"})
    assert table.startswith("Tiny set (3 images)")
    assert f"| {compare.IDENTITY} | – | 64² |" in table and "| grid | bilateral-grid | 64² |" in table
    assert f"| {identity.face_lstd_ratio:.3f} |" in table


def test_models_of_different_input_sizes_get_their_own_identity_row(installed: Path, tmp_path: Path) -> None:
    big = FlashUNet(ModelConfig(width=0.0625, input_size=2 * SIZE))
    path = tmp_path / "big.safetensors"
    save_model(big, ModelCard.for_model(big, name="big"), path)
    rows = compare.compare(compare.installed_contenders([path]), {"tiny": tiny_pairs})
    assert [(r.label, r.size) for r in rows if r.label in (compare.IDENTITY, "big")] == [
        (compare.IDENTITY, SIZE), (compare.IDENTITY, 2 * SIZE), ("big", 2 * SIZE)]


def test_eval_compare_prints_and_writes_the_table(installed: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare, "synthetic_test_sets",
                        lambda data_root, names, seed, limit, cache_dir: ({n: tiny_pairs for n in names}, {n: n for n in names}))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["eval", "--compare", "--also", str(installed), "--sets", "test,shift",
                                      "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count(compare.IDENTITY) == 2 and "direct-ablation" in result.stdout
    rows = json.loads((out / "compare.json").read_text())
    assert {row["test_set"] for row in rows} == {"test", "shift"} and len(rows) == 8
    assert (out / "compare.md").read_text() == result.stdout


def test_no_models_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deepflash_client.errors import WeightsError

    monkeypatch.setattr(weights_module, "DEFAULT_WEIGHTS", tmp_path / "none.safetensors")
    monkeypatch.setattr(weights_module, "CANDIDATES_DIR", tmp_path / "none")
    with pytest.raises(WeightsError, match="No models to compare"):
        compare.compare(compare.installed_contenders(), {"tiny": tiny_pairs})
