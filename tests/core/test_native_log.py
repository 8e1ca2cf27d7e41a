"""The face detector's native chatter stays off the terminal; anything else written meanwhile gets through
(issue 25, item 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from liveness_app.core.native_log import pass_on, quiet_native_log

ROOT = Path(__file__).resolve().parents[2]

DETECT = """
import numpy as np
from liveness_app import paths
from liveness_app.core.face import FaceDetector
with FaceDetector(paths.default_detector_path()) as detector:
    for t in range(3):
        detector.detect(np.zeros((240, 320, 3), np.uint8), t)
print("done")
"""


def test_creating_using_and_closing_a_detector_prints_nothing() -> None:
    """In a fresh process: the INFO lines on creation and closing and the once-per-process W0000 line of the
    first detection (mediapipe 1.2 wrote 8 lines here)."""
    proc = subprocess.run([sys.executable, "-c", DETECT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == "done\n", proc.stderr
    assert proc.stderr == ""


def test_what_is_not_chatter_reaches_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with quiet_native_log():
        os.write(
            2,
            b"INFO: [environment.cc:36] Creating LiteRT environment with options\n"
            b"WARNING: Logging before InitGoogle() is written to STDERR\n"
            b"W0000 00:00:1796559621.035725    3736 inference_runner_litert.cc:1433] Input tensor memory\n"
            b"I0000 00:00:1796559621.035725    3736 gl_context.cc:1] loaded\n"
            b"E0000 00:00:1796559621.035725    3736 calculator_graph.cc:1] a real error\n"
            b"Traceback (most recent call last): a Python thread's\n",
        )
        print("stdout is untouched")
    out, err = capfd.readouterr()
    assert out == "stdout is untouched\n"
    assert err.splitlines() == [
        "E0000 00:00:1796559621.035725    3736 calculator_graph.cc:1] a real error",
        "Traceback (most recent call last): a Python thread's",
    ]


def test_an_error_inside_still_restores_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), quiet_native_log():
        raise RuntimeError("detector failed")
    os.write(2, b"after\n")
    assert pass_on(b"INFO: x\nkept\n") == b"kept\n"
    assert capfd.readouterr().err == "after\nkept\n"
