"""A bank of pre-rendered training pairs: passes over the training portraits, one file each.

Rendering a pair (crop, flash render, two bilateral filters) costs far more CPU than a training
step of the small CPU model, so on a CPU the renderer runs as its own process
(``deepflash render``) and writes *passes*: one augmented, freshly lit sample of every training
portrait per pass. Pass ``p`` gives portrait ``i`` augmentation ``(p + 7 i) mod 20``, so twenty
passes cover all twenty augmentations of every portrait, each with its own flash parameters.
The trainer takes a new pass each epoch as they appear, and records which one, so a resumed run
reads exactly the data it would have read.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from deepflash_train.dataset import AUGMENTATIONS, SyntheticPairs

PASS_PATTERN = re.compile(r"^pass-(\d{5})\.safetensors$")
# Portrait i's augmentation steps by this per pass; coprime with 20 is not needed, any offset
# per portrait decorrelates which crops land in the same pass.
PORTRAIT_STRIDE = 7


def pass_path(directory: Path, pass_index: int) -> Path:
    return Path(directory) / f"pass-{pass_index:05d}.safetensors"


def sample_index(portrait: int, pass_index: int) -> int:
    """Dataset index of portrait ``portrait`` in pass ``pass_index``."""
    return portrait * AUGMENTATIONS + (pass_index + PORTRAIT_STRIDE * portrait) % AUGMENTATIONS


def render_pass(pairs: SyntheticPairs, pass_index: int, directory: Path, progress: bool = True) -> Path:
    """Render one pass of ``pairs`` (augmented dataset) into ``directory``; return the file.

    Images are stored as uint8 (``flash``, ``studio``) and the filtered pair as float16
    (``flash_filtered``, ``studio_filtered``): the target is their difference, which 8 bits
    would quantise to steps of 1/255.
    """
    if pairs.augmentations != AUGMENTATIONS:
        raise ValueError("a pass is drawn from the augmented dataset")
    pairs.set_epoch(pass_index)
    portraits = len(pairs.store)
    size = pairs.size
    flash = torch.empty(portraits, 3, size, size, dtype=torch.uint8)
    studio = torch.empty_like(flash)
    flash_bl = torch.empty(portraits, 3, size, size, dtype=torch.float16)
    studio_bl = torch.empty_like(flash_bl)
    for portrait in tqdm(range(portraits), desc=f"pass {pass_index}", disable=not progress, leave=False):
        item = pairs[sample_index(portrait, pass_index)]
        flash[portrait] = (item["flash"] * 255.0 + 0.5).to(torch.uint8)
        studio[portrait] = (item["studio"] * 255.0 + 0.5).to(torch.uint8)
        flash_bl[portrait] = item["flash_filtered"].half()
        studio_bl[portrait] = item["studio_filtered"].half()
    path = pass_path(directory, pass_index)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    save_file({"flash": flash, "studio": studio, "flash_filtered": flash_bl, "studio_filtered": studio_bl},
              str(temporary), metadata={"pass": str(pass_index), "size": str(size), "seed": str(pairs.seed)})
    temporary.replace(path)
    return path


def complete_passes(directory: Path) -> list[int]:
    """Indices of the passes fully written in ``directory``, ascending."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = (PASS_PATTERN.match(p.name) for p in directory.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def choose_pass(available: list[int], used: list[int], epoch: int) -> int:
    """The pass an epoch trains on: the oldest one not used yet, else cycle through all."""
    if not available:
        raise FileNotFoundError("no rendered pass yet")
    unused = [p for p in available if p not in used]
    return unused[0] if unused else available[epoch % len(available)]


class PassData:
    """One pass in memory, served as float32 batches."""

    def __init__(self, path: Path) -> None:
        self.tensors = load_file(str(path))
        self.path = Path(path)

    def __len__(self) -> int:
        return int(self.tensors["flash"].shape[0])

    @property
    def size(self) -> int:
        return int(self.tensors["flash"].shape[-1])

    def batch(self, indices: np.ndarray | list[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return {
            "flash": self.tensors["flash"][index].float() / 255.0,
            "studio": self.tensors["studio"][index].float() / 255.0,
            "flash_filtered": self.tensors["flash_filtered"][index].float(),
            "studio_filtered": self.tensors["studio_filtered"][index].float(),
        }
