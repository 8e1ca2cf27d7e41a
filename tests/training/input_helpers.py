"""A small crop cache of real faces (the bundled sample video, a live and a print copy) and its decoded
store, shared by the input-pipeline tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from liveness_app.core.preprocess import PreprocessSpec
from training.data.cache import CachedItem, CropCache
from training.data.samples import Sample
from training.fit.prepare import CACHE_MARGIN_EXTRA

SPEC = PreprocessSpec(128, 0.25, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # the shipped models'
EXTRA = CACHE_MARGIN_EXTRA


def face_cache(folder: Path, video: Path, detector: Path, frames: int = 8) -> tuple[CropCache, list[CachedItem]]:
    """``frames`` face crops of each of two copies of ``video`` (live, print), cached under ``folder``."""
    data = folder / "data"
    data.mkdir(parents=True)
    samples = []
    for label in ("live", "print"):
        shutil.copy(video, data / f"{label}.mp4")
        samples.append(Sample(data / f"{label}.mp4", label, f"g-{label}", "video"))
    cache = CropCache(folder / "cache", detector, SPEC.crop_margin, cache_margin_extra=EXTRA, frames_per_video=frames)
    items = list(cache.build(samples))
    assert [len(item.crop_paths) for item in items] == [frames, frames]
    return cache, items


def crop_paths(items: list[CachedItem]) -> list[Path]:
    return [p for item in items for p in item.crop_paths]
