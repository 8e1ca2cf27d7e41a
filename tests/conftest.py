"""Shared fixtures: the bundled sample video as the camera, a small untrained model on the CPU."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import torch

from liveness_app.core.model import ModelMeta, build_model, save_checkpoint
from liveness_app.core.preprocess import PreprocessSpec

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user data folder, so nothing touches the real one."""
    home = tmp_path / "user-home"
    monkeypatch.setenv("LIVENESS_STUDIO_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def sample_video() -> Path:
    return ROOT / "assets" / "sample.mp4"


@pytest.fixture(scope="session")
def detector_path() -> Path:
    return ROOT / "assets" / "face_detection_short_range.tflite"


def make_checkpoint(path: Path, input_size: int = 64, threshold: float = 0.5, seed: int = 0,
                    name: str = "") -> Path:
    """A small untrained model in the real checkpoint format (64 px input keeps tests fast)."""
    torch.manual_seed(seed)
    spec = PreprocessSpec(input_size, 0.25, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    meta = ModelMeta(arch="mobilenet_v3_large", preprocessing=spec, threshold=threshold, name=name,
                     training={"data": "none: untrained test model"})
    save_checkpoint(path, build_model(), meta)
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("models") / "tiny.pt", name="tiny")
