"""Face crops made once and kept on disk, so later epochs and runs never decode or detect again.

Each sample becomes one crop (image) or up to ``frames_per_video`` crops (video), cut by the app's own
face detector and ``core.preprocess.crop_face`` with a margin ``cache_margin_extra`` wider than the model's
and shrunk to at most ``cache_size`` by ``resize_square``, so that training can jitter the crop scale:
:func:`crop_for_training` cuts the model's crop back out with the same ``crop_face``, before the app's
``prepare_crop``.

Layout: ``cache_dir/<settings hash>/index.json`` and ``.../<k[:2]>/<k>_<i>.png``, where the settings hash
covers the detector file and every setting that changes a crop (so changed settings never reuse stale
crops) and ``k`` covers the sample's resolved path (its bytes: a file name need not be UTF-8), size,
mtime and pre-cropped flag. Images and videos whose frames would be larger than
``files.MAX_IMAGE_PIXELS`` are refused from their headers, before anything is decoded.

Under torchrun each rank makes its share of the crops (:meth:`CropCache.make_share`), the ranks exchange
the index entries (:meth:`CropCache.remember`) and rank 0 alone writes the index.
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from liveness_app.core.face import MIN_FACE_PX, DetectorError, FaceBox
from liveness_app.core.files import atomic_write_text, display_path, file_sha256
from liveness_app.core.preprocess import crop_face, face_box_in_crop, resize_square
from training.data.cache_pool import MIN_SAMPLES, DetectPool
from training.data.faces import Detectors, sample_faces
from training.data.samples import Sample

CACHE_FORMAT = 2  # bump when the crop recipe changes: it is part of the settings hash
INDEX_NAME = "index.json"
_INDEX_EVERY = 256  # samples between index saves, so an interrupted build keeps most of its work


@dataclass(frozen=True)
class CachedItem:
    """A sample and its cached crops (PNG, BGR, square, side <= cache_size)."""

    sample: Sample
    crop_paths: list[Path]


class CachedSet(list[CachedItem]):
    """The samples that gave crops, in input order; ``skipped`` lists (path, reason) for the others."""

    def __init__(
        self,
        items: Iterable[CachedItem],
        skipped: list[tuple[str, str]],
        frames_without_face: int = 0,
        face_frames: Counter | None = None,
    ) -> None:
        super().__init__(items)
        self.skipped = skipped
        self.frames_without_face = frames_without_face
        # per label: frames looked at ("frames") and those in which no face was found ("no_face")
        self.face_frames: Counter = face_frames if face_frames is not None else Counter()


@dataclass
class _Entry:  # what the index keeps for one sample; crop names are relative to the settings folder
    crops: list[str] = field(default_factory=list)
    reason: str = ""
    no_face: int = 0


def _save_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])  # lossless; 1 = fast
    if not ok:
        raise OSError(f"cannot encode {path}")
    buf.tofile(str(path))  # other ranks read it only after the exchange that follows its writing


class CropCache:
    """Makes and remembers face crops of samples under ``cache_dir`` (see the module docstring)."""

    def __init__(
        self,
        cache_dir: Path,
        detector_path: Path,
        crop_margin: float,
        cache_margin_extra: float = 0.25,
        cache_size: int = 256,
        frames_per_video: int = 16,
    ) -> None:
        self.detector_path = Path(detector_path)
        self.crop_margin = float(crop_margin)
        self.cache_margin_extra = float(cache_margin_extra)
        self.cache_size = int(cache_size)
        self.frames_per_video = int(frames_per_video)
        try:
            detector_hash = file_sha256(self.detector_path)
        except OSError as exc:
            raise DetectorError(f"Face detector model not readable: {self.detector_path}") from exc
        settings = {
            "format": CACHE_FORMAT,
            "detector": detector_hash,
            "min_face_px": MIN_FACE_PX,
            "crop_margin": self.crop_margin,
            "cache_margin_extra": self.cache_margin_extra,
            "cache_size": self.cache_size,
            "frames_per_video": self.frames_per_video,
        }
        self.folder = Path(cache_dir) / settings_digest(settings)
        self._settings = settings
        self._index: dict[str, _Entry] | None = None  # kept between builds: callers build in chunks
        self._pool: DetectPool | None = None  # worker processes, made by the first big parallel build

    def build(
        self,
        samples: Sequence[Sample],
        progress: Callable[[int, int], None] | None = None,
        workers: int = 1,
        save_index: bool = True,
    ) -> CachedSet:
        """Crops for every sample, from the index where possible; unreadable files and files without a
        face are skipped and listed, never raised. ``progress(done, total)`` follows each sample.
        ``workers`` > 1: that many worker processes detect faces (:mod:`.cache_pool`, kept for later
        builds of this cache) when there are at least ``MIN_SAMPLES`` samples to make, else threads.
        ``save_index`` False: the index file is left to another process (rank 0 of a torchrun build)."""
        index = self._load_index()
        entries, todo = self._lookup(samples, index)
        done = len(samples) - len(todo)
        if progress is not None:
            progress(done, len(samples))
        with Detectors(self.detector_path) as detectors:
            pool = ThreadPoolExecutor(max(1, workers))
            try:
                if workers > 1 and len(todo) >= MIN_SAMPLES:
                    jobs = self._processes(workers).map(self, [(samples[i], key) for i, key in todo])
                else:
                    jobs = pool.map(lambda job: self._make(samples[job[0]], job[1], detectors), todo)
                for n, ((i, key), entry) in enumerate(zip(todo, jobs), start=1):
                    entries[i] = index[key] = entry
                    if save_index and n % _INDEX_EVERY == 0:
                        self._save_index(index)
                    if progress is not None:
                        progress(done + n, len(samples))
            finally:
                # On an error or Ctrl+C, drop the queued samples instead of finishing them first.
                pool.shutdown(wait=True, cancel_futures=True)
        if todo and save_index:
            self._save_index(index)
        return self._collect(samples, entries)

    def _processes(self, workers: int) -> DetectPool:
        if self._pool is None or self._pool.processes != workers:
            if self._pool is not None:
                self._pool.close()
            self._pool = DetectPool(self.detector_path, workers)
            weakref.finalize(self, self._pool.close)
        return self._pool

    def __getstate__(self) -> dict:  # what a worker process needs: settings and folder, not the index
        return {**self.__dict__, "_index": None, "_pool": None}

    def make_share(self, samples: Sequence[Sample], rank: int, world_size: int) -> dict[str, dict]:
        """One rank's part of a parallel build: the crops of every ``world_size``-th sample not yet in the
        index (from ``rank`` on), as index entries in plain dicts to send to the other ranks. Every rank
        sees the same index, so the parts are disjoint and together are what :meth:`build` would make."""
        _, todo = self._lookup(samples, self._load_index())
        with Detectors(self.detector_path) as detectors:
            return {key: asdict(self._make(samples[i], key, detectors)) for i, key in todo[rank::world_size]}

    def remember(self, entries: dict[str, dict], save_index: bool = True) -> None:
        """Add entries made by :meth:`make_share` (on this rank or another) to the index."""
        index = self._load_index()
        index.update({key: _Entry(**entry) for key, entry in entries.items()})
        if entries and save_index:
            self._save_index(index)

    def _lookup(
        self, samples: Sequence[Sample], index: dict[str, _Entry]
    ) -> tuple[list[_Entry | None], list[tuple[int, str]]]:
        """Entries known from the index (stat calls only), and (position, key) of samples to make."""
        entries: list[_Entry | None] = [None] * len(samples)
        todo: list[tuple[int, str]] = []
        for i, sample in enumerate(samples):
            key = sample_key(sample)
            known = index.get(key) if key else None
            if key is None:
                entries[i] = _Entry(reason="file not found")
            elif known is not None and all((self.folder / c).is_file() for c in known.crops):
                entries[i] = known
            else:
                todo.append((i, key))
        return entries, todo

    def _make(self, sample: Sample, key: str, detectors: Detectors) -> _Entry:
        found = sample_faces(sample, detectors, self.frames_per_video)
        entry = _Entry(reason=found.reason, no_face=found.no_face)
        for frame, box in found.faces:
            crop = crop_face(frame, box, self.crop_margin + self.cache_margin_extra)
            if max(crop.shape[:2]) > self.cache_size:
                crop = resize_square(crop, self.cache_size)
            name = f"{key[:2]}/{key}_{len(entry.crops):02d}.png"
            _save_png(self.folder / name, crop)
            entry.crops.append(name)
        return entry

    def _collect(self, samples: Sequence[Sample], entries: list[_Entry | None]) -> CachedSet:
        items, skipped, no_face = [], [], 0
        counts: Counter[tuple[str, str]] = Counter()
        for sample, entry in zip(samples, entries):
            assert entry is not None
            no_face += entry.no_face
            counts[(sample.label, "frames")] += len(entry.crops) + entry.no_face
            counts[(sample.label, "no_face")] += entry.no_face
            if entry.crops:
                items.append(CachedItem(sample, [self.folder / c for c in entry.crops]))
            else:
                skipped.append((display_path(sample.path), entry.reason))  # written to csv and logs
        return CachedSet(items, skipped, no_face, counts)

    def _load_index(self) -> dict[str, _Entry]:
        if self._index is None:
            try:
                data = json.loads((self.folder / INDEX_NAME).read_text(encoding="utf-8"))
                self._index = {k: _Entry(**v) for k, v in data["entries"].items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError, MemoryError):
                self._index = {}  # no index yet, or an unreadable one: rebuild rather than fail
        return self._index

    def _save_index(self, index: dict[str, _Entry]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {
            "settings": self._settings,
            "entries": {k: {"crops": e.crops, "reason": e.reason, "no_face": e.no_face} for k, e in index.items()},
        }
        atomic_write_text(self.folder / INDEX_NAME, json.dumps(data))  # a crash never leaves half an index


def settings_digest(settings: dict) -> str:
    """A short name for a set of settings (crops, teacher scores, face boxes): changed settings, new name."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def sample_key(sample: Sample) -> str | None:
    try:
        path = sample.path.resolve()
        st = path.stat()
    except OSError:
        return None
    # The path's own bytes: a name that is not UTF-8 has no UTF-8 form (for UTF-8 names, the same bytes).
    raw = os.fsencode(path) + f"|{st.st_size}|{st.st_mtime_ns}|{sample.precropped}".encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def crop_for_training(
    cached_crop_bgr: np.ndarray,
    crop_margin: float,
    cache_margin_extra: float,
    rng: np.random.Generator | None = None,
    scale_jitter: tuple[float, float] = (-0.1, 0.2),
    max_shift: float = 0.05,
) -> np.ndarray:
    """The model's square crop out of a cached crop, cut by the app's own ``crop_face`` around the face
    box the cache cut it around: at ``crop_margin`` when ``rng`` is None (eval); in training, at margin +
    uniform(``scale_jitter``) with the centre shifted by up to ``max_shift`` face sides, both kept inside
    the cached crop. A view of the cached crop (padded only where rounding reaches past its edge)."""
    wide = crop_margin + cache_margin_extra
    face = face_box_in_crop(cached_crop_bgr.shape, wide)
    margin, dx, dy = crop_margin, 0.0, 0.0
    if rng is not None:
        margin = float(np.clip(crop_margin + rng.uniform(*scale_jitter), 0.0, wide))
        limit = min((max(cached_crop_bgr.shape[:2]) - face.w * (1.0 + 2.0 * margin)) / 2, max_shift * face.w)
        dx, dy = rng.uniform(-limit, limit, size=2) if limit > 0 else (0.0, 0.0)
    return crop_face(cached_crop_bgr, FaceBox(face.x + dx, face.y + dy, face.w, face.h), margin)
