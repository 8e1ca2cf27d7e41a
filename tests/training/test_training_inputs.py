"""Untrusted training inputs: hostile or broken --pretrained and --resume files. Each gives a clear message
(the CLI: one ``liveness-train: error:`` line, exit status 2, no traceback), and a hostile file's payload never
runs. (Dataset folders with broken links and unusable files: test_skipped_files.py.)"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from train_cli import assert_one_clear_error, run_train_cli

from liveness_app.core.model import build_model
from training.config import TrainConfig
from training.fit.checkpoint import describe_state_mismatch, load_pretrained
from training.fit.loop import build_run
from training.fit.resume import restore_state, save_state


class Payload:
    """What a hostile checkpoint carries: unpickling it would create ``marker`` (code execution)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return os.mkdir, (str(self.marker),)


class Plain:
    """Any class at all: a weights-only load refuses to build it."""


# --- --pretrained ----------------------------------------------------------------------------------------


def _hostile(path: Path) -> None:
    torch.save({"features.0.0.weight": torch.zeros(1), "x": Payload(path.parent / "pwned")}, path)


PRETRAINED_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "hostile-reduce": (_hostile, "mkdir) besides tensors and plain data, so it was refused unopened"),
    "hostile-object": (lambda p: torch.save({"x": Plain()}, p), "Plain) besides tensors and plain data"),
    "corrupt-bytes": (lambda p: p.write_bytes(b"\x80\x02garbage" * 20), "not a weights-only PyTorch file"),
    "truncated-zip": (lambda p: p.write_bytes(_torch_bytes({"a": torch.zeros(8)})[:60]), "the file is corrupt"),
    "a-list": (lambda p: torch.save([torch.zeros(2)], p), "it holds a list, expected a dict"),
    "not-tensors": (
        lambda p: torch.save({"features.0.0.weight": [1.0, 2.0]}, p),
        "1 entry not a named tensor: 'features.0.0.weight': list",
    ),
    "no-features": (
        lambda p: torch.save({"fc.weight": torch.zeros(2, 2)}, p),
        "no complete mobilenet_v3_large feature weights",
    ),
}


def _torch_bytes(obj: Any) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@pytest.mark.parametrize("case", sorted(PRETRAINED_CASES))
def test_bad_pretrained_file_is_one_clear_error(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, expected = PRETRAINED_CASES[case]
    evil = tmp_path / "EVIL.pt"
    make(evil)
    rc, err = run_train_cli(capsys, tmp_path, "--pretrained", str(evil))
    assert_one_clear_error(rc, err, f"cannot use --pretrained {evil}: ", expected)
    assert not (tmp_path / "pwned").exists()  # the payload never ran


def test_missing_pretrained_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run_train_cli(capsys, tmp_path, "--pretrained", str(tmp_path / "nowhere.pt"))
    assert_one_clear_error(rc, err, "cannot use --pretrained", "no such file")


def test_matching_pretrained_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "imagenet.pt"
    torch.save(build_model().state_dict(), path)
    assert load_pretrained(build_model(), path) == []
    torch.save({"state_dict": {k: v for k, v in build_model().state_dict().items() if k.startswith("features.")}}, path)
    assert all(name.startswith("classifier.") for name in load_pretrained(build_model(), path))


# --- --resume --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_state() -> dict[str, Any]:
    """A state as fit() saves it after an epoch of a default (EMA) run at 32 px."""
    model, ema, opt, sched = build_run(TrainConfig(input_size=32), torch.device("cpu"))
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": 1,
        "best": [0.25, 0.5],
        "stale": 0,
        "ema": ema.state_dict(),
    }


def _with(state: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``state`` with the entry at "a/b/c" replaced ("DELETE" removes it)."""
    out = dict(state)
    node, keys = out, path.split("/")
    for key in keys[:-1]:
        key = int(key) if isinstance(node, list) else key
        node[key] = child = list(node[key]) if isinstance(node[key], list) else dict(node[key])
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
    "model-from-other-settings": (
        lambda s: _with(s, "model", _lbp_model_state()),
        "does not match this model (4 unexpected keys (texture_proj.0.bias, ",
    ),
    "model-missing-keys": (
        lambda s: _with(s, "model/features.0.0.weight", "DELETE"),
        "1 missing key (features.0.0.weight)",
    ),
    "model-shapes": (
        lambda s: _with(s, "model/classifier.3.weight", torch.zeros(2, 1280)),
        "1 shape mismatch (classifier.3.weight: expected [1, 1280], got [2, 1280])",
    ),
    "model-not-tensors": (
        lambda s: _with(s, "model/classifier.3.bias", [0.0]),
        "1 value not a tensor (classifier.3.bias: list)",
    ),
    "ema-mismatch": (lambda s: _with(s, "ema/n_averaged", "DELETE"), "weight average (ema) does not match"),
    "optimizer-params": (
        lambda s: _with(s, "optimizer/param_groups/0/params", [0, 1, 2]),
        "parameter group 0 holds 3 parameters, this model ",
    ),
    "optimizer-state-shapes": (
        lambda s: _with(s, "optimizer/state", {0: {"step": torch.tensor(1.0), "exp_avg": torch.zeros(3)}}),
        "parameter 0 exp_avg: expected [16, 3, 3, 3], got [3]",
    ),
    "optimizer-lr-text": (lambda s: _with(s, "optimizer/param_groups/0/lr", "fast"), "lr: 'fast'"),
    "scheduler-unknown-key": (lambda s: _with(s, "scheduler/step", 1), "scheduler state has unknown entry step"),
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_bad_resume_state_is_one_clear_error(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], valid_state: dict[str, Any]
) -> None:
    make, expected = RESUME_CASES[case]
    run = tmp_path / "run"
    run.mkdir()
    save_state(run / "last_state.pt", make(valid_state))
    rc, err = run_train_cli(capsys, tmp_path, "--resume")
    assert_one_clear_error(rc, err, f"cannot resume from {run / 'last_state.pt'}: ", expected)


def test_hostile_resume_state_is_refused_unopened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"model": Payload(tmp_path / "pwned")}, run / "last_state.pt")
    rc, err = run_train_cli(capsys, tmp_path, "--resume")
    assert_one_clear_error(rc, err, "cannot resume from", "refused unopened")
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
        "1 missing key (w0); 1 unexpected key (x); 1 shape mismatch (w5: expected [2], got [3])"
    )
    text = describe_state_mismatch(own, {})
    assert text == "6 missing keys (w0, w1, w2, ... 3 more)"
