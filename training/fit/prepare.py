"""From dataset specs to cached, split face crops (the part of a run before the first epoch).

Files that give no training crop (broken links, unreadable images or videos, no face found) are skipped,
never fatal: they are listed in ``<out_dir>/skipped.csv`` (path, reason), named in a "warning" event, and
left out of the data summary that the model's metadata carries, which counts only the samples used.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generator, Sequence, TypeVar

from liveness_app import paths
from liveness_app.core.files import atomic_write
from training.config import TrainConfig
from training.data.cache import CachedSet, CropCache
from training.data.importers import load_any
from training.data.locked import without_locked
from training.data.samples import Sample, summarize
from training.data.splits import ONE_PERSON_NOTE, split_by_group, split_by_session
from training.data.store import DecodedStore, ensure_store, store_steps
from training.fit.distributed import SINGLE, Dist
from training.fit.events import TrainEvent

if TYPE_CHECKING:
    from training.teachers.targets import SoftTargets

CACHE_MARGIN_EXTRA = 0.25  # the cache keeps a wider square than the model's crop, for scale jitter
T = TypeVar("T")
CHUNK = 64  # at most this many samples cached between two progress events ...
PROGRESS_EVENTS = 20  # ... and fewer for small sets, so that a few long videos still show progress
SKIPPED_NAME = "skipped.csv"  # in the run folder
SHOWN_SKIPPED = 3  # skipped files named in the warning; the csv has them all
SUMMARY_SKIPPED = 20  # skipped files listed in the model's metadata; the count covers all


@dataclass
class PreparedData:
    """Cached items (``.sample``, ``.crop_paths``) per split, and what was skipped and why."""

    train: list
    dev: list
    test: list
    summary: dict[str, Any]
    cache_margin_extra: float = CACHE_MARGIN_EXTRA
    skipped: list[tuple[str, str]] = field(default_factory=list)
    soft: dict[Path, float] = field(default_factory=dict)  # crop path -> the teachers' combined P(live)
    targets: SoftTargets | None = None  # the teachers and their fitted combination, when any
    sources: dict = field(default_factory=dict)  # function matching: crop path -> (sample, frame index, box)
    store: DecodedStore | None = None  # the crops decoded once (training.data.store); None: read the PNGs


def load_samples(specs: Sequence[str]) -> tuple[list[Sample], list[tuple[str, str]]]:
    """Samples of every dataset spec, and (path, reason) of the entries the readers skipped (broken links)."""
    samples: list[Sample] = []
    skipped: list[tuple[str, str]] = []
    for spec in specs:
        found = load_any(spec)
        samples.extend(found)
        skipped.extend(getattr(found, "skipped", []))
    if not samples:
        raise ValueError("no data: give --data with a folder, a manifest.csv or NAME:PATH")
    return samples, skipped


def cache_root(cfg: TrainConfig) -> Path:
    return Path(cfg.cache_dir) if cfg.cache_dir else paths.user_data_dir() / "cache"


def detector_path(cfg: TrainConfig) -> Path:
    return Path(cfg.detector) if cfg.detector else paths.default_detector_path()


def make_cache(cfg: TrainConfig) -> CropCache:
    return CropCache(
        cache_root(cfg),
        detector_path(cfg),
        crop_margin=cfg.crop_margin,
        cache_margin_extra=CACHE_MARGIN_EXTRA,
        frames_per_video=cfg.frames_per_video,
    )


def cache_samples(
    cache: CropCache,
    samples: Sequence[Sample],
    event: Callable[[int, int], Any] = lambda done, total: (done, total),
    dist: Dist = SINGLE,
    workers: int = 1,
) -> Generator[Any, None, tuple[CachedSet, list[tuple[str, str]]]]:
    """Generator: yields ``event(done, total)`` while caching; returns (items, skipped). ``items`` is a
    :class:`~.cache.CachedSet`: its ``face_frames`` counts, per label, the frames looked at and those
    with no face. Under torchrun the ranks detect faces in their own part of each chunk and exchange the
    index entries; rank 0 alone writes the index, and every rank returns the same items. ``workers`` > 1:
    faces are found in that many processes (:mod:`training.data.cache_pool`)."""
    items: list = []
    skipped: list[tuple[str, str]] = []
    counts: Counter = Counter()
    per_rank = max(1, min(CHUNK * max(1, workers), math.ceil(len(samples) / PROGRESS_EVENTS)))
    chunk = per_rank * dist.world_size  # per_rank samples per rank between two exchanges
    yield event(0, len(samples))  # caching has begun: a bar at 0 of N, not one that jumps to the end
    for start in range(0, len(samples), chunk):
        part = list(samples[start : start + chunk])
        if dist.active:
            for made in dist.all_gather_object(cache.make_share(part, dist.rank, dist.world_size)):
                cache.remember(made, save_index=dist.is_main)
        # Served from the index now (stat calls only); a crop another rank wrote where this rank cannot
        # see it (another machine's disk) is made again here, so the run goes on either way.
        built = cache.build(part, save_index=dist.is_main, workers=1 if dist.active else workers)
        items.extend(item for item in built if item.crop_paths)
        skipped.extend(built.skipped)
        counts.update(built.face_frames)
        yield event(min(start + chunk, len(samples)), len(samples))
    dist.barrier()  # every crop written (also those remade by a rank that could not see them) before any is read
    no_face = sum(n for (_, kind), n in counts.items() if kind == "no_face")
    return CachedSet(items, skipped, no_face, counts), skipped


def write_skipped(path: Path, skipped: Sequence[tuple[str, str]]) -> None:
    """``path,reason`` rows for every skipped file; no file (and a stale one removed) when none were."""
    path = Path(path)
    if not skipped:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "reason"])
        writer.writerows(skipped)


def skipped_message(skipped: Sequence[tuple[str, str]], total: int, listed_in: Path) -> str:
    """One line naming the first few skipped files and where the full list is."""
    shown = "; ".join(f"{path} ({reason})" for path, reason in skipped[:SHOWN_SKIPPED])
    more = f"; and {len(skipped) - SHOWN_SKIPPED} more" if len(skipped) > SHOWN_SKIPPED else ""
    return f"skipped {len(skipped)} of {total} file(s) that gave no face crop: {shown}{more}; full list in {listed_in}"


def summarize_used(
    train: list, dev: list, test: list, skipped: Sequence[tuple[str, str]], sources: Sequence[str]
) -> dict[str, Any]:
    """The data summary of the model's metadata: counts of the cached items actually trained and
    evaluated on, and the skipped files apart (their count, and the first few with their reasons)."""
    samples = {
        name: [item.sample for item in split] for name, split in (("train", train), ("dev", dev), ("test", test))
    }
    return {
        **{name: summarize(split) for name, split in samples.items()},
        "dev_groups": sorted({s.group for s in samples["dev"]}),
        "test_groups": sorted({s.group for s in samples["test"]}),
        "sources": list(sources),
        "skipped": len(skipped),
        "skipped_files": [{"path": p, "reason": r} for p, r in skipped[:SUMMARY_SKIPPED]],
    }


def prepare_data(cfg: TrainConfig, dist: Dist = SINGLE) -> Generator[TrainEvent, None, PreparedData]:
    """Generator of "cache" (and, for skipped files, "warning") TrainEvents; returns
    :class:`PreparedData`. Splits by group, never by frame. Raises ValueError when no usable train or
    dev data is left. Under torchrun (``dist``) the ranks build the cache together, and rank 0 alone
    writes ``skipped.csv``."""
    samples, scan_skipped = load_samples(cfg.data)
    locked_out = 0
    if cfg.holdout_locked:
        samples, locked_out = without_locked(samples)
        if locked_out:
            yield TrainEvent(
                "warning",
                message=f"{locked_out} sample(s) of the locked test split's groups left "
                "out (they judge shipped models; holdout_locked false keeps them)",
            )
        if not samples:
            raise ValueError("every sample belongs to the locked test split's groups")
    split_note = "by group: no subject or source is in two splits"
    test: list[Sample]
    if len({s.group for s in samples}) < 2 and not (cfg.dev_groups or cfg.test_groups):
        (train, dev), test = split_by_session(samples, cfg.dev_fraction), []
        split_note = ONE_PERSON_NOTE
        yield TrainEvent("warning", message=f"dev split: {ONE_PERSON_NOTE}")
    else:
        train, dev, test = split_by_group(
            samples,
            dev_fraction=cfg.dev_fraction,
            seed=cfg.seed,
            dev_groups=list(cfg.dev_groups) or None,
            test_groups=list(cfg.test_groups) or None,
        )
    if not dev:
        raise ValueError("the dev split is empty: the held-out groups need live and attack samples")
    cache = make_cache(cfg)
    items, not_cached = yield from cache_samples(
        cache,
        train + dev + test,
        lambda done, total: TrainEvent("cache", step=done, steps=total, message=f"caching face crops {done}/{total}"),
        dist,
        workers=max(1, cfg.workers),
    )
    skipped = scan_skipped + not_cached
    listed_in = Path(cfg.out_dir) / SKIPPED_NAME
    if dist.is_main:
        write_skipped(listed_in, skipped)
    if skipped:
        yield TrainEvent("warning", message=skipped_message(skipped, len(scan_skipped) + len(samples), listed_in))
    by_path = {item.sample.path: item for item in items}

    def cached(split: list[Sample]) -> list:
        return [by_path[s.path] for s in split if s.path in by_path]

    used = (cached(train), cached(dev), cached(test))
    for name, split, kept in zip(("train", "dev"), (train, dev), used):
        if not kept:
            raise ValueError(f"no usable {name} data: all {len(split)} {name} file(s) were skipped (see {listed_in})")
    summary = {
        **summarize_used(*used, skipped=skipped, sources=cfg.data),
        "split": split_note,
        "locked_split_left_out": locked_out,
    }
    soft: dict[Path, float] = {}
    targets, sources = None, {}
    if cfg.teachers:
        targets = yield from teacher_targets(cfg, used[0], used[1])
        soft = targets.by_crop
        summary["teachers"] = targets.record(sum(len(item.crop_paths) for item in used[0]))
        summary["teachers"]["views"] = cfg.teacher_views
        if cfg.teacher_views == "matched":  # function matching: the frame and face box of each training crop
            from training.teachers.matching import FaceSources

            found = FaceSources(cache_root(cfg), detector_path(cfg), cfg.frames_per_video)
            yield from _chunked(found.steps(used[0], workers=max(1, cfg.workers)), "face boxes")
            sources = found.by_crop
            summary["teachers"].update(train_crops_matched=len(sources), mixup=cfg.mixup)
    store = yield from decoded_store(cache.folder, used[0] + used[1], max(1, cfg.workers), dist)
    return PreparedData(*used, summary, CACHE_MARGIN_EXTRA, skipped, soft, targets, sources, store)


def decoded_store(
    folder: Path, items: list, threads: int, dist: Dist = SINGLE
) -> Generator[TrainEvent, None, DecodedStore | None]:
    """Generator of "cache" events (phase "decode"; "warning" when it falls back) while rank 0 decodes the
    crops of ``items`` into the cache folder's store; returns the store, or None: training reads the PNGs."""
    paths = [p for item in items for p in item.crop_paths]
    store, note = None, ""
    if dist.is_main:
        store, note = yield from store_steps(folder, paths, threads, event=_decoding)
    dist.barrier()  # the store is written before any other rank opens it
    if not dist.is_main:
        store, note = ensure_store(folder, paths, write=False)
    if note:
        yield TrainEvent("warning", message=note)
    return store


def _decoding(done: int, total: int) -> TrainEvent:
    return TrainEvent(
        "cache", step=done, steps=total, message=f"decoding face crops once {done}/{total}", phase="decode"
    )


def teacher_targets(cfg: TrainConfig, train: list, dev: list) -> Generator[TrainEvent, None, SoftTargets]:
    """Generator of "cache" events while the external teachers score the crops; returns SoftTargets."""
    from training.teachers import load_teachers
    from training.teachers.targets import soft_targets

    teachers = load_teachers(cfg.teachers, Path(cfg.teachers_dir) if cfg.teachers_dir else None)
    steps = soft_targets(
        teachers,
        cfg.teacher_rule,
        train,
        dev,
        cache_root(cfg),
        detector_path(cfg),
        cfg.frames_per_video,
        workers=max(1, cfg.workers),
    )
    return (yield from _chunked(steps, "teachers scoring faces", phase="teachers"))


def _chunked(steps: Generator[tuple[int, int], None, T], what: str, phase: str = "") -> Generator[TrainEvent, None, T]:
    """Runs a generator of (done, total) to its end, with a "cache" event ("``what`` done/total") every
    CHUNK steps and at the last; returns what the generator returns."""
    while True:
        try:
            done, total = next(steps)
        except StopIteration as stop:
            return stop.value
        if done == total or done % CHUNK == 0:
            yield TrainEvent("cache", step=done, steps=total, message=f"{what} {done}/{total}", phase=phase)
