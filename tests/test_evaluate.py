"""Evaluation protocol (eq. 7/8 metrics next to the identity baseline) and real-pair alignment."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from deepflash_core.encoding import equations
from deepflash_core.network.registry import Encoding
from deepflash_core.network.unet import FlashUNet, ModelConfig
from deepflash_train.dataset import bilateral_image
from deepflash_train.evaluate import Scores, evaluate_batches, format_table, run_evaluation
from deepflash_train.real_pairs import RealPairsError, align_studio_to_flash, find_pairs, load_real_pair
from portraits import EXAMPLES

FIXTURE = EXAMPLES / "congress_A000014.jpg"


def _rgb() -> np.ndarray:
    return np.asarray(Image.open(FIXTURE).convert("RGB"))


def _similarity(angle_deg: float, shift: tuple[float, float], centre: tuple[float, float]) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D(centre, angle_deg, 1.0)
    matrix[:, 2] += shift
    return matrix


def _batch(flash: np.ndarray, studio: np.ndarray) -> dict[str, torch.Tensor]:
    images = {"flash": flash, "studio": studio, "flash_filtered": bilateral_image(flash),
              "studio_filtered": bilateral_image(studio)}
    return {k: torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1)[None] for k, v in images.items()}


class _Oracle(torch.nn.Module):
    """Outputs a fixed tensor: lets the test control ``y`` exactly."""

    def __init__(self, output: torch.Tensor) -> None:
        super().__init__()
        self.output = output
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output


def test_perfect_output_scores_perfectly_and_identity_scores_the_input() -> None:
    rgb = cv2.resize(_rgb(), (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    flash = np.clip(rgb * 1.3 + 0.05, 0, 1).astype(np.float32)
    batch = _batch(flash, rgb)
    target = equations.target(batch["flash_filtered"], batch["studio_filtered"])
    evaluation, examples = evaluate_batches(_Oracle(target), [batch], keep=1, encoding_kind=Encoding.BILATERAL)
    summary = evaluation.summary()
    assert summary["psnr"] > 60 and summary["ssim"] > 0.999 and summary["accuracy"] > 99.9
    truth = equations.reconstructed_ground_truth(batch["flash"], batch["flash_filtered"], batch["studio_filtered"])
    truth = truth[0].clamp(0, 1).permute(1, 2, 0).double().numpy()
    expected = peak_signal_noise_ratio(truth, flash.astype(np.float64), data_range=1.0)
    assert summary["identity_psnr"] == pytest.approx(expected, rel=1e-6)
    assert summary["identity_psnr"] < 40
    table = format_table(summary, "check")
    assert "identity (input unchanged)" in table and "gain" in table
    assert len(examples) == 1 and examples[0][0].shape == (64, 64, 3)
    # A direct-output model is scored on its output itself: the ground truth as output scores perfectly.
    truth_batch = equations.reconstructed_ground_truth(batch["flash"], batch["flash_filtered"], batch["studio_filtered"])
    direct, _ = evaluate_batches(_Oracle(truth_batch), [batch], encoding_kind=Encoding.DIRECT)
    assert direct.summary()["psnr"] > 60 and direct.summary()["identity_psnr"] == summary["identity_psnr"]


def test_scores_cap_psnr_of_identical_images() -> None:
    scores = Scores()
    image = np.full((16, 16, 3), 0.5)
    scores.add(image, image)
    assert scores.mean()["psnr"] == 100.0 and scores.mean()["accuracy"] == 100.0


def test_alignment_recovers_a_known_rotation_and_shift() -> None:
    studio = _rgb()
    height, width = studio.shape[:2]
    known = _similarity(4.0, (5.0, -3.0), (width / 2, height / 2))
    # The "flash" shot: the studio shot moved and brighter, as a second exposure would be.
    flash = cv2.warpAffine(studio, known, (width, height), borderMode=cv2.BORDER_REFLECT_101)
    flash = np.clip(flash.astype(np.float32) * 1.25 + 10, 0, 255).astype(np.uint8)
    for use_landmarks in (False, True):
        aligned, matrix = align_studio_to_flash(flash, studio, use_landmarks=use_landmarks)
        corners = np.array([[40, 40, 1], [180, 60, 1], [100, 230, 1]], dtype=np.float64)
        error = np.abs(corners @ matrix.T - corners @ known.T).max()
        assert error < 1.0, (use_landmarks, matrix, known)
        inner = (slice(30, -30), slice(30, -30))
        brighter = np.clip(aligned.astype(np.float32) * 1.25 + 10, 0, 255)
        assert np.abs(brighter[inner] - flash[inner].astype(np.float32)).mean() < 6.0


def test_real_pair_folder_and_evaluation_table(tmp_path: Path) -> None:
    studio = _rgb()
    height, width = studio.shape[:2]
    flash = cv2.warpAffine(studio, _similarity(-3.0, (2.0, 4.0), (width / 2, height / 2)), (width, height),
                           borderMode=cv2.BORDER_REFLECT_101)
    flash = np.clip(flash.astype(np.float32) * 1.2, 0, 255).astype(np.uint8)
    folder = tmp_path / "pairs"
    folder.mkdir()
    Image.fromarray(flash).save(folder / "anna_flash.png")
    Image.fromarray(studio).save(folder / "anna_studio.jpg", quality=95)
    Image.fromarray(studio).save(folder / "lonely_flash.png")
    pairs = find_pairs(folder)
    assert [p.name for p in pairs] == ["anna"]
    item = load_real_pair(pairs[0], 64)
    assert item["flash"].shape == (3, 64, 64) and float(item["studio"].max()) <= 1.0
    # Aligned: the studio crop is the flash crop up to the brightness change.
    assert float((item["studio"] * 1.2 - item["flash"]).abs()[:, 8:-8, 8:-8].mean()) < 0.06

    from deepflash_core.network.weights import ModelCard, save_model

    torch.manual_seed(0)
    model = FlashUNet(ModelConfig(width=0.0625, input_size=64))
    weights = tmp_path / "tiny.safetensors"
    save_model(model, ModelCard.for_model(model), weights)
    table = run_evaluation(weights=weights, data_root=tmp_path, real_dir=folder, out_dir=tmp_path / "eval", device="cpu")
    assert "identity (input unchanged)" in table
    details = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert details["summary"]["images"] == 1 and math.isfinite(details["summary"]["identity_psnr"])
    assert (tmp_path / "eval" / "contact_sheet.jpg").stat().st_size > 1000
    with pytest.raises(RealPairsError):
        find_pairs(tmp_path / "eval")
