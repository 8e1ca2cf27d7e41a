"""The window without torch (what the lean bundle ships): driven in a process of its own, where torch,
torchvision and training are unimportable; see lean_window.py for what it checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_window_runs_on_onnx_runtime_alone(tmp_path: Path) -> None:
    env = {**os.environ, "LIVENESS_STUDIO_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("lean_window.py")), str(ROOT), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0 and "LEAN WINDOW OK" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
