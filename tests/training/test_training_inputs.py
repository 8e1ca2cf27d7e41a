"""Untrusted training inputs: hostile or broken --pretrained and --resume files, symlink loops and dangling
links in a dataset folder, and unusable files in a training set. Each gives a clear message (the CLI: one
``liveness-train: error:`` line, exit status 2, no traceback), and skipped files are listed, not hidden."""
from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import pytest
import torch

from liveness_app.core.model import build_model, load_checkpoint
from training.__main__ import main
from training.fit.checkpoint import describe_state_mismatch, load_pretrained, restore_state, save_state
from training.config import TrainConfig
from training.data.samples import DatasetLayoutError
from training.data.folders import scan_label_folders
from training.data.importers import load_any
from training.fit.loop import build_run


class Payload:
    """What a hostile checkpoint carries: unpickling it would create ``marker`` (code execution)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return os.mkdir, (str(self.marker),)


class Plain:
    """Any class at all: a weights-only load refuses to build it."""


def _cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, str]:
    """Run ``liveness-train`` on a tiny CPU config; (exit status, stderr)."""
    data = [] if "--data" in args else ["--data", f"cropped:{tmp_path / 'no-data'}"]
    base = ["--out-dir", str(tmp_path / "run"), "--device", "cpu", "--input-size", "32", "--epochs", "1",
            "--workers", "0", "--cache-dir", str(tmp_path / "cache"), "--no-install"]
    rc = main(data + base + list(args))
    return rc, capsys.readouterr().err


def _assert_one_clear_error(rc: int, err: str, starts: str, *needles: str, only: bool = True) -> None:
    """Exit status 2 and one error line, last (with ``only``, the only line on stderr)."""
    assert rc == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 or not only, err
    errors = [line for line in lines if line.startswith("liveness-train: error: ")]
    assert errors == lines[-1:], err
    assert errors[0].startswith(f"liveness-train: error: {starts}"), errors[0]
    assert "Traceback" not in err and "weights_only" not in err and "safe_globals" not in err
    for needle in needles:
        assert needle in errors[0], errors[0]


# --- --pretrained ----------------------------------------------------------------------------------------

def _hostile(path: Path) -> None:
    torch.save({"features.0.0.weight": torch.zeros(1), "x": Payload(path.parent / "pwned")}, path)


PRETRAINED_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "hostile-reduce": (_hostile, "mkdir) besides tensors and plain data, so it was refused unopened"),
    "hostile-object": (lambda p: torch.save({"x": Plain()}, p), "Plain) besides tensors and plain data"),
    "corrupt-bytes": (lambda p: p.write_bytes(b"\x80\x02garbage" * 20), "not a weights-only PyTorch file"),
    "truncated-zip": (lambda p: p.write_bytes(_torch_bytes({"a": torch.zeros(8)})[:60]), "the file is corrupt"),
    "a-list": (lambda p: torch.save([torch.zeros(2)], p), "it holds a list, expected a dict"),
    "not-tensors": (lambda p: torch.save({"features.0.0.weight": [1.0, 2.0]}, p),
                    "1 entry not a named tensor: 'features.0.0.weight': list"),
    "no-features": (lambda p: torch.save({"fc.weight": torch.zeros(2, 2)}, p),
                    "no complete mobilenet_v3_large feature weights"),
}


def _torch_bytes(obj: Any) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize("case", sorted(PRETRAINED_CASES))
def test_bad_pretrained_file_is_one_clear_error(case: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    make, expected = PRETRAINED_CASES[case]
    evil = tmp_path / "EVIL.pt"
    make(evil)
    rc, err = _cli(capsys, tmp_path, "--pretrained", str(evil))
    _assert_one_clear_error(rc, err, f"cannot use --pretrained {evil}: ", expected)
    assert not (tmp_path / "pwned").exists()  # the payload never ran


def test_missing_pretrained_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _cli(capsys, tmp_path, "--pretrained", str(tmp_path / "nowhere.pt"))
    _assert_one_clear_error(rc, err, "cannot use --pretrained", "no such file")


def test_matching_pretrained_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "imagenet.pt"
    torch.save(build_model().state_dict(), path)
    assert load_pretrained(build_model(), path) == []
    torch.save({"state_dict": {k: v for k, v in build_model().state_dict().items() if k.startswith("features.")}},
               path)
    assert all(name.startswith("classifier.") for name in load_pretrained(build_model(), path))


# --- --resume --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def valid_state() -> dict[str, Any]:
    """A state as fit() saves it after an epoch of a default (EMA) run at 32 px."""
    model, ema, opt, sched = build_run(TrainConfig(input_size=32), torch.device("cpu"))
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "epoch": 1, "best": [0.25, 0.5], "stale": 0, "ema": ema.state_dict()}


def _with(state: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``state`` with the entry at "a/b/c" replaced ("DELETE" removes it)."""
    out = dict(state)
    node, keys = out, path.split("/")
    for key in keys[:-1]:
        key = int(key) if isinstance(node, list) else key
        node[key] = child = (list(node[key]) if isinstance(node[key], list) else dict(node[key]))
        node = child
    last = int(keys[-1]) if isinstance(node, list) else keys[-1]
    if value == "DELETE":
        del node[last]
    else:
        node[last] = value
    return out


def _lbp_model_state() -> dict[str, torch.Tensor]:
    return build_model(lbp_grid=2).state_dict()


RESUME_CASES: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "not-a-dict": (lambda s: [1, 2, 3], "not a training state (it holds a list"),
    "missing-keys": (lambda s: {"model": s["model"]}, "not a training state (no 'optimizer', 'scheduler', 'epoch'"),
    "epoch-is-text": (lambda s: _with(s, "epoch", "3"), "'epoch' is a str, expected int"),
    "best-not-numbers": (lambda s: _with(s, "best", ["a", "b"]), "'best' is ['a', 'b'], expected two or three numbers"),
    "lrs-not-a-list": (lambda s: _with(s, "lrs", "fast"), "'lrs' is a str, expected list or tuple"),
    "lrs-not-positive": (lambda s: _with(s, "lrs", [1e-3, -1.0]), "'lrs' holds something other than positive numbers"),
    "model-from-other-settings": (lambda s: _with(s, "model", _lbp_model_state()),
                                  "does not match this model (4 unexpected keys (texture_proj.0.bias, "),
    "model-missing-keys": (lambda s: _with(s, "model/features.0.0.weight", "DELETE"),
                           "1 missing key (features.0.0.weight)"),
    "model-shapes": (lambda s: _with(s, "model/classifier.3.weight", torch.zeros(2, 1280)),
                     "1 shape mismatch (classifier.3.weight: expected [1, 1280], got [2, 1280])"),
    "model-not-tensors": (lambda s: _with(s, "model/classifier.3.bias", [0.0]),
                          "1 value not a tensor (classifier.3.bias: list)"),
    "ema-mismatch": (lambda s: _with(s, "ema/n_averaged", "DELETE"), "weight average (ema) does not match"),
    "optimizer-params": (lambda s: _with(s, "optimizer/param_groups/0/params", [0, 1, 2]),
                         "parameter group 0 holds 3 parameters, this model "),
    "optimizer-state-shapes": (lambda s: _with(s, "optimizer/state", {0: {"step": torch.tensor(1.0),
                                                                          "exp_avg": torch.zeros(3)}}),
                               "parameter 0 exp_avg: expected [16, 3, 3, 3], got [3]"),
    "optimizer-lr-text": (lambda s: _with(s, "optimizer/param_groups/0/lr", "fast"), "lr: 'fast'"),
    "scheduler-unknown-key": (lambda s: _with(s, "scheduler/step", 1), "scheduler state has unknown entry step"),
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_bad_resume_state_is_one_clear_error(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             valid_state: dict[str, Any]) -> None:
    make, expected = RESUME_CASES[case]
    run = tmp_path / "run"
    run.mkdir()
    save_state(run / "last_state.pt", make(valid_state))
    rc, err = _cli(capsys, tmp_path, "--resume")
    _assert_one_clear_error(rc, err, f"cannot resume from {run / 'last_state.pt'}: ", expected)


def test_hostile_resume_state_is_refused_unopened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model": Payload(tmp_path / "pwned")}, run / "last_state.pt")
    rc, err = _cli(capsys, tmp_path, "--resume")
    _assert_one_clear_error(rc, err, "cannot resume from", "refused unopened")
    assert not (tmp_path / "pwned").exists()


def test_valid_state_restores(tmp_path: Path, valid_state: dict[str, Any]) -> None:
    save_state(tmp_path / "last_state.pt", valid_state)
    model, ema, opt, sched = build_run(TrainConfig(input_size=32), torch.device("cpu"))
    # a two-number key, saved before the dev loss joined it, resumes with that term unknown
    assert restore_state(tmp_path / "last_state.pt", model, opt, sched, ema) == (2, (0.25, 0.5, float("inf")), 0)
    save_state(tmp_path / "last_state.pt", {**valid_state, "best": [0.25, 0.5, 0.125]})
    assert restore_state(tmp_path / "last_state.pt", model, opt, sched, ema)[1] == (0.25, 0.5, 0.125)


def test_describe_state_mismatch_names_and_counts() -> None:
    own = {f"w{i}": torch.zeros(2) for i in range(6)}
    given = {**{f"w{i}": torch.zeros(2) for i in range(1, 5)}, "w5": torch.zeros(3), "x": torch.zeros(1)}
    assert describe_state_mismatch(own, own) == ""
    assert describe_state_mismatch(own, given) == (
        "1 missing key (w0); 1 unexpected key (x); 1 shape mismatch (w5: expected [2], got [3])")
    text = describe_state_mismatch(own, {})
    assert text == "6 missing keys (w0, w1, w2, ... 3 more)"


# --- dataset folders with links --------------------------------------------------------------------------

def _symlink(link: Path, target: str) -> None:
    try:
        link.symlink_to(target)
    except (OSError, NotImplementedError):
        pytest.skip("symlinks are not available here")


def test_symlink_loops_and_dangling_links_are_listed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "data"
    for rel in ("data/live/alice_1.jpg", "data/live/sub/bob_1.jpg", "data/print/alice_2.png",
                "elsewhere/carol_1.jpg"):
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


def test_skipped_files_are_listed_and_left_out_of_the_summary(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = _tiny_set(tmp_path / "data")
    rc = main(["--data", f"cropped:{data}", "--out-dir", str(tmp_path / "run"), "--device", "cpu",
               "--input-size", "32", "--epochs", "1", "--batch-size", "8", "--workers", "0", "--ema-decay", "0",
               "--dev-groups", "subj1", "--cache-dir", str(tmp_path / "cache"), "--no-install"])
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


def test_a_dev_split_left_empty_by_skipped_files_is_an_error(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = _tiny_set(tmp_path / "data")
    (data / "live" / "subj2_x.jpg").write_bytes(b"broken")
    rc, err = _cli(capsys, tmp_path, "--data", f"cropped:{data}", "--dev-groups", "subj2")
    _assert_one_clear_error(rc, err, "no usable dev data: all 1 dev file(s) were skipped", "skipped.csv",
                            only=False)
    assert (tmp_path / "run" / "skipped.csv").is_file()
