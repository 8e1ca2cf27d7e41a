"""Teachers' scores of every cached crop, computed once and kept on disk.

For each sample, :func:`training.data.faces.sample_faces` gives the same frames and face boxes the crop
cache cut its crops from; each teacher scores its own crop of each (:mod:`training.teachers.crops`), so
the i-th score of a sample belongs to its i-th cached crop. A sample whose count of scores differs from
its count of crops (a file changed in between) gets no teacher scores rather than misplaced ones.

Layout: ``cache_dir/teachers/<spec name>-<hash>.json`` = ``{"settings": ..., "scores": {sample key:
[P(live), ...]}}``, where the hash covers the model file's SHA-256, the spec, the face detector and the
frame settings, as the crop cache's settings hash does.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Generator, Sequence

import numpy as np

from liveness_app.core.face import MIN_FACE_PX
from liveness_app.core.files import atomic_write_text, file_sha256
from training.data.cache import CachedItem, sample_key, settings_digest
from training.data.faces import Detectors, sample_faces
from training.teachers.runner import TeacherModel

FORMAT = 1
_SAVE_EVERY = 512


class TeacherScoreCache:
    """Per-sample teacher scores for a set of teachers (see the module docstring)."""

    def __init__(
        self, cache_dir: Path, detector_path: Path, frames_per_video: int, teachers: Sequence[TeacherModel]
    ) -> None:
        self.detector_path = Path(detector_path)
        self.frames_per_video = int(frames_per_video)
        self.teachers = list(teachers)
        detector = file_sha256(self.detector_path)
        self.files, self.tables = [], []
        for t in self.teachers:
            settings = {
                "format": FORMAT,
                "model": t.sha256,
                "spec": t.spec.to_dict(),
                "detector": detector,
                "min_face_px": MIN_FACE_PX,
                "frames_per_video": self.frames_per_video,
            }
            path = Path(cache_dir) / "teachers" / f"{t.spec.name}-{settings_digest(settings)}.json"
            self.files.append((path, settings))
            self.tables.append(_load(path))

    @property
    def names(self) -> list[str]:
        return [t.spec.name for t in self.teachers]

    def build(
        self, items: Sequence[CachedItem], workers: int = 1, progress: Callable[[int, int], None] | None = None
    ) -> dict[Path, np.ndarray]:
        """Crop path -> P(live) of each teacher (in ``names`` order), scoring what no table holds yet;
        ``progress(done, total)`` after each sample scored."""
        steps = self.steps(items, workers)
        while True:
            try:
                done, total = next(steps)
            except StopIteration as stop:
                return stop.value
            if progress is not None:
                progress(done, total)

    def steps(self, items: Sequence[CachedItem], workers: int = 1) -> Generator[tuple[int, int], None, dict]:
        """:meth:`build` as a generator of (done, total) that returns its result."""
        keys = [sample_key(item.sample) for item in items]
        todo = [i for i, k in enumerate(keys) if k and any(k not in table for table in self.tables)]
        with Detectors(self.detector_path) as detectors, ThreadPoolExecutor(max(1, workers)) as pool:
            try:
                jobs = pool.map(lambda i: self._score(items[i], detectors), todo)
                for n, (i, scores) in enumerate(zip(todo, jobs), start=1):
                    key = keys[i]
                    assert key is not None  # todo holds only items with a key
                    for table, column in zip(self.tables, scores):
                        table[key] = column
                    if n % _SAVE_EVERY == 0:
                        self._save()
                    yield n, len(todo)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        if todo:
            self._save()
        return self._by_crop(items, keys)

    def _score(self, item: CachedItem, detectors: Detectors) -> list[list[float]]:
        faces = sample_faces(item.sample, detectors, self.frames_per_video).faces
        return [[round(float(p), 6) for p in t.score_faces(faces)] for t in self.teachers]

    def _by_crop(self, items: Sequence[CachedItem], keys: Sequence[str | None]) -> dict[Path, np.ndarray]:
        out: dict[Path, np.ndarray] = {}
        for item, key in zip(items, keys):
            columns = [table.get(key) for table in self.tables] if key else [None]
            if any(c is None or len(c) != len(item.crop_paths) for c in columns):
                continue  # the file changed since its crops were cut: no scores rather than misplaced ones
            matrix = np.asarray(columns, dtype=np.float64).T  # (crops, teachers)
            out.update({Path(p): row for p, row in zip(item.crop_paths, matrix)})
        return out

    def _save(self) -> None:
        for (path, settings), table in zip(self.files, self.tables):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps({"settings": settings, "scores": table}))


def _load(path: Path) -> dict[str, list[float]]:
    """A table from disk (untrusted): only lists of numbers in 0..1 are kept; anything else is rebuilt."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["scores"]
        return {
            str(k): [float(p) for p in v]
            for k, v in data.items()
            if isinstance(v, list) and all(isinstance(p, (int, float)) and 0 <= p <= 1 for p in v)
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError, MemoryError):
        return {}
