"""Cached face crops -> model tensors, through the app's own :func:`prepare_crop`.

An *entry* is one cached crop of one sample. Each epoch draws a few random frames per video (seeded), so
long videos do not swamp short ones and every epoch sees different frames; evaluation takes frames spread
evenly over each video and scores are later aggregated per video.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from liveness_app.core.files import display_path, read_image
from liveness_app.core.preprocess import PreprocessSpec, prepare_crop
from liveness_app.core.sessions import LIVE
from training.data.attacks import simulate_attack
from training.data.augment import AugmentConfig, augment
from training.data.cache import crop_for_training
from training.data.store import DecodedStore


@dataclass(frozen=True)
class Entry:
    crop_path: Path
    label: str
    group: str
    video_id: str
    soft: float = -1.0  # the teachers' combined P(live) of this crop; negative: none

    @property
    def target(self) -> float:
        return 1.0 if self.label == LIVE else 0.0


def _entries(items: Sequence, pick, soft: Mapping[Path, float] | None = None) -> list[Entry]:
    out: list[Entry] = []
    soft = soft or {}
    for item in items:
        s = item.sample
        # video_id is the file's path for most samples; it reaches score CSVs and reports as text.
        video_id = display_path(s.video_id)
        for p in pick(list(item.crop_paths)):
            out.append(Entry(Path(p), s.label, s.group, video_id, soft.get(Path(p), -1.0)))
    return out


def epoch_entries(
    items: Sequence, per_video: int, seed: int, epoch: int, soft: Mapping[Path, float] | None = None
) -> list[Entry]:
    """Up to ``per_video`` random crops of each sample, different every epoch, reproducible by seed; each
    with its soft target from ``soft`` (crop path -> P(live)) when given."""
    rng = np.random.default_rng([seed, epoch])

    def pick(paths: list) -> list:
        if len(paths) <= per_video:
            return paths
        return [paths[i] for i in sorted(rng.choice(len(paths), per_video, replace=False))]

    return _entries(items, pick, soft)


def eval_entries(items: Sequence, per_video: int) -> list[Entry]:
    """Up to ``per_video`` crops spread evenly over each video (all of an image's one crop)."""

    def pick(paths: list) -> list:
        if len(paths) <= per_video:
            return paths
        return [paths[int(i)] for i in np.linspace(0, len(paths) - 1, per_video).round()]

    return _entries(items, pick)


def limit_per_group(entries: Sequence[Entry], per_cell: int) -> list[Entry]:
    """At most ``per_cell`` entries of each (group, label), evenly spread over that cell's entries (which
    come in video order), so a big recording cannot dominate an early-stopping score; 0 keeps all."""
    if per_cell <= 0:
        return list(entries)
    cells: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        cells.setdefault((e.group, e.label), []).append(e)
    keep: set[int] = set()
    for cell in cells.values():
        picks = (
            cell if len(cell) <= per_cell else [cell[int(i)] for i in np.linspace(0, len(cell) - 1, per_cell).round()]
        )
        keep.update(id(e) for e in picks)
    return [e for e in entries if id(e) in keep]


def balanced_weights(entries: Sequence[Entry]) -> torch.Tensor:
    """Sampling weights so that bona fide and attacks weigh the same, and within each, every source
    (group) weighs the same: one huge source must not teach the model its camera instead of liveness."""
    cell = Counter((e.label == LIVE, e.group) for e in entries)
    groups_per_class = Counter(live for live, _ in cell)
    w = [1.0 / (cell[(e.label == LIVE, e.group)] * groups_per_class[e.label == LIVE]) for e in entries]
    return torch.tensor(w, dtype=torch.double)


def train_view(
    crop: np.ndarray, target: float, rng: np.random.Generator, crop_margin: float, extra: float, synth_attacks: float
) -> tuple[np.ndarray, float]:
    """The first steps of a training crop, shared by the per-crop and the batched path: the crop box with
    its scale and shift jitter, then (a live crop, with probability ``synth_attacks``) a simulated replay
    or print, whose target is then an attack's."""
    crop = crop_for_training(crop, crop_margin, extra, rng=rng)
    if synth_attacks and target == 1.0 and rng.random() < synth_attacks:  # off a screen or a print
        crop, target = simulate_attack(crop, rng)[0], 0.0
    return crop, target


def read_crop(path: Path, store: DecodedStore | None = None, row: int = -1) -> np.ndarray:
    """A cached crop (BGR uint8): from the decoded store when it has it (``row`` >= 0), else its PNG;
    OSError naming the file when neither can be read."""
    if store is not None and row >= 0:
        try:
            return store.crop(row)
        except OSError:
            pass  # the store's data file went away (rebuilt by another run): the PNG is still there
    try:
        return read_image(path)
    except OSError as exc:
        raise OSError(f"cached crop unreadable: {path} (delete the cache folder to rebuild)") from exc


class CropDataset(Dataset):
    """Reads cached crops (from the decoded ``store`` where it has them, else the PNGs); in training mode
    jitters scale/centre and colour, then the shared preprocessing."""

    def __init__(
        self,
        entries: Sequence[Entry],
        spec: PreprocessSpec,
        cache_margin_extra: float,
        train: bool,
        seed: int = 4,
        epoch: int = 0,
        augment_cfg: AugmentConfig = AugmentConfig(),
        synth_attacks: float = 0.0,
        store: DecodedStore | None = None,
    ) -> None:
        self.entries = list(entries)
        self.store = store
        self.rows = [store.row(e.crop_path) for e in self.entries] if store is not None else []
        self.spec = spec
        self.extra = cache_margin_extra
        self.train = train
        self.seed, self.epoch = seed, epoch
        self.augment_cfg = augment_cfg
        self.synth_attacks = synth_attacks  # training only: a live crop becomes a simulated attack

    def __len__(self) -> int:
        return len(self.entries)

    def read(self, index: int) -> np.ndarray:
        """The cached crop of entry ``index`` (BGR uint8); OSError naming the file when it is unreadable."""
        return read_crop(self.entries[index].crop_path, self.store, self.rows[index] if self.rows else -1)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, float, int]:
        crop, target = self.read(index), self.entries[index].target
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            crop, target = train_view(crop, target, rng, self.spec.crop_margin, self.extra, self.synth_attacks)
            crop = augment(crop, rng, self.augment_cfg)
        else:
            crop = crop_for_training(crop, self.spec.crop_margin, self.extra, rng=None)
        return torch.from_numpy(prepare_crop(crop, self.spec)), target, index
