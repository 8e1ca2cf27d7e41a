"""Recording labelled sessions: nothing lost, nothing half-written, readable by the training module."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from liveness_app.core.camera import VideoFileSource
from liveness_app.core.recorder import Recorder, load_labels
from liveness_app.core.session_store import RecorderError, SessionStore, count_frames
from training.data.samples import load_recordings

ROOT = Path(__file__).resolve().parents[2]


def _record(store: SessionStore, sample_video: Path, frames: int, label: str = "print", **kw) -> dict:
    src = VideoFileSource(sample_video)
    rec = Recorder(store, label, "alice", camera=src.name, fps=src.fps, size=(640, 480), **kw)
    for _ in range(frames):
        rec.write(src.read())
    src.close()
    return rec.stop()


def test_labels_are_data() -> None:
    labels = load_labels(ROOT / "assets" / "labels.json")
    names = [lab["name"] for lab in labels]
    assert names[0] == "live" and {"print", "replay-phone", "replay-screen", "mask", "other"} <= set(names)


def test_recorded_session_is_complete_and_read_by_training(tmp_path: Path, sample_video: Path) -> None:
    store = SessionStore(tmp_path / "rec")
    s = _record(store, sample_video, 45)
    assert s["status"] == "complete" and s["frames"] == 45 and s["duration_s"] == 1.5
    assert count_frames(store.root / s["file"]) == 45
    entry = store.sessions()[0]
    assert {k: entry[k] for k in ("label", "attack_type", "subject", "width", "height", "fps")} == {
        "label": "print",
        "attack_type": "print",
        "subject": "alice",
        "width": 640,
        "height": 480,
        "fps": 30.0,
    }
    samples = load_recordings(store.root)
    assert len(samples) == 1 and samples[0].label == "print" and samples[0].group == "alice"
    assert samples[0].kind == "video"


def test_relabel_and_delete(tmp_path: Path, sample_video: Path) -> None:
    store = SessionStore(tmp_path / "rec")
    s = _record(store, sample_video, 5)
    store.relabel(s["id"], "live", subject="bob")
    assert store.sessions()[0]["label"] == "live" and store.sessions()[0]["attack_type"] == ""
    assert store.sessions()[0]["subject"] == "bob"
    store.delete(s["id"])
    assert store.sessions() == [] and not (store.root / s["file"]).exists()


def test_crash_leftovers_are_recovered_or_marked_incomplete(tmp_path: Path, sample_video: Path) -> None:
    store = SessionStore(tmp_path / "rec")
    s = _record(store, sample_video, 20)
    store.upsert(dict(s, status="recording"))  # as if the app died before stop()
    broken = dict(s, id="b", file="b.avi", status="recording")
    (store.root / "b.avi").write_bytes(b"\x00" * 100)
    store.upsert(broken)
    assert sorted(store.recover()) == sorted(["b", s["id"]])
    by_id = {x["id"]: x for x in store.sessions()}
    assert by_id[s["id"]]["status"] == "complete" and by_id[s["id"]]["frames"] == 20 and by_id[s["id"]]["recovered"]
    assert by_id["b"]["status"] == "incomplete"
    assert [x.path.name for x in load_recordings(store.root)] == [s["file"]]  # incomplete ones not trained on


def test_full_disk_refuses_to_start_and_stops_cleanly_mid_recording(
    tmp_path: Path, sample_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SessionStore(tmp_path / "rec")
    with pytest.raises(RecorderError, match="free disk space"):
        _record(store, sample_video, 5, min_free_bytes=10**18)
    real = shutil.disk_usage
    calls = {"n": 0}
    Usage = namedtuple("Usage", "total used free")

    def filling(path: object) -> object:
        calls["n"] += 1
        return real(path) if calls["n"] <= 2 else Usage(1, 1, 0)  # full after recording has begun

    monkeypatch.setattr("liveness_app.core.recorder.shutil.disk_usage", filling)
    s = _record(store, sample_video, 90)
    assert 0 < s["frames"] < 90 and "disk is almost full" in s["notes"]
    assert s["status"] == "complete" and count_frames(store.root / s["file"]) == s["frames"]


def test_manifest_write_failure_keeps_the_previous_manifest(
    tmp_path: Path, sample_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SessionStore(tmp_path / "rec")
    s = _record(store, sample_video, 3)
    before = store.path.read_text()

    def no_space(*a: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("liveness_app.core.session_store.os.replace", no_space)
    with pytest.raises(RecorderError, match="previous one is kept"):
        store.relabel(s["id"], "live")
    assert store.path.read_text() == before and json.loads(before)["sessions"][0]["label"] == "print"
    assert [p.name for p in store.root.iterdir() if p.suffix == ".tmp"] == []
