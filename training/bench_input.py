"""``python -m training.bench --input-only``: the training input pipeline alone, with the model removed.

Builds a crop cache from the bundled sample video (a live and a print copy of it) or from ``--data``, then
draws a balanced sample of ``--crops`` training crops per pass, as an epoch does, and times each way of
turning them into model inputs, in turns, ``--rounds`` times (so that a machine whose load changes treats
them alike):

- ``old``: the loader before the decoded store: each crop's PNG decoded, OpenCV augmentation per crop, a
  new DataLoader (and its workers) per pass, as every epoch had;
- ``crop``: the same per-crop path, bit for bit, reading the decoded store, with persistent workers (what
  training uses on a CPU);
- ``batched``: workers cut crops out of the store and draw their parameters; the device resizes and
  augments whole batches (what training uses on a GPU); measured on ``--device``;
- ``batched-loader``: the workers' share of ``batched`` alone: what the CPU cores must keep up with when
  a GPU does the rest.

Per path: crops/s (the median pass), crops/s per worker (``--workers``; per process with 0 workers) and
crops per CPU-second over the process and its workers (Linux: the workers' times from /proc). The last
line is one JSON object; its top-level ``crops_per_s``, ``crops_per_s_per_worker`` and ``path`` are those
of the path training takes on ``--device``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch.utils.data import DataLoader

from liveness_app.core.device import select_device
from training.config import TrainConfig, spec_of
from training.data.augment import AugmentConfig
from training.data.feed import TrainFeed
from training.data.frames import CropDataset, Entry, balanced_weights, epoch_entries
from training.data.store import ensure_store
from training.fit.distributed import balanced_share
from training.fit.prepare import CACHE_MARGIN_EXTRA, load_samples, make_cache

PATHS = ("old", "crop", "batched", "batched-loader")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-only", action="store_true", help="time the training input pipeline alone (no model)")
    p.add_argument("--data", action="append", help="with --input-only: data spec(s) (default: the bundled sample)")
    p.add_argument("--crops", type=int, default=4096, help="with --input-only: crops per timed pass")
    p.add_argument("--rounds", type=int, default=3, help="with --input-only: timed passes of each path")
    p.add_argument("--paths", default=",".join(PATHS), help="with --input-only: which paths, comma-separated")


def cpu_seconds() -> float:
    """CPU time of this process and its children, finished (reaped) or running (Linux: from /proc)."""
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == os.getpid():  # fields after the name: state, ppid, ..., utime (12), stime (13)
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _sample_data(folder: Path, source: Path) -> list[str]:
    for label in ("live", "print"):
        (folder / label).mkdir(parents=True)
        shutil.copy(source, folder / label / f"sample-{label}{source.suffix}")
    return [str(folder)]


def _time_pass(run: Callable[[], Iterable[Any]], crops: int, device: torch.device) -> dict[str, float]:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    n = sum(len(batch[1]) for batch in run())
    if device.type == "cuda":
        torch.cuda.synchronize()  # the device's work is done, not only queued
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    assert n == crops, f"a pass gave {n} crops, not {crops}"
    return {"wall_s": wall, "cpu_s": cpu}


def _summary(passes: list[dict[str, float]], crops: int, workers: int) -> dict[str, Any]:
    wall = statistics.median(p["wall_s"] for p in passes)
    cpu = statistics.median(p["cpu_s"] for p in passes)
    return {
        "crops_per_s": round(crops / wall, 1),
        "crops_per_s_per_worker": round(crops / wall / max(1, workers), 1),
        "crops_per_cpu_s": round(crops / cpu, 1) if cpu > 0 else None,
        "passes_s": [round(p["wall_s"], 3) for p in passes],
    }


def run(a: argparse.Namespace) -> dict[str, Any]:
    """The benchmark of the module docstring; returns its JSON object (also printed as the last line)."""
    chosen = [p.strip() for p in a.paths.split(",") if p.strip()]
    unknown = set(chosen) - set(PATHS)
    if unknown or a.workers < 0 or a.crops < 1 or a.rounds < 1:
        raise SystemExit(f"--paths takes {', '.join(PATHS)}; --workers >= 0, --crops and --rounds >= 1")
    device, _ = select_device(a.device)
    size = a.input_size or 128
    torch.set_num_threads(1)  # the device stage on a CPU: one core, as each worker has
    with tempfile.TemporaryDirectory() as tmp:
        data = a.data or _sample_data(Path(tmp) / "data", a.source)
        cfg = TrainConfig(
            data=tuple(data),
            out_dir=str(Path(tmp) / "run"),
            cache_dir=str(Path(tmp) / "cache"),
            input_size=size,
            batch_size=a.batch_size,
            frames_per_video=a.frames_per_video,
            workers=a.workers,
            install=False,
        )
        samples, _ = load_samples(cfg.data)
        cache = make_cache(cfg)
        items = list(cache.build(samples, workers=max(1, a.workers)))
        if not items:
            raise SystemExit("no face crops in the data")
        crop_paths = [p for item in items for p in item.crop_paths]
        store, note = ensure_store(cache.folder, crop_paths, workers=max(1, a.workers))
        entries = epoch_entries(items, cfg.frames_per_video, cfg.seed, 1)
        sampler = balanced_share(balanced_weights(entries), a.crops, torch.Generator().manual_seed(cfg.seed))
        results = _measure(chosen, cfg, entries, sampler, store, device, a)
    default = "batched" if device.type == "cuda" else "crop"
    top = results.get(default) or next(iter(results.values()))
    return {
        "mode": "input-only",
        "path": default if default in results else next(iter(results)),
        "crops_per_s": top["crops_per_s"],
        "crops_per_s_per_worker": top["crops_per_s_per_worker"],
        "paths": results,
        "speedup_vs_old": round(top["crops_per_s"] / results["old"]["crops_per_s"], 2) if "old" in results else None,
        "workers": a.workers,
        "input_size": size,
        "batch_size": a.batch_size,
        "crops_per_pass": a.crops,
        "rounds": a.rounds,
        "cached_crops": len(crop_paths),
        "store": "" if store is not None else f"none ({note})",
        "device": str(device),
        "cpu": _cpu_name(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_avg_1min_after": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "torch": torch.__version__,
    }


def _measure(
    chosen: list[str],
    cfg: TrainConfig,
    entries: list[Entry],
    sampler: list[int],
    store: Any,
    device: torch.device,
    a: argparse.Namespace,
) -> dict[str, Any]:
    spec, aug = spec_of(cfg), AugmentConfig.from_overrides(cfg.augment)

    def old(epoch: int) -> Iterable[Any]:  # exactly the loader before the store: a new one every epoch
        ds = CropDataset(entries, spec, CACHE_MARGIN_EXTRA, train=True, seed=cfg.seed, epoch=epoch, augment_cfg=aug)
        return DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, num_workers=a.workers)

    def feed(batched: bool) -> TrainFeed:
        return TrainFeed(
            [e.crop_path for e in entries],
            store,
            spec,
            CACHE_MARGIN_EXTRA,
            aug,
            seed=cfg.seed,
            batch_size=cfg.batch_size,
            workers=a.workers,
            device=device,
            batched=batched,
        )

    feeds = {"crop": feed(False), "batched": feed(True)}
    runs: dict[str, Callable[[int], Iterable[Any]]] = {
        "old": old,
        "crop": lambda epoch: feeds["crop"].epoch(entries, epoch, sampler),
        "batched": lambda epoch: feeds["batched"].epoch(entries, epoch, sampler),
        "batched-loader": lambda epoch: feeds["batched"].batches(
            feeds["batched"].epoch(entries, epoch, sampler).keys, device_stage=False
        ),
    }
    passes: dict[str, list[dict[str, float]]] = {name: [] for name in chosen}
    try:
        for _ in ("warm-up", *range(a.rounds)):  # the first round starts the persistent workers: not counted
            for name in chosen:
                passes[name].append(_time_pass(lambda: runs[name](len(passes[name]) + 1), a.crops, device))
    finally:
        for f in feeds.values():
            f.close()
    return {name: _summary(p[1:], a.crops, a.workers) for name, p in passes.items()}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(a: argparse.Namespace) -> int:
    print(json.dumps(run(a)))
    return 0


if __name__ == "__main__":
    raise SystemExit("run it as: python -m training.bench --input-only")
