"""Checkpoints of a training run: the app-loadable model file and the resumable training state.

The model file is :mod:`liveness_app.core.model`'s format (weights + metadata, loadable weights-only);
the training state adds optimizer, scheduler and progress, and is also made of plain types and tensors,
so resuming never unpickles arbitrary objects either.
"""
from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from liveness_app.core.model import LivenessNet, ModelLoadError, ModelMeta, save_checkpoint
from liveness_app.core.preprocess import PreprocessSpec


def export_model(path: Path, model: LivenessNet, spec: PreprocessSpec, threshold: float, *, name: str,
                 training: dict[str, Any], metrics: dict[str, Any]) -> Path:
    """Write the model the app loads: weights, its construction arguments, preprocessing, calibrated
    threshold, data and metrics."""
    meta = ModelMeta(arch="mobilenet_v3_large", preprocessing=spec, threshold=float(threshold),
                     model_args=dict(model.model_args), training=training, metrics=metrics, name=name)
    save_checkpoint(Path(path), model, meta)
    return Path(path)


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically write the resumable state (model, optimizer, scheduler, epoch, best so far)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure means the state cannot be resumed from
        raise ModelLoadError(f"cannot resume from {path}: {exc}") from exc


def load_pretrained(model: nn.Module, path: Path) -> list[str]:
    """Load ImageNet (or other) MobileNetV3-Large weights from a local file, weights-only.

    The classifier's last layer differs (1000 classes vs 1 logit) and is left as initialised; every other
    tensor must match in name and shape. Returns the names that were not loaded.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not any(k.startswith("features.") for k in usable):
        raise ModelLoadError(f"{path}: no MobileNetV3-Large feature weights in this file")
    model.load_state_dict(usable, strict=False)
    return sorted(set(own) - set(usable))


def hardware() -> dict[str, Any]:
    """Where a model was trained, for its metadata."""
    info: dict[str, Any] = {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                            "torch": torch.__version__}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
