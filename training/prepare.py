"""From dataset specs to cached, split face crops (the part of a run before the first epoch)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from liveness_app import paths

from .cache import CropCache
from .config import TrainConfig
from .dataset import Sample, split_by_group, summarize
from .events import TrainEvent
from .importers import load_any

CACHE_MARGIN_EXTRA = 0.25  # the cache keeps a wider square than the model's crop, for scale jitter
CHUNK = 64  # samples cached between two progress events


@dataclass
class PreparedData:
    """Cached items (``.sample``, ``.crop_paths``) per split, and what was skipped and why."""

    train: list
    dev: list
    test: list
    summary: dict[str, Any]
    cache_margin_extra: float = CACHE_MARGIN_EXTRA
    skipped: list[tuple[str, str]] = field(default_factory=list)


def load_samples(specs: Sequence[str]) -> list[Sample]:
    samples: list[Sample] = []
    for spec in specs:
        samples.extend(load_any(spec))
    if not samples:
        raise ValueError("no training data: give --data with a folder, a manifest.csv or NAME:PATH")
    return samples


def make_cache(cfg: TrainConfig) -> CropCache:
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else paths.user_data_dir() / "cache"
    detector = Path(cfg.detector) if cfg.detector else paths.default_detector_path()
    return CropCache(cache_dir, detector, crop_margin=cfg.crop_margin, cache_margin_extra=CACHE_MARGIN_EXTRA,
                     frames_per_video=cfg.frames_per_video)


def cache_samples(cache: CropCache, samples: Sequence[Sample],
                  event: Callable[[int, int], Any] = lambda done, total: (done, total)) -> Iterator[Any]:
    """Generator: yields ``event(done, total)`` while caching; returns (items, skipped)."""
    items: list = []
    skipped: list[tuple[str, str]] = []
    for start in range(0, len(samples), CHUNK):
        built = cache.build(list(samples[start:start + CHUNK]))
        items.extend(item for item in built if item.crop_paths)
        skipped.extend(built.skipped)
        yield event(min(start + CHUNK, len(samples)), len(samples))
    return items, skipped


def prepare_data(cfg: TrainConfig) -> Iterator[Any]:
    """Generator of "cache" TrainEvents; returns :class:`PreparedData`. Splits by group, never by frame."""
    samples = load_samples(cfg.data)
    train, dev, test = split_by_group(samples, dev_fraction=cfg.dev_fraction, seed=cfg.seed,
                                      dev_groups=list(cfg.dev_groups) or None,
                                      test_groups=list(cfg.test_groups) or None)
    if not dev:
        raise ValueError("the dev split is empty: need at least two groups (subjects/sources)")
    items, skipped = yield from cache_samples(make_cache(cfg), train + dev + test, lambda done, total: TrainEvent(
        "cache", step=done, steps=total, message=f"caching face crops {done}/{total}"))
    by_path = {item.sample.path: item for item in items}
    pick = lambda split: [by_path[s.path] for s in split if s.path in by_path]  # noqa: E731
    summary = {"train": summarize(train), "dev": summarize(dev), "test": summarize(test),
               "dev_groups": sorted({s.group for s in dev}), "test_groups": sorted({s.group for s in test}),
               "sources": list(cfg.data), "skipped": len(skipped)}
    return PreparedData(pick(train), pick(dev), pick(test), summary, CACHE_MARGIN_EXTRA, skipped)
