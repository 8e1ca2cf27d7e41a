"""Hostile or broken files, as a shared recordings folder, a hand-edited settings file or a downloaded
model may be: nothing outside its folder is touched, nothing crashes, every refusal says why."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
import torch

from liveness_app.config import load_config
from liveness_app.core.manifest_file import read_manifest
from liveness_app.core.model import ModelLoadError, build_model, load_checkpoint, read_checkpoint
from liveness_app.core.recorder import Recorder
from liveness_app.core.session_store import RecorderError, SessionStore
from liveness_app.core.sessions import ManifestError
from studio_fakes import make_checkpoint, session_entry
from training.data.samples import DatasetLayoutError, load_recordings


def _entry(sid: str, file: str, **extra: object) -> dict:
    return session_entry(sid, file, **extra)


def _write_manifest(root: Path, sessions: object, version: int = 1) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"version": version, "sessions": sessions}))
    return root


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file the user cares about, outside the recordings folder."""
    path = tmp_path / "precious.txt"
    path.write_text("do not delete")
    return path


# -- recordings manifest: paths ----------------------------------------------------------------------------
def test_sessions_pointing_outside_the_folder_are_refused_never_followed_or_deleted(tmp_path, victim) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    (root / "link.avi").symlink_to(victim)
    (root / "ok.avi").write_bytes(b"video")
    _write_manifest(
        root,
        [
            _entry("abs", str(victim)),
            _entry("up", "../precious.txt"),
            _entry("link", "link.avi"),
            _entry("ok", "ok.avi"),
        ],
    )
    store = SessionStore(root)

    manifest = store.read()
    assert [s["id"] for s in manifest.sessions] == ["ok"]
    assert {bad.session_id: "outside the recordings folder" in bad.reason for bad in manifest.invalid} == {
        "abs": True,
        "up": True,
        "link": True,
    }
    for sid in ("abs", "up", "link"):
        with pytest.raises(RecorderError, match="no valid session"):
            store.delete(sid)
    assert victim.read_text() == "do not delete"
    assert [s.path.name for s in load_recordings(root)] == ["ok.avi"]  # the training loader refuses them too

    assert store.delete("ok") == (root / "ok.avi").resolve()
    assert not (root / "ok.avi").exists() and victim.exists()
    kept = json.loads((root / "manifest.json").read_text())["sessions"]
    assert [s["id"] for s in kept] == ["abs", "up", "link"]  # refused entries are written back unchanged


@pytest.mark.parametrize("data", [[], {"version": 1, "sessions": "x"}, {"sessions": []}, "text"])
def test_a_manifest_of_the_wrong_shape_is_one_clear_error(tmp_path, data) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="manifest.json"):
        read_manifest(tmp_path)
    with pytest.raises(DatasetLayoutError, match="manifest"):
        load_recordings(tmp_path)


@pytest.mark.parametrize(
    "entry, reason",
    [
        ("x", "must be an object"),
        ({"file": "a.avi", "label": "live", "status": "complete"}, "'id'"),
        ({**_entry("d", "d.avi"), "duration_s": "abc"}, "duration_s"),
        ({**_entry("f", "f.avi"), "frames": -1}, "frames"),
        ({**_entry("n", "n.avi"), "fps": float("nan")}, "fps"),
        ({**_entry("s", "s.avi"), "status": "done"}, "status"),
        ({**_entry("l", "l.avi"), "label": ["live"]}, "label"),
        ({**_entry("t", "t.avi"), "subject": 7}, "subject"),
    ],
)
def test_bad_entries_are_listed_as_invalid_with_the_reason(tmp_path, entry, reason) -> None:
    _write_manifest(tmp_path, [entry, _entry("good", "good.avi")])
    manifest = read_manifest(tmp_path)
    assert [s["id"] for s in manifest.sessions] == ["good"]
    assert len(manifest.invalid) == 1 and reason in manifest.invalid[0].reason


def test_a_duplicate_id_is_refused(tmp_path) -> None:
    _write_manifest(tmp_path, [_entry("a", "a.avi"), _entry("a", "b.avi")])
    manifest = read_manifest(tmp_path)
    assert len(manifest.sessions) == 1 and "twice" in manifest.invalid[0].reason


# -- recordings manifest: while recording ------------------------------------------------------------------
def test_recording_with_a_corrupt_manifest_refuses_and_leaves_no_orphan_video(tmp_path) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    (root / "manifest.json").write_text("{not json")
    store = SessionStore(root)
    with pytest.raises(RecorderError, match="cannot be read"):
        Recorder(store, "live", "ann", camera="test", fps=30.0, size=(64, 48))
    assert sorted(p.name for p in root.iterdir()) == ["manifest.json"]
    assert (root / "manifest.json").read_text() == "{not json"  # never overwritten

    kept = store.set_aside()  # what the panel offers: keep the old list, start a new one
    assert kept.read_text() == "{not json" and not store.path.exists()
    rec = Recorder(store, "live", "ann", camera="test", fps=30.0, size=(64, 48))
    rec.write(torch.zeros(48, 64, 3, dtype=torch.uint8).numpy(), block=True)
    assert rec.stop()["frames"] == 1 and len(store.sessions()) == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_recovery_never_opens_a_fifo(tmp_path) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    os.mkfifo(root / "pipe.avi")
    _write_manifest(root, [_entry("pipe", "pipe.avi", status="recording")])
    store = SessionStore(root)
    done: list[list[str]] = []
    thread = threading.Thread(target=lambda: done.append(store.recover()), daemon=True)
    thread.start()
    thread.join(timeout=300)  # bounds a hang, not a speed
    assert done == [["pipe"]], "recover() blocked on a FIFO"
    assert store.sessions()[0]["status"] == "incomplete"


# -- models ------------------------------------------------------------------------------------------------
def _tamper(tmp_path: Path, name: str, change) -> Path:
    path = make_checkpoint(tmp_path / "good.pt")
    data = torch.load(path, weights_only=True)
    change(data)
    torch.save(data, tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["preprocessing"].update(mean=[float("nan")] * 3), "mean"),
        (lambda d: d["preprocessing"].update(std=[0.0, 1.0, 1.0]), "std"),
        (lambda d: d.update(threshold=float("nan")), "threshold"),
        (lambda d: d.update(threshold="0.5"), "threshold"),
        (lambda d: d.update(training=["x"]), "'training' must be a mapping"),
        (lambda d: d.update(metrics="good"), "'metrics' must be a mapping"),
        (lambda d: d.update(model_args=[1]), "model_args must be a mapping"),
        (lambda d: d.update(model_args={"lbp_grid": 200}), "lbp_grid=200"),
        (lambda d: d.update(model_args={"lbp_grid": 100000}), "lbp_grid=100000"),
        (lambda d: d.update(model_args={"lbp_grid": 1.5}), "lbp_grid"),
        (lambda d: d.update(model_args={"depth": 3}), "unknown model_args"),
        (lambda d: d.update(class_names=["a"]), "class_names"),
        (lambda d: d["state_dict"]["classifier.3.weight"].fill_(float("nan")), "NaN"),
        (lambda d: d["state_dict"].pop("classifier.3.bias"), "1 missing key (classifier.3.bias)"),
        (lambda d: d["state_dict"].update(extra=torch.zeros(1)), "1 unexpected key (extra)"),
        (
            lambda d: d["state_dict"].update({"classifier.3.bias": torch.zeros(2)}),
            "classifier.3.bias: expected [1], got [2]",
        ),
        (lambda d: d.update(state_dict=[1, 2]), "not a mapping"),
    ],
)
def test_models_that_should_be_refused_are_refused_before_use(tmp_path, change, message) -> None:
    bad = _tamper(tmp_path, "bad.pt", change)
    with pytest.raises(ModelLoadError) as refused:
        load_checkpoint(bad)
    assert message in str(refused.value)


def test_the_refusal_of_a_pickled_object_never_suggests_weights_only_false(tmp_path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "payload": threading.Lock}, path)  # a class: refused by weights_only
    with pytest.raises(ModelLoadError) as refused:
        read_checkpoint(path)
    assert "weights_only" not in str(refused.value) and "refused unopened" in str(refused.value)


def test_build_model_checks_its_arguments_before_allocating() -> None:
    with pytest.raises(ValueError, match="lbp_grid"):
        build_model(lbp_grid=100000)


# -- settings and configuration ---------------------------------------------------------------------------
def test_a_broken_default_config_file_is_ignored_with_a_message(_user_home: Path) -> None:
    _user_home.mkdir(parents=True, exist_ok=True)
    (_user_home / "config.toml").write_text('device = "gpu"\n')
    config = load_config([])
    assert config.device == "auto" and len(config.problems) == 1 and "gpu" in config.problems[0]
    (_user_home / "config.toml").write_bytes(b"\xff\xfe garbage")
    assert "not valid TOML" in load_config(["--device", "cpu"]).problems[0]
