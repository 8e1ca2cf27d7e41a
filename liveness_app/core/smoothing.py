"""Per-face tracking and verdict smoothing, so that one bad frame does not flip a verdict."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from .face import FaceBox


class Verdict(str, Enum):
    LIVE = "LIVE"
    SPOOF = "SPOOF"
    UNCERTAIN = "UNCERTAIN"


@dataclass(frozen=True)
class SmoothingConfig:
    """``window`` recent scores are averaged; the verdict is LIVE or SPOOF when the mean is at least ``margin``
    away from the threshold, UNCERTAIN otherwise. A track with fewer than ``min_frames`` scores (a face just
    found) has little evidence yet: it gets a verdict only when its mean is also far from the threshold, at
    least ``early_logit_margin`` apart in log-odds (1.5: at threshold 0.5, below 0.18 or above 0.82; at 0.2,
    below 0.053 or above 0.53), so that a new face scoring 0.02 against 0.2 says SPOOF at once."""

    window: int = 8
    min_frames: int = 3
    margin: float = 0.05
    early_logit_margin: float = 1.5
    match_iou: float = 0.3
    max_missed: int = 10


def logit(p: float) -> float:
    """Log-odds of a probability, kept finite at 0 and 1."""
    p = min(max(float(p), 1e-6), 1.0 - 1e-6)
    return math.log(p / (1.0 - p))


class ScoreSmoother:
    """Moving average of one face's scores and the verdict it supports."""

    def __init__(self, config: SmoothingConfig) -> None:
        self._config = config
        self._scores: deque[float] = deque(maxlen=config.window)

    def update(self, score: float, threshold: float) -> tuple[float, Verdict]:
        self._scores.append(float(score))
        mean = sum(self._scores) / len(self._scores)
        return mean, self.verdict(mean, threshold)

    def verdict(self, mean: float, threshold: float) -> Verdict:
        """LIVE or SPOOF when ``mean`` is clear of ``threshold`` (see :class:`SmoothingConfig`), else UNCERTAIN."""
        config = self._config
        if len(self._scores) < config.min_frames and abs(logit(mean) - logit(threshold)) < config.early_logit_margin:
            return Verdict.UNCERTAIN  # few frames and near the threshold: not enough evidence yet
        if mean >= threshold + config.margin:
            return Verdict.LIVE
        if mean < threshold - config.margin:
            return Verdict.SPOOF
        return Verdict.UNCERTAIN


@dataclass
class _Track:
    track_id: int
    box: FaceBox
    smoother: ScoreSmoother
    missed: int = 0


@dataclass
class FaceTracker:
    """Greedy IoU matching of this frame's faces to the last known ones; each track keeps its smoother."""

    config: SmoothingConfig = field(default_factory=SmoothingConfig)
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 1

    def assign(self, boxes: list[FaceBox]) -> list[int]:
        """Track id for each box (new ids for new faces); tracks unseen too long are forgotten."""
        free = list(self._tracks)
        ids: list[int] = []
        for box in boxes:
            best = max(free, key=lambda t: t.box.iou(box), default=None)
            if best is not None and best.box.iou(box) >= self.config.match_iou:
                free.remove(best)
                best.box, best.missed = box, 0
                ids.append(best.track_id)
            else:
                track = _Track(self._next_id, box, ScoreSmoother(self.config))
                self._next_id += 1
                self._tracks.append(track)
                ids.append(track.track_id)
        for track in free:
            track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.config.max_missed]
        return ids

    def update(self, track_id: int, score: float, threshold: float) -> tuple[float, Verdict]:
        track = next(t for t in self._tracks if t.track_id == track_id)
        return track.smoother.update(score, threshold)

    def reset(self) -> None:
        """Forget all faces (a new source or a new model: old scores no longer apply)."""
        self._tracks.clear()
