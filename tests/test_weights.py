"""Weights as safetensors + model card: round trip, checksum, clear errors."""

import json

import pytest
import torch

from deepflash_client.errors import WeightsError
from deepflash_core.network.unet import FlashUNet, ModelConfig
from deepflash_core.network.weights import ModelCard, card_path, load_model, read_card, save_model


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    model = FlashUNet(ModelConfig(width=0.0625, input_size=32)).eval()
    path = tmp_path / "tiny.safetensors"
    card = save_model(model, ModelCard.for_model(model, name="tiny", metrics={"ssim": 0.5}), path)
    return model, card, path


def test_round_trip_rebuilds_the_same_network(saved):
    model, card, path = saved
    loaded, loaded_card = load_model(path)
    assert loaded_card.config == model.config and loaded_card.sha256 == card.sha256
    assert loaded_card.metrics == {"ssim": 0.5} and loaded_card.parameters > 0
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), model(x))
    assert not loaded.training


def test_file_is_safetensors_not_pickle(saved):
    _, _, path = saved
    header_length = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8:8 + header_length])
    assert json.loads(header["__metadata__"]["config"])["width"] == 0.0625


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_model(tmp_path / "absent.safetensors")


def test_missing_card(saved):
    _, _, path = saved
    card_path(path).unlink()
    with pytest.raises(WeightsError, match="model card"):
        load_model(path)


def test_checksum_mismatch_is_refused(saved):
    _, _, path = saved
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="does not match its model card"):
        load_model(path)


def test_architecture_mismatch_is_refused(saved):
    _, _, path = saved
    card = json.loads(card_path(path).read_text())
    card["config"]["width"] = 0.125
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="does not fit"):
        load_model(path)


def test_malformed_card(saved):
    _, _, path = saved
    card_path(path).write_text("{not json")
    with pytest.raises(WeightsError, match="cannot be read"):
        read_card(path)
    card_path(path).write_text(json.dumps({"name": "x"}))
    with pytest.raises(WeightsError, match="incomplete"):
        read_card(path)


def test_card_must_describe_the_model(tmp_path):
    model = FlashUNet(ModelConfig(width=0.0625, input_size=32))
    card = ModelCard(name="wrong", config=ModelConfig(width=0.125, input_size=32))
    with pytest.raises(WeightsError):
        save_model(model, card, tmp_path / "x.safetensors")


# ------------------------------------------------------------------------------ kinds and installed models


def _save(model, path, **card):
    return save_model(model, ModelCard.for_model(model, **card), path)


def test_card_names_the_kind_and_load_builds_that_class(tmp_path):
    from deepflash_core.network.gridnet import BilateralGridNet, GridNetConfig
    from deepflash_core.network.unet import DirectUNet

    grid = BilateralGridNet(GridNetConfig(input_size=32, grid_size=8, luma_bins=4, channels=2, guide_knots=4))
    direct = DirectUNet(ModelConfig(width=0.0625, input_size=32))
    for model, kind in ((grid, "bilateral-grid"), (direct, "direct-unet")):
        path = tmp_path / f"{kind}.safetensors"
        card = _save(model.eval(), path, name=kind, hypothesis="a test")
        assert json.loads(card_path(path).read_text())["architecture"] == kind
        loaded, loaded_card = load_model(path)
        assert type(loaded) is type(model) and loaded_card.config == model.config
        assert loaded_card.hypothesis == "a test"
        x = torch.rand(1, 3, 32, 32)
        with torch.inference_mode():
            torch.testing.assert_close(loaded(x), model(x))


def test_every_kind_builds_without_initialisation_and_loads_its_weights(tmp_path):
    from deepflash_core.network.gridnet import GridNetConfig
    from deepflash_core.network.registry import KINDS

    tiny = {"vgg16-unet": ModelConfig(width=0.0625, input_size=32),
            "direct-unet": ModelConfig(width=0.0625, input_size=32),
            "bilateral-grid": GridNetConfig(input_size=32, grid_size=8, luma_bins=4, channels=2, guide_knots=4)}
    assert set(tiny) == set(KINDS)  # a new kind needs its tiny config here
    for name, kind in KINDS.items():
        assert type(kind.model_class(tiny[name], initialise=False)) is kind.model_class  # the one constructor contract
        torch.manual_seed(0)
        trained = kind.build(tiny[name]).eval()
        with torch.no_grad():  # weights unlike any start, zero heads included
            for parameter in trained.parameters():
                parameter.add_(0.01 * torch.randn_like(parameter))
        path = tmp_path / f"{name}.safetensors"
        _save(trained, path, name=name)
        loaded, _ = load_model(path)
        expected = trained.state_dict()
        assert loaded.state_dict().keys() == expected.keys()
        for key, value in loaded.state_dict().items():
            assert torch.equal(value, expected[key]), f"{name}: {key}"


def test_unknown_kind_lists_the_valid_ones(saved):
    _, _, path = saved
    card = json.loads(card_path(path).read_text())
    card["architecture"] = "resnet-9000"
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="resnet-9000.*bilateral-grid, direct-unet, vgg16-unet"):
        load_model(path)


def test_card_and_model_must_be_the_same_kind(tmp_path):
    from deepflash_core.network.unet import DirectUNet

    model = DirectUNet(ModelConfig(width=0.0625, input_size=32))
    card = ModelCard(name="wrong", config=model.config, architecture="vgg16-unet")
    with pytest.raises(WeightsError, match="direct-unet"):
        save_model(model, card, tmp_path / "x.safetensors")


def test_weights_by_name_path_or_default(saved, tmp_path, monkeypatch):
    from deepflash_core.network import weights as weights_module

    model, _, path = saved
    candidates = tmp_path / "candidates"
    _save(model, candidates / "flat-light.safetensors", name="flat-light")
    monkeypatch.setattr(weights_module, "CANDIDATES_DIR", candidates)
    monkeypatch.setattr(weights_module, "DEFAULT_WEIGHTS", path)
    assert list(weights_module.installed_models()) == ["default", "flat-light"]
    assert weights_module.resolve_weights("flat-light") == candidates / "flat-light.safetensors"
    assert weights_module.resolve_weights("default") == path == weights_module.resolve_weights(None)
    assert weights_module.resolve_weights(str(path)) == path
    assert load_model("flat-light")[1].name == "flat-light"
    with pytest.raises(WeightsError, match="installed models: default, flat-light"):
        weights_module.resolve_weights("no-such-model")
    with pytest.raises(WeightsError, match="not found"):
        load_model(tmp_path / "elsewhere" / "missing.safetensors")
