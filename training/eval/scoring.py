"""Scoring cached face crops: the training side of the one scoring path.

Every place in training that needs P(live) of crops (dev evaluation each epoch, threshold calibration,
cross-validation, ``liveness-eval``, adaptation) calls :func:`score_entries`, which prepares each crop
as the app does (:class:`~.frames.CropDataset`, the model's preprocessing) and scores through
:func:`liveness_app.core.backends.torch_scorer.score_tensor`, the function behind the app's scorer: fp32, eval mode.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from liveness_app.core.model import LivenessNet
from liveness_app.core.preprocess import PreprocessSpec
from liveness_app.core.backends.torch_scorer import score_tensor

from training.data.frames import CropDataset, Entry
from training.fit.prepare import CACHE_MARGIN_EXTRA


def score_entries(model: LivenessNet, spec: PreprocessSpec, entries: Sequence[Entry], device: torch.device,
                  extra: float = CACHE_MARGIN_EXTRA, batch_size: int = 64, embeddings: bool = False,
                  workers: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """P(live) for every entry, in order, and (``embeddings``) the classifier's input vectors; the model
    is put in eval mode (BatchNorm running statistics, no dropout). ``workers``: DataLoader processes
    (a training run passes its own)."""
    model.eval()
    loader = DataLoader(CropDataset(entries, spec, extra, train=False), batch_size=batch_size,
                        num_workers=workers, pin_memory=device.type == "cuda")
    scores, embeds = [], []
    for x, _, _ in loader:
        s, e = score_tensor(model, x.to(device, memory_format=torch.channels_last, non_blocking=True), embeddings)
        scores.append(s)
        if e is not None:
            embeds.append(e)
    if not scores:
        return np.zeros(0, np.float32), (np.zeros((0, 0), np.float32) if embeddings else None)
    return np.concatenate(scores), (np.concatenate(embeds) if embeddings else None)
