"""Shared test fixtures: bundled public-domain portraits and a tiny randomly initialised model.

The product never runs on random weights; tests do, because they check plumbing, not quality.
"""

from __future__ import annotations

import os
from pathlib import Path

# Before anything loads torch: idle OpenMP threads sleep instead of spinning. On a machine shared with
# other processes, spinning threads starve the busy ones (measured: the pipeline tests 71 s -> 17 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from portraits import PORTRAIT


@pytest.fixture(scope="session")
def portrait_path() -> Path:
    """A public-domain studio portrait (225×275 JPEG) with one face."""
    return PORTRAIT


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A tiny random FlashUNet (width 0.125, 64² input) saved as safetensors + model card."""
    import torch

    from deepflash_core.network.unet import FlashUNet, ModelConfig
    from deepflash_core.network.weights import ModelCard, save_model

    torch.manual_seed(1234)
    model = FlashUNet(ModelConfig(width=0.125, input_size=64)).eval()
    # A fresh network starts at "no change"; a random last layer makes the plumbing visible.
    torch.nn.init.xavier_uniform_(model.head.weight)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_model(model, ModelCard.for_model(model, name="tiny-random-test-model"), path)
    return path
