"""Untrusted training inputs, the data: symlink loops and dangling links in a dataset folder, and unusable
files in a training set. Skipped files are listed (in the log and ``skipped.csv``), not hidden, and a split
they leave empty is one clear CLI error. (Hostile --pretrained and --resume files: test_training_inputs.py.)"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from train_cli import assert_one_clear_error, run_train_cli, tiny_cli_args

from liveness_app.core.model import load_checkpoint
from training.__main__ import main
from training.data.folders import scan_label_folders
from training.data.importers import load_any
from training.data.samples import DatasetLayoutError

# --- dataset folders with links --------------------------------------------------------------------------


def _symlink(link: Path, target: str) -> None:
    try:
        link.symlink_to(target)
    except (OSError, NotImplementedError):
        pytest.skip("symlinks are not available here")


def test_symlink_loops_and_dangling_links_are_listed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "data"
    for rel in ("data/live/alice_1.jpg", "data/live/sub/bob_1.jpg", "data/print/alice_2.png", "elsewhere/carol_1.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    _symlink(root / "live" / "sub" / "loop", "..")  # back to the label folder: would never end
    _symlink(root / "live" / "root", "..")  # back to the data root
    _symlink(root / "live" / "gone.jpg", "missing.jpg")  # dangling
    _symlink(root / "live" / "self", "self")  # never resolves
    _symlink(root / "print" / "first", "../../elsewhere")  # a link to a folder outside is followed, once
    _symlink(root / "print" / "second", "../../elsewhere")
    _symlink(root / "dead-label", "no-such-folder")  # a dangling label folder
    with caplog.at_level(logging.WARNING, logger="training.data.folders"):
        samples = scan_label_folders(root)
    found = sorted(s.path.relative_to(root).as_posix() for s in samples)
    assert found == ["live/alice_1.jpg", "live/sub/bob_1.jpg", "print/alice_2.png", "print/first/carol_1.jpg"]
    reasons = {Path(path).relative_to(root).as_posix(): reason for path, reason in samples.skipped}
    assert reasons == {
        "dead-label": "dangling symlink: its target no-such-folder does not exist",
        "live/gone.jpg": "dangling symlink: its target missing.jpg does not exist",
        "live/root": "symlink loop or duplicate: links to .., a folder already scanned",
        "live/self": "symlink loop: self never resolves to a file or folder",
        "live/sub/loop": "symlink loop or duplicate: links to .., a folder already scanned",
        "print/second": "symlink loop or duplicate: links to ../../elsewhere, a folder already scanned",
    }
    assert "skipped 6 entries" in caplog.text and "gone.jpg" in caplog.text
    assert load_any(str(root)).skipped == samples.skipped  # what training lists in skipped.csv


def test_only_broken_links_is_an_error_that_names_them(tmp_path: Path) -> None:
    (tmp_path / "live").mkdir()
    _symlink(tmp_path / "live" / "a.jpg", "nowhere.jpg")
    with pytest.raises(DatasetLayoutError, match=r"no images or videos found .*skipped 1: .*a\.jpg \(dangling"):
        scan_label_folders(tmp_path)


# --- files a training run skips --------------------------------------------------------------------------


def _tiny_set(root: Path) -> Path:
    """Two subjects of pre-cropped stand-in faces, plus a broken video, a broken image and a dangling link."""
    rng = np.random.default_rng(0)
    for g in range(2):
        for label in ("live", "print"):
            (root / label).mkdir(parents=True, exist_ok=True)
            for i in range(4):
                img = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
                cv2.imwrite(str(root / label / f"subj{g}_{i}.png"), img)
    (root / "print" / "subj0_clip.mp4").write_bytes(rng.integers(0, 256, 2048, dtype=np.uint8).tobytes())
    (root / "live" / "subj0_broken.jpg").write_bytes(b"not a jpeg")
    _symlink(root / "live" / "subj0_gone.png", "deleted.png")
    return root


def test_skipped_files_are_listed_and_left_out_of_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _tiny_set(tmp_path / "data")
    options = ["--batch-size", "8", "--ema-decay", "0", "--dev-groups", "subj1"]
    rc = main(["--data", f"cropped:{data}", *tiny_cli_args(tmp_path), *options])
    err = capsys.readouterr().err
    assert rc == 0, err
    with (tmp_path / "run" / "skipped.csv").open(newline="", encoding="utf-8") as fh:
        rows = {Path(r["path"]).name: r["reason"] for r in csv.DictReader(fh)}
    assert set(rows) == {"subj0_clip.mp4", "subj0_broken.jpg", "subj0_gone.png"}
    assert rows["subj0_clip.mp4"].startswith("unreadable") and rows["subj0_gone.png"].startswith("dangling")
    warning = next(line for line in err.splitlines() if line.startswith("liveness-train: warning: "))
    assert "skipped 3 of 19 file(s)" in warning and "subj0_clip.mp4" in warning
    assert f"full list in {tmp_path / 'run' / 'skipped.csv'}" in warning
    _, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    summary = meta.training["data"]
    assert summary["train"]["samples"] == 8 and summary["train"]["per_kind"] == {"image": 8}  # no broken video
    assert summary["dev"]["samples"] == 8 and summary["skipped"] == 3
    assert {Path(f["path"]).name for f in summary["skipped_files"]} == set(rows)


def test_a_dev_split_left_empty_by_skipped_files_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _tiny_set(tmp_path / "data")
    (data / "live" / "subj2_x.jpg").write_bytes(b"broken")
    rc, err = run_train_cli(capsys, tmp_path, "--data", f"cropped:{data}", "--dev-groups", "subj2")
    assert_one_clear_error(rc, err, "no usable dev data: all 1 dev file(s) were skipped", "skipped.csv", only=False)
    assert (tmp_path / "run" / "skipped.csv").is_file()
