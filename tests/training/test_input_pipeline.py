"""The training input pipeline: the decoded crop store (decoded once, grown, refused when it does not add
up, never required), the run's feed (persistent workers, the same batches with or without them), workers
sized to the machine, a whole run on the batched path, and the input-only benchmark's JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from input_helpers import EXTRA, SPEC, crop_paths, face_cache

from liveness_app.core.files import read_image
from studio_fakes import tiny_dataset, tiny_train_config
from training import bench
from training.cli import config_from_args
from training.config import TrainConfig, auto_workers
from training.data import store as store_module
from training.data.augment import AugmentConfig
from training.data.feed import TrainFeed
from training.data.frames import CropDataset, epoch_entries
from training.data.store import STORE_INDEX, DecodedStore, StoreError, ensure_store
from training.fit import loop, steps
from training.fit.loop import fit


@pytest.fixture()
def faces(tmp_path: Path, sample_video: Path, detector_path: Path) -> tuple:
    return face_cache(tmp_path, sample_video, detector_path, frames=3)


def _no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(path: Path) -> np.ndarray:
        raise AssertionError(f"decoded again: {path}")

    monkeypatch.setattr(store_module, "read_image", fail)


def test_store_decodes_each_crop_once_and_grows(faces: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, items = faces
    first, note = ensure_store(cache.folder, crop_paths(items[:1]))
    assert first is not None and note == "" and len(first) == 3
    for path in crop_paths(items[:1]):
        np.testing.assert_array_equal(first.crop(first.row(path)), read_image(path))
    grown, _ = ensure_store(cache.folder, crop_paths(items))  # the print video's crops join
    assert grown is not None and len(grown) == 6 and not first.data_path.exists()  # the old data file went
    _no_decoding(monkeypatch)
    again, note = ensure_store(cache.folder, crop_paths(items))
    assert again is not None and note == "" and again.data_path == grown.data_path
    for path in crop_paths(items):
        np.testing.assert_array_equal(again.crop(again.row(path)), read_image(path))


def test_a_changed_png_is_decoded_again(faces: tuple) -> None:
    cache, items = faces
    ensure_store(cache.folder, crop_paths(items))
    changed = crop_paths(items)[2]
    cv2.imwrite(str(changed), 255 - read_image(changed))
    os.utime(changed, ns=(1, 1))
    store, _ = ensure_store(cache.folder, crop_paths(items))
    assert store is not None
    np.testing.assert_array_equal(store.crop(store.row(changed)), read_image(changed))


def _rewrite_index(folder: Path, change) -> None:
    index = json.loads((folder / STORE_INDEX).read_text())
    (folder / STORE_INDEX).write_text(json.dumps(change(index)) if callable(change) else change)


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("not json {", "unreadable"),
        (lambda i: {**i, "format": 99}, "another format"),
        (lambda i: {**i, "data": "../../elsewhere.u8"}, "no data file"),
        (lambda i: {**i, "crops": [[c[0], 5000, 5000, c[3], c[4]] for c in i["crops"]]}, "side outside"),
        (lambda i: {**i, "crops": [[c[0], c[1] + 1, *c[2:]] for c in i["crops"]]}, "do not add up"),
        (lambda i: {**i, "crops": i["crops"] + i["crops"][:1], "bytes": i["bytes"] * 2}, "twice"),
        (lambda i: {**i, "crops": [[c[0], True, *c[2:]] for c in i["crops"]]}, "malformed"),
        ("truncate", "the index says"),
    ],
)
def test_a_damaged_store_is_set_aside_and_rebuilt(faces: tuple, damage, reason: str) -> None:
    cache, items = faces
    store, _ = ensure_store(cache.folder, crop_paths(items))
    assert store is not None
    if damage == "truncate":
        with open(store.data_path, "r+b") as fh:
            fh.truncate(1000)
    else:
        _rewrite_index(cache.folder, damage)
    with pytest.raises(StoreError, match=reason):
        DecodedStore.open(cache.folder)
    rebuilt, note = ensure_store(cache.folder, crop_paths(items))
    assert rebuilt is not None and "set aside" in note and reason in note
    for path in crop_paths(items):
        np.testing.assert_array_equal(rebuilt.crop(rebuilt.row(path)), read_image(path))


def test_without_a_store_training_reads_the_pngs(faces: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that cannot be written (a full disk) or whose data file went away: the PNGs, as before."""
    cache, items = faces

    def full(*args: object, **kwargs: object):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "atomic_write", full)
    store, note = ensure_store(cache.folder, crop_paths(items))
    assert store is None and "reading the PNGs" in note and not (cache.folder / STORE_INDEX).exists()
    monkeypatch.undo()
    store, _ = ensure_store(cache.folder, crop_paths(items))
    assert store is not None
    store.data_path.unlink()  # rebuilt by another run meanwhile (a fresh copy has no map open yet)
    entries = epoch_entries(items, 3, 4, 1)
    fresh = DecodedStore(store.folder, store.data_path.name, store.names, store.shapes, store.stamps)
    reading = CropDataset(entries, SPEC, EXTRA, train=True, store=fresh)
    plain = CropDataset(entries, SPEC, EXTRA, train=True)
    assert torch.equal(reading[0][0], plain[0][0])


def test_persistent_workers_give_the_batches_of_the_main_process(faces: tuple) -> None:
    cache, items = faces
    store, _ = ensure_store(cache.folder, crop_paths(items))
    for batched in (False, True):
        feeds = [
            TrainFeed(crop_paths(items), store, SPEC, EXTRA, AugmentConfig(), batch_size=4, workers=n, batched=batched)
            for n in (0, 1)
        ]
        assert feeds[1].workers == 1 and feeds[1]._loader is not None and feeds[1]._loader.persistent_workers
        for epoch in (1, 2):  # the second epoch reuses the worker
            entries = epoch_entries(items, 2, 4, epoch)
            sampler = [0, 1, 2, 3, 1, 0]
            got = [torch.cat([b[0] for b in f.epoch(entries, epoch, sampler)]) for f in feeds]
            assert got[0].shape == (6, 3, 128, 128) and torch.equal(got[0], got[1])
        feeds[1].close()
        with pytest.raises(RuntimeError, match="closed"):
            next(iter(feeds[1].epoch(entries, 3, sampler)))


def test_jpeg_keeps_the_per_crop_path() -> None:
    jpeg = AugmentConfig(jpeg_p=0.3)
    feed = TrainFeed([], None, SPEC, EXTRA, jpeg, device=torch.device("cuda"))  # no CUDA needed to build it
    assert not feed.batched
    with pytest.raises(ValueError, match="JPEG"):
        TrainFeed([], None, SPEC, EXTRA, jpeg, batched=True)


def test_workers_default_to_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert auto_workers({}) == 15 and auto_workers({"LOCAL_WORLD_SIZE": "4"}) == 3
    assert auto_workers({"LOCAL_WORLD_SIZE": "32"}) == 1 and auto_workers({"LOCAL_WORLD_SIZE": "x"}) == 15
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert auto_workers({}) == 16
    assert TrainConfig().workers == 16 and TrainConfig(workers=0).workers == 0
    assert config_from_args(["--data", "d", "--workers", "auto"]).workers == 16
    assert TrainConfig.from_dict({"workers": "auto"}).workers == 16
    with pytest.raises(ValueError, match="workers"):
        TrainConfig(workers=-2)


def test_a_run_trains_end_to_end_on_the_batched_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU's path, run on the CPU: the store is built, every training batch is augmented as a batch."""
    made: list[TrainFeed] = []

    def batched_feed(*args: object) -> TrainFeed:
        made.append(steps.train_feed(*args, batched=True))  # type: ignore[arg-type]
        return made[-1]

    monkeypatch.setattr(loop, "train_feed", batched_feed)
    events = list(fit(tiny_train_config(tmp_path, tiny_dataset(tmp_path / "data"), epochs=2)))
    assert events[-1].kind == "done" and events[-1].model_path is not None
    assert len(made) == 1 and made[0].batched and made[0].crops.store is not None
    assert any("decoding face crops once" in e.message for e in events if e.kind == "cache")


def test_bench_input_only_prints_its_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--input-only", "--workers", "0", "--crops", "24", "--rounds", "1", "--frames-per-video", "2"]
    assert bench.main([*argv, "--batch-size", "8", "--input-size", "64"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"crops_per_s", "crops_per_s_per_worker", "path", "paths", "workers", "cpu"} <= set(result)
    assert result["path"] == "crop" and result["input_size"] == 64 and result["store"] == ""
    assert set(result["paths"]) == {"old", "crop", "batched", "batched-loader"}
    for figures in result["paths"].values():
        assert figures["crops_per_s"] > 0 and len(figures["passes_s"]) == 1
