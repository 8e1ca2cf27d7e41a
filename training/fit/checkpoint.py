"""The model files of a training run: the app-loadable model (the best one calibrated on dev, and its copy in
the app's model folder) and the backbone weights a run starts from (``--pretrained``).

The model file is :mod:`liveness_app.core.model`'s format (weights + metadata, loadable weights-only). Every
file read here is untrusted: it is loaded weights-only, its structure is checked against the model it goes
into, and anything wrong raises :class:`ModelLoadError` with a message that names the problem (never torch's
advice to load the file with ``weights_only=False``). The resumable training state is
:mod:`training.fit.resume`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from torch import nn

from liveness_app import paths
from liveness_app.core.device import cpu_model
from liveness_app.core.files import atomic_copy
from liveness_app.core.model import LivenessNet, ModelLoadError, ModelMeta, save_checkpoint
from liveness_app.core.preprocess import PreprocessSpec
from liveness_app.core.weights import _count, _names, describe_state_mismatch, read_weights_only
from training.config import TrainConfig, spec_of
from training.eval import thresholds as T

if TYPE_CHECKING:
    from training.data.frames import Entry
    from training.fit.prepare import PreparedData


def save_model(
    path: Path,
    model: LivenessNet,
    spec: PreprocessSpec,
    threshold: float,
    *,
    name: str,
    training: dict[str, Any],
    metrics: dict[str, Any],
) -> Path:
    """Write the model the app loads: weights, its construction arguments, preprocessing, calibrated
    threshold, data and metrics."""
    meta = ModelMeta(
        arch=model.arch,
        preprocessing=spec,
        threshold=float(threshold),
        model_args=dict(model.model_args),
        training=training,
        metrics=metrics,
        name=name,
    )
    save_checkpoint(Path(path), model, meta)
    return Path(path)


def _weights_of(data: Any, what: str) -> dict[str, torch.Tensor]:
    """The state dict in a loaded weights file (plain, or under "state_dict"), checked to be one."""
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise ModelLoadError(
            f"{what}: not a weights file (it holds a {type(data).__name__}, "
            "expected a dict of parameter names to tensors)"
        )
    bad = [
        f"{k!r}: {type(v).__name__}"
        for k, v in data.items()
        if not isinstance(k, str) or not isinstance(v, torch.Tensor)
    ]
    if bad:
        raise ModelLoadError(
            f"{what}: not a weights file ({_count(len(bad), 'entry', 'entries')} not a named tensor: {_names(bad)})"
        )
    return data


def load_pretrained(model: nn.Module, path: Path) -> list[str]:
    """Load backbone weights (torchvision's ImageNet file for the model's architecture, or a backbone
    distilled by :mod:`training.fit.distill`) from a local file, weights-only.

    Every ``features.*`` tensor of the model must be in the file with its shape: a backbone is never half
    loaded. Classifier tensors load where they match (ImageNet's 1000-class layer does not, and stays as
    initialised). Returns the names that were not loaded. Raises :class:`ModelLoadError` ("cannot use
    --pretrained PATH: ...") for a file that is unreadable, holds other objects, is not a dict of tensors,
    or lacks feature weights of this architecture.
    """
    what = f"cannot use --pretrained {path}"
    state = _weights_of(read_weights_only(Path(path), what), what)
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    backbone = {k: v for k, v in own.items() if k.startswith("features.")}
    if not set(backbone) <= set(usable):
        arch = getattr(model, "arch", type(model).__name__)
        raise ModelLoadError(
            f"{what}: no complete {arch} feature weights in this file "
            f"({describe_state_mismatch(backbone, {k: v for k, v in state.items() if k.startswith('features.')})})"
        )
    model.load_state_dict(usable, strict=False)
    return sorted(set(own) - set(usable))


def hardware() -> dict[str, Any]:
    """Where a model was trained, for its metadata."""
    info: dict[str, Any] = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "torch": torch.__version__}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def save_best(
    path: Path,
    model: LivenessNet,
    cfg: TrainConfig,
    data: PreparedData,
    dev: dict,
    dev_scores: np.ndarray,
    dev_entries: Sequence[Entry],
    epoch: int,
    run: dict[str, Any],
    t_start: float,
) -> None:
    """Best model so far, with the threshold calibrated on the dev groups (EER) and the BPCER<=5% one.
    ``run``: where it trained (``device``) and how many processes trained it (``world_size``,
    ``distributed``: backend, sync_bn, batches), copied into the ``training`` metadata."""
    cal = T.calibrate(dev_scores, [e.label for e in dev_entries])
    # the middle of the gap the EER threshold sits in: the same dev decisions, better on new faces
    threshold = T.centred_threshold(dev_scores, cal["eer_threshold"]) if cal["eer_threshold"] is not None else 0.5
    split = data.summary.get("split", "by group")
    training = {
        "recipe": cfg.to_dict(),
        "epoch": epoch,
        "data": data.summary,
        **run,
        "hardware": hardware(),
        "seconds": round(time.perf_counter() - t_start, 1),
        "calibration": {
            **cal,
            "chosen": "eer_threshold, centred in its gap (logit space)",
            "threshold": threshold,
            "on": f"dev split ({split})",
        },
    }
    if cfg.init:
        training["fine_tuned_from"] = Path(cfg.init).name
    save_model(
        path,
        model,
        spec_of(cfg),
        threshold,
        name=cfg.name,
        training=training,
        metrics={"dev": dev, "note": f"dev = held out from training, also used for calibration; split {split}"},
    )


def install(best: Path, cfg: TrainConfig) -> Path | None:
    """Copy the best model into the app's model folder (unless ``--no-install``); the copy's path. Atomic: a
    run killed while installing leaves the previous model of that name whole, never a 0-byte file."""
    if not cfg.install:
        return None
    target = paths.user_models_dir() / f"{cfg.name}.pt"
    atomic_copy(best, target)
    return target
