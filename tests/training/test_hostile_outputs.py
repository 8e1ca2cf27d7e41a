"""What training writes, when things go wrong while it writes: a full disk is said in words (and where), an
install interrupted half-way leaves the previous model whole, ``--resume`` with nothing to resume says so,
and what a killed run left behind is cleaned at the next start."""

from __future__ import annotations

import errno
import json
import os
import time

import pytest
from train_cli import tiny_cli_args

from liveness_app.core import files
from liveness_app.core.files import DiskFullError, atomic_write_text
from liveness_app.core.housekeeping import clean_leftovers
from liveness_app.core.model import build_model, load_checkpoint, save_checkpoint
from studio_fakes import make_checkpoint, tiny_dataset
from training.__main__ import main
from training.config import TrainConfig
from training.fit.checkpoint import install


def _fsync_on_a_full_disk(fd: int) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_model_saved_to_a_full_disk_says_so_and_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    path = make_checkpoint(tmp_path / "m.pt", name="old")
    _, meta = load_checkpoint(path)
    with (
        monkeypatch.context() as m,
        pytest.raises(DiskFullError, match=rf"the disk is full: cannot write m.pt in {tmp_path}.*MiB free"),
    ):
        m.setattr(files.os, "fsync", _fsync_on_a_full_disk)
        save_checkpoint(path, build_model(spec=meta.preprocessing), meta)
    assert load_checkpoint(path)[1].name == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left


def test_training_on_a_full_disk_ends_with_one_line_that_says_where(tmp_path, monkeypatch, capsys) -> None:
    data = tiny_dataset(tmp_path / "data", per_class=2, groups=2)
    monkeypatch.setattr(files.os, "fsync", _fsync_on_a_full_disk)
    rc = main(["--data", str(data), *tiny_cli_args(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "inline_container" not in err
    assert f"liveness-train: error: the disk is full: cannot write config.json in {tmp_path / 'run'}" in err


def test_an_interrupted_install_leaves_the_previous_model_whole(tmp_path, monkeypatch) -> None:
    from liveness_app import paths

    previous = make_checkpoint(paths.user_models_dir() / "mine.pt", name="previous")
    before = previous.read_bytes()
    best = make_checkpoint(tmp_path / "best.pt", name="new", seed=3)

    def killed(src, dst, length=0):  # the copy dies half-way, as a kill or a crash would leave it
        dst.write(src.read(1000))
        raise KeyboardInterrupt

    with monkeypatch.context() as m, pytest.raises(KeyboardInterrupt):
        m.setattr(files.shutil, "copyfileobj", killed)
        install(best, TrainConfig(name="mine", install=True))
    assert previous.read_bytes() == before and list(previous.parent.iterdir()) == [previous]
    assert install(best, TrainConfig(name="mine", install=True)) == previous
    assert load_checkpoint(previous)[1].name == "new"


def test_resume_with_no_saved_state_is_an_error_not_a_fresh_start(tmp_path, capsys) -> None:
    data = tiny_dataset(tmp_path / "data", per_class=2, groups=2)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.jsonl").write_text('{"epoch": 1}\n')
    rc = main(["--data", str(data), *tiny_cli_args(tmp_path), "--resume"])
    err = capsys.readouterr().err
    assert rc == 2 and "--resume: there is no last_state.pt in" in err
    assert (tmp_path / "run" / "log.jsonl").read_text() == '{"epoch": 1}\n'  # no duplicated log lines


def test_leftovers_of_killed_runs_are_cleaned_at_the_next_start(tmp_path) -> None:
    home, models = tmp_path / "home", tmp_path / "home" / "models"
    models.mkdir(parents=True)
    old = time.time() - 2 * 3600
    stale = [
        models / "mine.pt.0a1b2c3d.tmp",
        home / "onnx-cache" / "default-1.onnx.00ff00ff.tmp",
        home / "runs" / "train-1" / "last_state.pt.deadbeef.tmp",
    ]
    killed_adapt = home / "runs" / "adapted-20261201-101010"
    finished_adapt = home / "runs" / "adapted-20261202-101010"
    kept = [
        models / "mine.pt",
        home / "runs" / "train-1" / "last_state.pt",  # --resume needs it
        finished_adapt / "run" / "best.pt",
        models / f"{finished_adapt.name}.pt",
        home / "recent.json.12345678.tmp",
    ]  # another process may be writing it now
    for path in stale + kept + [killed_adapt / "run" / "last_state.pt", finished_adapt / "run" / "last_state.pt"]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        if path != home / "recent.json.12345678.tmp":
            os.utime(path, (old, old))
    for folder in (killed_adapt, killed_adapt / "run", finished_adapt, finished_adapt / "run"):
        os.utime(folder, (old, old))
    removed = clean_leftovers(home, models)
    assert not any(p.exists() for p in stale) and not killed_adapt.exists()
    assert not (finished_adapt / "run" / "last_state.pt").exists()
    assert all(p.exists() for p in kept)
    assert set(removed) >= set(stale) | {killed_adapt}


def test_the_atomic_writer_leaves_nothing_behind_on_a_full_disk(tmp_path, monkeypatch) -> None:
    target = tmp_path / "manifest.json"
    atomic_write_text(target, json.dumps({"version": 1}))
    monkeypatch.setattr(files.os, "fsync", _fsync_on_a_full_disk)
    with pytest.raises(DiskFullError) as caught:
        atomic_write_text(target, "{}")
    assert caught.value.errno == errno.ENOSPC and str(caught.value).startswith("the disk is full")
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"] and json.loads(target.read_text())
