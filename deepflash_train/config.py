"""Settings and progress of a training run, and where the studio portraits come from.

The portraits are not part of the package: a run names their folder (``--data``) or the
``DEEPFLASH_PORTRAITS`` environment variable does; docs/DATA.md says where to get them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepflash_client.errors import DeepFlashError
from deepflash_train.split import SPLIT_CSV

if TYPE_CHECKING:
    from deepflash_core.network.config import CardConfig

PORTRAITS_ENV = "DEEPFLASH_PORTRAITS"
"""Environment variable naming the studio portrait folder when no folder is passed."""

DATA_SOURCES = [
    {"name": "Face Research Lab London Set", "files": "frl_london_neutral/, frl_london_smiling/", "license": "CC BY 4.0",
     "attribution": "DeBruine, L., & Jones, B. (2017). Face Research Lab London Set (Version 5). figshare. "
                    "doi:10.6084/m9.figshare.5047666.v5"},
    {"name": "Young Adult White Faces with Manipulated Versions", "files": "frl_canada/", "license": "CC BY 4.0",
     "attribution": "DeBruine, L., & Jones, B. (2017). Young Adult White Faces with Manipulated Versions (Version 1). "
                    "figshare. doi:10.6084/m9.figshare.4220517.v1"},
    {"name": "US Congress official portraits 225x275", "files": "congress_225x275/", "license": "public domain",
     "attribution": "US Government Publishing Office, via unitedstates/images and Hainish/congress-images-225x275"},
]
class TrainingError(DeepFlashError):
    """A training run cannot start or resume (missing data, mismatched run directory)."""


@dataclass
class TrainConfig:
    """Every setting of a run; saved as ``config.json`` in the run directory."""

    run_dir: str = "runs/default"
    name: str = "deepflash-default"
    hypothesis: str = ""
    model_kind: str = "vgg16-unet"
    model_options: dict[str, Any] = field(default_factory=dict)
    data_root: str = ""
    split_csv: str = str(SPLIT_CSV)
    landmarks: str = "cache/landmarks_portraits.json"
    pairs_dir: str | None = None
    width: float = 0.25
    input_size: int = 128
    encoder_batchnorm: bool = True
    batch_size: int = 8
    lr: float = 5e-4
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    mean_weight: float = 0.0
    channels_last: bool = True
    bf16: bool = False
    device: str = "auto"
    seed: int = 0
    epochs: int = 100_000
    max_steps: int | None = None
    validate_every: int = 500
    val_limit: int | None = None
    workers: int = 0
    threads: int | None = None
    export: str | None = None
    init_weights: str | None = None
    # With init_weights: start the last layer at zero ("no change") and keep the rest.
    reset_head: bool = True
    # Condition the model on the target's look, read after the global look transform toward it
    # (deepflash_train.look_input); renders on the fly (pair banks hold no looks).
    look_input: bool = False

    def model_config(self) -> CardConfig:
        """The kind's config: its fields named like a setting of this run take that setting
        (``input_size``, and ``width``, ``encoder_batchnorm`` for the U-Nets); ``model_options`` set the rest.

        Raises:
            WeightsError: an unknown kind or setting.
        """
        # Imported here: this module stays torch-free, so the CLI's help and option parsing load no torch.
        from dataclasses import fields as config_fields

        from deepflash_core.network.registry import model_kind

        kind = model_kind(self.model_kind)
        own = {f.name for f in config_fields(kind.config_class)} & {f.name for f in fields(self)}
        look: dict[str, Any] = {}
        if self.look_input:
            from deepflash_core.network.film import look_dimension, look_fields_version

            look = {"look_dim": look_dimension(), "look_version": look_fields_version()}
        return kind.config_from_dict({**{name: getattr(self, name) for name in own}, **look, **self.model_options})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TrainState:
    """Progress of a run (``checkpoint/state.json``)."""

    step: int = 0
    epoch: int = 0
    position: int = 0
    images: int = 0
    elapsed_s: float = 0.0
    pass_of_epoch: dict[str, int] = field(default_factory=dict)
    best_psnr: float = -math.inf
    best_step: int = -1
    loss_sum: float = 0.0
    loss_count: int = 0
    last_validation_step: int = -1


def collection_file(relative: str) -> Path | None:
    """A file of the portrait collection (``$DEEPFLASH_PORTRAITS``), None when the collection or the file is not here."""
    folder = os.environ.get(PORTRAITS_ENV)
    path = Path(folder) / relative if folder else None
    return path if path is not None and path.is_file() else None


def portraits_root(folder: str | Path | None = None) -> Path:
    """The studio portrait folder: ``folder`` if given, else ``$DEEPFLASH_PORTRAITS``.

    Raises:
        TrainingError: neither names an existing folder.
    """
    chosen = str(folder) if folder else os.environ.get(PORTRAITS_ENV, "")
    if not chosen:
        raise TrainingError(f"No portrait folder: pass --data FOLDER or set {PORTRAITS_ENV}; "
                            "docs/DATA.md says where to get the studio portraits.")
    root = Path(chosen)
    if not root.is_dir():
        raise TrainingError(f"Portrait folder {root} does not exist; docs/DATA.md says where to get the studio portraits.")
    return root
