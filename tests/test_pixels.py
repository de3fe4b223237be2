"""The pixel helpers the stages share."""

from __future__ import annotations

import numpy as np
import pytest

from deepflash_core.pixels import channel_max, channel_min


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_channel_extremes_are_the_reductions_over_the_last_axis(dtype) -> None:
    rng = np.random.default_rng(0)
    values = (rng.random((37, 23, 3)) * (1.0 if dtype == np.float32 else np.iinfo(dtype).max)).astype(dtype)
    if dtype == np.float32:
        values[4, 5, 1] = np.nan
    np.testing.assert_array_equal(channel_min(values), values.min(axis=-1))
    np.testing.assert_array_equal(channel_max(values), values.max(axis=-1))
    np.testing.assert_array_equal(channel_max(values[values[..., 0] > values[..., 2]]),
                                  values[values[..., 0] > values[..., 2]].max(axis=1))
    out = np.empty((37, 23), dtype)
    assert channel_min(values, out=out) is out
