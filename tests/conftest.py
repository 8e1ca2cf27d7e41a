"""Fixtures every layer shares: a user data folder of its own per test, the bundled sample video as the
camera, a small untrained model; torch on one CPU thread, no GPU, and no real camera ever opened.

Layers: ``tests/core`` and ``tests/training`` need no Qt (CI runs them once with PyQt6 blocked),
``tests/gui`` drives the window with pytest-qt, offscreen. Shared fakes: :mod:`studio_fakes`.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["CUDA_VISIBLE_DEVICES"] = ""  # device "auto" means the CPU in tests, on any machine

import pytest
import torch

from liveness_app.core import camera
from studio_fakes import make_checkpoint

ROOT = Path(__file__).resolve().parents[1]
# One intra-op thread: on a 2-core CPU, 2 torch threads next to the capture and Qt threads oversubscribe
# it (measured by the project's benchmark), and tests must not depend on the machine's core count.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user data folder, so nothing touches the real one."""
    home = tmp_path / "user-home"
    monkeypatch.setenv("LIVENESS_STUDIO_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _shared_onnx_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One ONNX cache for the whole run: the auto backend exports each test checkpoint once (seconds),
    not once per test (every test has its own user folder)."""
    from liveness_app import paths

    cache = tmp_path_factory.getbasetemp() / "onnx-cache"
    cache.mkdir(exist_ok=True)
    monkeypatch.setattr(paths, "onnx_cache_dir", lambda: cache)
    return cache


class _NoRealCamera:
    """Stands in for :class:`camera.CameraSource`: a test never probes a real camera index."""

    def __init__(self, index: int, *args: object, **kwargs: object) -> None:
        raise camera.CameraUnavailableError(f"No camera found at index {index} (tests never open a real camera)")


@pytest.fixture(autouse=True)
def _no_real_cameras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(camera, "CameraSource", _NoRealCamera)


@pytest.fixture(scope="session")
def sample_video() -> Path:
    return ROOT / "assets" / "sample.mp4"


@pytest.fixture(scope="session")
def detector_path() -> Path:
    return ROOT / "assets" / "face_detection_short_range.tflite"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("models") / "tiny.pt", name="tiny")
