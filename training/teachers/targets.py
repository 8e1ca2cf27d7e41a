"""Soft targets for training: the teachers' combined P(live) of every training crop.

Each teacher scores its own crop of every train and dev frame (cached, :mod:`.scores`); the combination
rule (:mod:`.combine`) is fitted on the **dev** crops only, then applied to the training crops. What the
model's metadata records (:func:`teacher_record`): each teacher's spec, file and SHA-256, the fitted rule
and each teacher's dev AUC, and how many training crops got a soft target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator, Sequence

import numpy as np

from training.teachers.combine import Combiner, fit_combiner
from training.teachers.runner import TeacherModel
from training.teachers.scores import TeacherScoreCache


@dataclass
class SoftTargets:
    """Crop path -> combined teacher P(live) for the training crops, and what made them."""

    by_crop: dict[Path, float]
    combiner: Combiner
    teachers: list[TeacherModel]
    dev_crops: int

    def record(self, train_crops: int) -> dict[str, Any]:
        return {
            "teachers": [
                {
                    "name": t.spec.name,
                    "file": t.spec.file,
                    "sha256": t.sha256,
                    "title": t.spec.title,
                    "source": t.spec.source,
                    "licence": t.spec.licence,
                }
                for t in self.teachers
            ],
            "combination": self.combiner.to_dict(),
            "dev_crops": self.dev_crops,
            "train_crops_with_target": len(self.by_crop),
            "train_crops": train_crops,
        }


def soft_targets(
    teachers: Sequence[TeacherModel],
    rule: str,
    train: Sequence,
    dev: Sequence,
    cache_dir: Path,
    detector: Path,
    frames_per_video: int,
    workers: int = 1,
) -> Generator[tuple[int, int], None, SoftTargets]:
    """Generator of (done, total) while the teachers score ``train`` and ``dev`` items (CachedItems); fits
    ``rule`` on dev, applies it to train, returns the result. ValueError when no dev crop has scores."""
    cache = TeacherScoreCache(cache_dir, detector, frames_per_video, teachers)
    scores = yield from cache.steps(list(train) + list(dev), workers=workers)
    dev_rows = [(scores[Path(p)], item.sample.is_live) for item in dev for p in item.crop_paths if Path(p) in scores]
    if not dev_rows:
        raise ValueError("no dev crop has teacher scores: cannot fit the teachers' combination")
    combiner = fit_combiner(rule, cache.names, np.stack([r for r, _ in dev_rows]), [live for _, live in dev_rows])
    train_paths = [Path(p) for item in train for p in item.crop_paths if Path(p) in scores]
    combined = combiner(np.stack([scores[p] for p in train_paths])) if train_paths else np.zeros(0)
    return SoftTargets(dict(zip(train_paths, map(float, combined))), combiner, list(teachers), len(dev_rows))
