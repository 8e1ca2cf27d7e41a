"""``liveness-train`` as the training tests run it when they expect it to refuse: a tiny CPU config, and the
check that a refusal is one clear error line (exit status 2, no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.__main__ import main


def tiny_cli_args(tmp_path: Path) -> list[str]:
    """The options of a tiny CPU run in ``tmp_path`` (run and cache folders there, nothing installed)."""
    fixed = "--device cpu --input-size 32 --epochs 1 --workers 0 --no-install".split()
    return ["--out-dir", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache"), *fixed]


def run_train_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, str]:
    """Run ``liveness-train`` on a tiny CPU config; (exit status, stderr)."""
    data = [] if "--data" in args else ["--data", f"cropped:{tmp_path / 'no-data'}"]
    rc = main(data + tiny_cli_args(tmp_path) + list(args))
    return rc, capsys.readouterr().err


def assert_one_clear_error(rc: int, err: str, starts: str, *needles: str, only: bool = True) -> None:
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
