"""The VGG-16 U-Net: structure, shapes, width multiplier, initialisation."""

import pytest
import torch
from torch import nn

from deepflash_core.network.unet import FlashUNet, ModelConfig, VGG16Encoder, count_parameters


def test_full_width_is_the_papers_size():
    # 13 VGG-16 convolutions + bridge + 5 up-sampling stages: about 29 M parameters at width 1.0.
    model = FlashUNet(ModelConfig(width=1.0))
    assert 28_000_000 < count_parameters(model) < 31_000_000
    convs = [m for m in model.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) for c in convs)
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in model.decoder.modules()) == 5


def test_encoder_returns_skips_at_each_stride():
    encoder = VGG16Encoder(width=0.125)
    skips, bottom = encoder(torch.rand(1, 3, 64, 96))
    assert [s.shape[-2:] for s in skips] == [(64 // 2**i, 96 // 2**i) for i in range(5)]
    assert [s.shape[1] for s in skips] == encoder.out_channels == [8, 16, 32, 64, 64]
    assert bottom.shape[-2:] == (2, 3)


@pytest.mark.parametrize("width", [0.0625, 0.125])
def test_output_shape_and_range(width):
    model = FlashUNet(ModelConfig(width=width, input_size=64)).eval()
    with torch.inference_mode():
        y = model(torch.rand(2, 3, 64, 32))
    assert y.shape == (2, 3, 64, 32)
    assert (y > 0).all() and (y < 1).all()


def test_untrained_output_is_exactly_no_change():
    # Zero last layer: y = sigmoid(0) = 0.5 everywhere, i.e. the correction D = 1 - 2y is 0.
    model = FlashUNet(ModelConfig(width=0.125, input_size=64)).eval()
    with torch.inference_mode():
        y = model(torch.rand(1, 3, 64, 64))
    assert torch.equal(y, torch.full_like(y, 0.5))


def test_zero_head_still_learns():
    # The head's weights get gradients at once, so the first step already moves the output.
    model = FlashUNet(ModelConfig(width=0.0625, input_size=32))
    x = torch.rand(2, 3, 32, 32)
    ((model(x) - 0.8) ** 2).mean().backward()
    assert model.head.weight.grad.abs().sum() > 0


def test_width_scales_parameters_quadratically():
    small = count_parameters(FlashUNet(ModelConfig(width=0.25)))
    large = count_parameters(FlashUNet(ModelConfig(width=0.5)))
    assert 3.5 < large / small < 4.5


def test_bad_inputs_and_configs_raise():
    model = FlashUNet(ModelConfig(width=0.0625, input_size=32))
    with pytest.raises(ValueError):
        model(torch.rand(1, 3, 48, 32))
    with pytest.raises(ValueError):
        model(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError):
        ModelConfig(input_size=100)
    with pytest.raises(ValueError):
        ModelConfig(width=0)


def test_channels_last_gives_the_same_result():
    model = FlashUNet(ModelConfig(width=0.0625, input_size=32)).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        actual = model(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-4)


def test_batchnorm_encoder_trains_a_step():
    model = FlashUNet(ModelConfig(width=0.0625, input_size=32, encoder_batchnorm=True))
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.encoder.modules())
    loss = model(torch.rand(2, 3, 32, 32)).square().mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
