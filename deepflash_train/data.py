"""The data of a run: split files, landmarks, portrait stores, validation pairs and epoch batches."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from deepflash_train import pair_bank
from deepflash_train.config import TrainConfig, TrainingError, TrainState, portraits_root
from deepflash_train.dataset import PortraitStore, SyntheticPairs
from deepflash_train.landmarks import build_landmark_cache, load_landmark_cache
from deepflash_train.split import files_in, read_split


def load_split_files(config: TrainConfig, split: str) -> list[str]:
    path = Path(config.split_csv)
    if not path.exists():
        raise TrainingError(f"Split file {path} not found.")
    return files_in(read_split(path), split)


def landmark_entries(config: TrainConfig, files: list[str]) -> dict[str, dict]:
    """Landmarks of ``files``, detecting (and caching) those not yet in the cache."""
    root = portraits_root(config.data_root)
    missing = [f for f in files if not (root / f).exists()]
    if missing:
        raise TrainingError(f"{len(missing)} portraits of the split are missing under {root} (first: {missing[0]}); "
                            "see docs/TRAINING.md for where to get them.")
    cache_path = Path(config.landmarks)
    cache = load_landmark_cache(cache_path) if cache_path.exists() else {"entries": {}}
    if any(f not in cache["entries"] for f in files):
        cache = build_landmark_cache(root, files, cache_path)
    entries = {f: cache["entries"][f] for f in files if cache["entries"].get(f)}
    return entries


def portrait_store(config: TrainConfig, split: str) -> PortraitStore:
    files = load_split_files(config, split)
    entries = landmark_entries(config, files)
    usable = [f for f in files if f in entries]
    return PortraitStore(portraits_root(config.data_root), usable, entries, config.input_size)


def default_renderer() -> Any:
    from deepflash_train.renderer import FlashRenderer

    return FlashRenderer()


def validation_batches(config: TrainConfig, renderer: Any = None) -> list[dict[str, torch.Tensor]]:
    """The validation pairs (no augmentation, fixed flash seed), rendered once per run and kept on disk."""
    path = Path(config.run_dir) / "validation.safetensors"
    if not path.exists():
        store = portrait_store(config, "validation")
        if config.val_limit:
            store.files = store.files[: config.val_limit]
        pairs = SyntheticPairs(store, renderer or default_renderer(), config.input_size,
                               seed=config.seed + 1, augment=False, identity_pairs=False, look_input=config.look_input)
        items = [pairs[i] for i in range(len(pairs))]
        stacked = {key: torch.stack([item[key] for item in items]) for key in items[0]}
        save_file({k: v.contiguous() for k, v in stacked.items()}, str(path))
    tensors = load_file(str(path))
    count = tensors["flash"].shape[0]
    step = max(1, config.batch_size * 2)
    return [{k: v[i: i + step] for k, v in tensors.items()} for i in range(0, count, step)]


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    return np.random.default_rng(np.random.SeedSequence([seed, 7919, epoch])).permutation(count)


def _worker_init(_: int) -> None:
    # The training process already uses every core; each loader worker stays single-threaded.
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


class _EpochBatches(torch.utils.data.Sampler):
    """Batches of ``(epoch, index)`` keys for the epoch and position current when iteration starts."""

    def __init__(self, source: EpochSource, count: int) -> None:
        self.source, self.count = source, count

    def __len__(self) -> int:
        return self.count // self.source.config.batch_size

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        state, size = self.source._state, self.source.config.batch_size
        epoch, position = state.epoch, state.position
        order = epoch_order(self.source.config.seed, epoch, self.count)
        for start in range(position * size, self.count - size + 1, size):
            yield [(epoch, int(i)) for i in order[start: start + size]]


class EpochSource:
    """Batches of one epoch from a given position: from rendered passes, or rendered on the fly."""

    def __init__(self, config: TrainConfig, renderer: Any = None, wait: Callable[[], bool] | None = None) -> None:
        self.config = config
        self.renderer = renderer
        self.wait = wait
        self._pairs: SyntheticPairs | None = None
        self._loader: torch.utils.data.DataLoader | None = None
        self._state: TrainState | None = None

    def _on_the_fly(self) -> SyntheticPairs:
        if self._pairs is None:
            store = portrait_store(self.config, "train")
            store.preload(progress=True)
            self._pairs = SyntheticPairs(store, self.renderer or default_renderer(), self.config.input_size,
                                         seed=self.config.seed, look_input=self.config.look_input)
        return self._pairs

    def prepare(self) -> None:
        """Decode the portraits now (on-the-fly rendering), so the first step's time is a step's."""
        if not self.config.pairs_dir:
            self._on_the_fly()

    def batches(self, state: TrainState) -> Iterator[dict[str, torch.Tensor]]:
        config = self.config
        size = config.batch_size
        if config.pairs_dir:
            key = str(state.epoch)
            if key not in state.pass_of_epoch:
                available = self._wait_for_passes()
                if not available:
                    return
                state.pass_of_epoch[key] = pair_bank.choose_pass(available, list(state.pass_of_epoch.values()), state.epoch)
            data = pair_bank.PassData(pair_bank.pass_path(Path(config.pairs_dir), state.pass_of_epoch[key]))
            if data.size != config.input_size:
                raise TrainingError(f"{data.path} holds {data.size}² pairs; this run trains at {config.input_size}².")
            order = epoch_order(config.seed, state.epoch, len(data))
            for start in range(state.position * size, len(order) - size + 1, size):
                yield data.batch(order[start: start + size])
            return
        pairs = self._on_the_fly()
        self._state = state
        if self._loader is None:
            # One loader for the whole run: its workers start once (spawned, not forked from a
            # process whose thread pools are running) and every item names its own epoch.
            self._loader = torch.utils.data.DataLoader(
                pairs, batch_sampler=_EpochBatches(self, len(pairs)), num_workers=config.workers,
                worker_init_fn=_worker_init if config.workers else None,
                prefetch_factor=4 if config.workers else None, persistent_workers=config.workers > 0,
                multiprocessing_context="spawn" if config.workers else None)
        yield from self._loader

    def _wait_for_passes(self) -> list[int]:
        directory = Path(self.config.pairs_dir or "")
        announced = False
        while True:
            available = pair_bank.complete_passes(directory)
            if available:
                return available
            if not announced:
                print(f"waiting for `deepflash render` to write its first pass into {directory} …", flush=True)
                announced = True
            if self.wait is not None and not self.wait():
                return []
            time.sleep(5.0)
