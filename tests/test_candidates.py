"""The shipped candidates folder: every candidate loads, runs in the pipeline, is small and documented."""

from __future__ import annotations

import pytest

from deepflash_core.network.registry import Encoding, model_kind
from deepflash_core.network.weights import CANDIDATES_DIR, WEIGHTS_SUFFIX, load_model

MAX_BYTES = 10 * 1024 * 1024
CANDIDATES = sorted(CANDIDATES_DIR.glob(f"*{WEIGHTS_SUFFIX}"))


def test_the_folder_is_documented() -> None:
    readme = (CANDIDATES_DIR / "README.md").read_text()
    for path in CANDIDATES:
        assert f"`{path.stem}`" in readme, f"{path.stem} is not listed in {CANDIDATES_DIR / 'README.md'}"


@pytest.mark.parametrize("path", CANDIDATES, ids=[p.stem for p in CANDIDATES])
def test_each_candidate_loads_by_name_is_small_and_names_its_hypothesis(path) -> None:
    assert path.stat().st_size <= MAX_BYTES
    model, card = load_model(path.stem)  # by name, sha256 verified
    assert card.hypothesis.strip(), f"{path.name}'s model card names no hypothesis"
    assert model_kind(card.architecture).encoding is Encoding.BILATERAL  # the pipeline can run it
