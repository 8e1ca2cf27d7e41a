"""Per-face tracking and verdict smoothing, so that one bad frame does not flip a verdict."""

from __future__ import annotations

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
    """``window`` recent scores are averaged; a verdict needs ``min_frames`` scores and a mean at least
    ``margin`` away from the threshold, otherwise it is UNCERTAIN."""

    window: int = 8
    min_frames: int = 3
    margin: float = 0.05
    match_iou: float = 0.3
    max_missed: int = 10


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
        if len(self._scores) < self._config.min_frames:
            return Verdict.UNCERTAIN
        if mean >= threshold + self._config.margin:
            return Verdict.LIVE
        if mean < threshold - self._config.margin:
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
