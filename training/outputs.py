"""What a training run leaves behind: the best model (calibrated on dev, with its ``training`` metadata),
its copy in the app's model folder, and the one-line summary of each epoch. Under torchrun only rank 0
calls these (``loop.fit``)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from liveness_app import paths
from liveness_app.core.files import atomic_copy
from liveness_app.core.preprocess import PreprocessSpec

from . import metrics as M
from .checkpoint import export_model, hardware
from .config import TrainConfig
from .frames import Entry
from .prepare import PreparedData


def spec_of(cfg: TrainConfig) -> PreprocessSpec:
    """The preprocessing a run trains with, and its model carries."""
    return PreprocessSpec(cfg.input_size, cfg.crop_margin, tuple(cfg.mean), tuple(cfg.std))


def summary(r: dict[str, Any]) -> str:
    """The line the CLI prints after an epoch."""
    f, v = r["dev"]["frame"], r["dev"].get("video", {})
    num = lambda x: float("nan") if x is None else x  # noqa: E731 (0.0 is a value, not a missing one)
    return (f"epoch {r['epoch']}: loss {r['train_loss']:.4f}, dev AUC {num(f['auc']):.4f} "
            f"EER {num(f['eer']):.4f} ACER {num(f['acer']):.4f} (video ACER {num(v.get('acer')):.4f}), "
            f"{r['images']} img in {r['seconds_train']} s")


def export_best(path: Path, model: torch.nn.Module, cfg: TrainConfig, data: PreparedData, dev: dict,
                dev_scores: np.ndarray, dev_entries: Sequence[Entry], epoch: int, run: dict[str, Any],
                t_start: float) -> None:
    """Best model so far, with the threshold calibrated on the dev groups (EER) and the BPCER<=5% one.
    ``run``: where it trained (``device``) and how many processes trained it (``world_size``,
    ``distributed``: backend, sync_bn, batches), copied into the ``training`` metadata."""
    cal = M.calibrate(dev_scores, [e.label for e in dev_entries])
    # the middle of the gap the EER threshold sits in: the same dev decisions, better on new faces
    threshold = M.centred_threshold(dev_scores, cal["eer_threshold"]) if cal["eer_threshold"] is not None else 0.5
    split = data.summary.get("split", "by group")
    training = {"recipe": cfg.to_dict(), "epoch": epoch, "data": data.summary, **run,
                "hardware": hardware(), "seconds": round(time.perf_counter() - t_start, 1),
                "calibration": {**cal, "chosen": "eer_threshold, centred in its gap (logit space)",
                                "threshold": threshold, "on": f"dev split ({split})"}}
    if cfg.init:
        training["fine_tuned_from"] = Path(cfg.init).name
    export_model(path, model, spec_of(cfg), threshold, name=cfg.name, training=training,
                 metrics={"dev": dev, "note": f"dev = held out from training, also used for calibration; split {split}"})


def install(best: Path, cfg: TrainConfig) -> Path | None:
    """Copy the best model into the app's model folder (unless ``--no-install``); the copy's path. Atomic: a
    run killed while installing leaves the previous model of that name whole, never a 0-byte file."""
    if not cfg.install:
        return None
    target = paths.user_models_dir() / f"{cfg.name}.pt"
    atomic_copy(best, target)
    return target
