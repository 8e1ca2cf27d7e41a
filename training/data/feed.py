"""The training input of a run: decoded crops, loader workers that live as long as the run, and the
augmentation of whole batches on the training device.

A :class:`TrainFeed` is made once per run over every crop the run may train on. Its workers hold the
decoded store (:mod:`.store`) and are started once (``persistent_workers``); each epoch only hands them new
keys (crop, target, epoch, position in the epoch), so the epoch's crops, sampling and per-crop random
draws are those of :class:`~.frames.CropDataset` with the same seed. Two ways to augment:

- **batched** (the default on a GPU): a worker cuts each crop box out of the cached crop (a view) and
  draws the crop's augmentation parameters; the training device resizes, flips, recolours, blurs and
  normalises the whole batch (:mod:`.batch_augment`). The workers do almost nothing per crop.
- **per crop** (the default on a CPU, and whenever ``jpeg_p`` > 0): the workers run the per-crop OpenCV
  path of :class:`~.frames.CropDataset`, bit for bit. On a CPU its uint8 OpenCV operations cost less than
  the same work in float tensors would, and the workers run beside the model's threads instead of before
  them (measured: docs/training.md, "Input pipeline").

Batches are pinned (page-locked) when the device is a GPU, so the copy to it runs asynchronously.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from liveness_app.core.preprocess import PreprocessSpec, prepare_crop
from training.data.augment import AugmentConfig, augment
from training.data.batch_augment import N_PARAMS, augment_batch, batchable, draw_view, pack
from training.data.frames import Entry, read_crop, train_view
from training.data.store import DecodedStore

Key = tuple[int, float, int, int]  # (crop number in the feed, target, epoch, position in the epoch's entries)


def _shared(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An empty tensor; in a loader worker, in shared memory already (else it is copied there to be sent)."""
    out = torch.empty(shape, dtype=dtype)
    return out.share_memory_() if get_worker_info() is not None else out


def _as_is(batch: Any) -> Any:
    return batch  # __getitems__ returns whole batches


class FeedCrops(Dataset):
    """What the workers hold for the whole run: every crop's path and store row, and the recipe."""

    def __init__(
        self,
        paths: Sequence[Path],
        store: DecodedStore | None,
        spec: PreprocessSpec,
        extra: float,
        augment_cfg: AugmentConfig,
        synth_attacks: float,
        seed: int,
        batched: bool,
    ) -> None:
        self.paths = list(paths)
        self.store = store
        self.rows = np.array([store.row(p) for p in self.paths] if store is not None else [-1] * len(self.paths))
        self.spec, self.extra, self.augment_cfg = spec, extra, augment_cfg
        self.synth_attacks, self.seed, self.batched = synth_attacks, seed, batched

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: Key) -> Any:
        return self.__getitems__([key])

    def __getitems__(self, keys: Sequence[Key]) -> tuple[torch.Tensor, ...]:
        """One batch: (crops, targets, positions) ready for the model (per crop), or (uint8 slots,
        targets, positions, parameters) for :func:`augment_batch` (batched)."""
        targets = torch.empty(len(keys), dtype=torch.float32)
        positions = torch.tensor([k[3] for k in keys], dtype=torch.int64)
        views, params = [], []
        size = int(self.spec.input_size)
        out = None if self.batched else _shared((len(keys), 3, size, size), torch.float32)
        for i, (crop_no, target, epoch, position) in enumerate(keys):
            rng = np.random.default_rng([self.seed, epoch, position])
            crop = read_crop(self.paths[crop_no], self.store, int(self.rows[crop_no]))
            crop, targets[i] = train_view(crop, target, rng, self.spec.crop_margin, self.extra, self.synth_attacks)
            if out is not None:
                out[i] = torch.from_numpy(prepare_crop(augment(crop, rng, self.augment_cfg), self.spec))
            else:
                view, p = draw_view(crop, rng, self.augment_cfg, size)
                views.append(view)
                params.append(p)
        if out is not None:
            return out, targets, positions
        side = max(max(v.shape[:2]) for v in views) + 1  # +1: room for the replicated border
        slots = _shared((len(keys), side, side, 3), torch.uint8)
        pack(views, slots.numpy())
        return slots, targets, positions, torch.from_numpy(np.stack(params).reshape(-1, N_PARAMS))


class TrainFeed:
    """The run's training loader (module docstring). ``batched`` None: batched on a GPU when the
    augmentation allows it (:func:`batchable`), per crop otherwise."""

    def __init__(
        self,
        crop_paths: Sequence[Path],
        store: DecodedStore | None,
        spec: PreprocessSpec,
        extra: float,
        augment_cfg: AugmentConfig,
        *,
        synth_attacks: float = 0.0,
        seed: int = 4,
        batch_size: int = 64,
        workers: int = 0,
        device: torch.device = torch.device("cpu"),
        batched: bool | None = None,
    ) -> None:
        if batched is None:
            batched = device.type == "cuda" and batchable(augment_cfg)
        if batched and not batchable(augment_cfg):
            raise ValueError("JPEG re-encoding (jpeg_p > 0) runs per crop only")
        paths = list(dict.fromkeys(Path(p) for p in crop_paths))
        self._number = {p: i for i, p in enumerate(paths)}
        self.crops = FeedCrops(paths, store, spec, extra, augment_cfg, synth_attacks, seed, batched)
        self.spec, self.device, self.batched = spec, device, batched
        self._batches = _KeyBatches(batch_size)
        self._loader: DataLoader | None = DataLoader(
            self.crops,
            batch_sampler=self._batches,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=device.type == "cuda",
            collate_fn=_as_is,
        )

    @property
    def workers(self) -> int:
        return self._loader.num_workers if self._loader is not None else 0

    def covers(self, entries: Sequence[Entry]) -> bool:
        return self._loader is not None and all(e.crop_path in self._number for e in entries)

    def epoch(self, entries: Sequence[Entry], epoch: int, sampler: Sequence[int]) -> "EpochBatches":
        """The batches of one epoch: ``sampler`` lists the positions in ``entries`` to train on, in order."""
        keys = [(self._number[entries[i].crop_path], entries[i].target, epoch, i) for i in sampler]
        return EpochBatches(self, entries, sampler, keys)

    def batches(self, keys: list[Key], device_stage: bool = True) -> Iterator[tuple[torch.Tensor, ...]]:
        """(model input on the device, targets, positions) for ``keys``, in batches; ``device_stage``
        False (benchmarks): the workers' batches as they come, before the device's share of the work."""
        if self._loader is None:
            raise RuntimeError("this TrainFeed is closed")
        self._batches.keys = keys
        for batch in self._loader:
            if not device_stage:
                yield batch
                continue
            if self.batched:
                x, y, positions, params = batch
                size, mean, std = int(self.spec.input_size), self.spec.mean, self.spec.std
                x = augment_batch(x.to(self.device, non_blocking=True), params, size, mean, std)  # params: CPU
            else:
                x, y, positions = batch
                x = x.to(self.device, non_blocking=True)
            yield x.contiguous(memory_format=torch.channels_last), y, positions

    def close(self) -> None:
        """Stop the workers (they also stop with the process)."""
        self._loader = None  # the persistent iterator, and its workers, go with it


class _KeyBatches(torch.utils.data.Sampler):
    """The batch sampler the persistent loader keeps: it batches whatever keys it holds now."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.keys: list[Key] = []

    def __len__(self) -> int:
        return -(-len(self.keys) // self.batch_size)

    def __iter__(self) -> Iterator[list[Key]]:
        keys = self.keys
        for start in range(0, len(keys), self.batch_size):
            yield keys[start : start + self.batch_size]


class EpochBatches:
    """One epoch of a :class:`TrainFeed`, shaped like the DataLoader it replaces: ``len()`` batches,
    ``sampler`` (positions), ``dataset.entries``; iterating gives (input on the device, targets, positions)."""

    def __init__(self, feed: TrainFeed, entries: Sequence[Entry], sampler: Sequence[int], keys: list[Key]) -> None:
        self.feed, self.sampler, self.keys = feed, sampler, keys
        self.dataset = SimpleNamespace(entries=list(entries))
        self.batch_size = feed._batches.batch_size

    def __len__(self) -> int:
        return -(-len(self.keys) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        return self.feed.batches(self.keys)
