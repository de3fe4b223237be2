"""Look conditioning: FiLM starts at no effect, conditioned cards round-trip, today's weights warm-start it exactly."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from deepflash_client.errors import WeightsError
from deepflash_core.network.film import FiLM, is_look_parameter, look_dimension, look_fields_version
from deepflash_core.network.gridnet import BilateralGridNet, GridNetConfig
from deepflash_core.network.unet import FlashUNet, ModelConfig
from deepflash_core.network.weights import CANDIDATES_DIR, DEFAULT_WEIGHTS, ModelCard, card_path, load_model, save_model

UNCONDITIONED = CANDIDATES_DIR / "deepflash-unconditioned.safetensors"
"""The previous default, trained before looks: shipped as a candidate."""

LOOK = {"look_dim": 12, "look_version": "0123456789ab"}


def _trained_like(model: torch.nn.Module) -> torch.nn.Module:
    """Random weights everywhere (a trained model is not at its initialisation), then the look layers zeroed."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
            if is_look_parameter(name) and ".layers." in name:
                parameter.zero_()
    return model.eval()


def test_film_at_init_is_the_identity_and_learns():
    film = FiLM(8, 5)
    x = torch.randn(3, 5, 4, 4)
    embedded = torch.randn(3, 8)
    assert torch.equal(film(x, embedded), x)
    film(x, embedded).square().sum().backward()
    assert film.project.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", ["unet", "grid"])
def test_a_conditioned_model_starts_as_its_unconditioned_twin(kind):
    if kind == "unet":
        plain, conditioned = FlashUNet(ModelConfig(width=0.0625, input_size=32)), \
            FlashUNet(ModelConfig(width=0.0625, input_size=32, **LOOK))
    else:
        plain, conditioned = BilateralGridNet(GridNetConfig(input_size=32, grid_size=8)), \
            BilateralGridNet(GridNetConfig(input_size=32, grid_size=8, **LOOK))
    _trained_like(plain)
    missing, unexpected = conditioned.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(is_look_parameter(name) for name in missing)
    conditioned.eval()
    x, look = torch.rand(2, 3, 32, 32), torch.rand(2, 12) * 2 - 1
    with torch.no_grad():
        reference = plain(x)
        assert torch.equal(conditioned(x, look), reference)
        assert torch.equal(conditioned(x), reference)  # no look: today's behaviour
        assert not torch.allclose(reference, torch.full_like(reference, 0.5))  # the weights do something
    with pytest.raises(ValueError, match="the look must be"):
        conditioned(x, torch.zeros(2, 5))


def test_the_look_steers_once_trained():
    model = _trained_like(FlashUNet(ModelConfig(width=0.0625, input_size=32, **LOOK)))
    with torch.no_grad():
        for layer in model.look.layers:
            layer.project.weight.normal_(0, 0.5)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(model(x, torch.full((12,), -0.5)), model(x, torch.full((12,), 0.5)))


def test_config_needs_a_version_with_a_look():
    with pytest.raises(ValueError, match="look_version"):
        ModelConfig(width=0.0625, input_size=32, look_dim=12)
    with pytest.raises(ValueError, match="look_version"):
        GridNetConfig(look_version="abc")


def test_a_conditioned_card_round_trips(tmp_path):
    config = ModelConfig(width=0.0625, input_size=32, look_dim=look_dimension(), look_version=look_fields_version())
    model = _trained_like(FlashUNet(config))
    path = tmp_path / "looks.safetensors"
    save_model(model, ModelCard.for_model(model, name="looks"), path)
    card = json.loads(card_path(path).read_text())
    assert card["config"]["look_dim"] == look_dimension() and card["config"]["look_version"] == look_fields_version()
    loaded, loaded_card = load_model(path)
    assert loaded_card.config == config
    x, look = torch.rand(1, 3, 32, 32), torch.rand(1, look_dimension()) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded.float().to(memory_format=torch.contiguous_format)(x, look), model(x, look))


def test_looks_of_another_version_are_refused(tmp_path):
    config = ModelConfig(width=0.0625, input_size=32, look_dim=look_dimension(), look_version="000000000000")
    model = FlashUNet(config)
    path = tmp_path / "old-looks.safetensors"
    save_model(model, ModelCard.for_model(model, name="old"), path)
    with pytest.raises(WeightsError, match="trained on looks of version"):
        load_model(path)


def test_shipped_cards_without_looks_still_load():
    model, card = load_model(UNCONDITIONED)
    assert not card.config.look_dim
    assert not any(is_look_parameter(name) for name in model.state_dict())


def test_the_shipped_default_is_conditioned_on_todays_looks():
    model, card = load_model(DEFAULT_WEIGHTS)
    assert card.config.look_dim == look_dimension() and card.config.look_version == look_fields_version()
    assert any(is_look_parameter(name) for name in model.state_dict())


def test_warm_start_from_weights_without_looks_gives_identical_outputs_at_step_zero(tmp_path):
    from deepflash_train.config import TrainConfig
    from deepflash_train.loop import make_model

    start, card = load_model(UNCONDITIONED)
    config = TrainConfig(run_dir=str(tmp_path), width=card.config.width, input_size=card.config.input_size,
                         init_weights=str(UNCONDITIONED), reset_head=False, look_input=True, channels_last=False)
    model, _ = make_model(config, torch.device("cpu"))
    assert dataclasses.asdict(model.config) == {**dataclasses.asdict(card.config), "look_dim": look_dimension(),
                                                "look_version": look_fields_version()}
    model.eval()
    x = torch.rand(2, 3, card.config.input_size, card.config.input_size)
    look = torch.rand(2, look_dimension()) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model(x, look), start.float().to(memory_format=torch.contiguous_format)(x))
