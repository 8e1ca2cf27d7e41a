"""Scoring cached face crops: the training side of the one scoring path.

Every place in training that needs P(live) of crops (dev evaluation each epoch, threshold calibration,
cross-validation, ``liveness-eval``, adaptation) calls :func:`score_entries`, which prepares each crop
as the app does (:class:`~.frames.CropDataset`, the model's preprocessing) and scores it with the
function behind the app's scorer for that kind of model: a PyTorch network through
:func:`liveness_app.core.backends.torch_scorer.score_tensor` (fp32, eval mode), an ``.onnx`` export
through its ONNX Runtime session, the engine the app runs it in. :func:`open_model` opens either kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch
from torch.utils.data import DataLoader

from liveness_app.core.backends.onnx_scorer import OnnxScorer, load_onnx
from liveness_app.core.backends.torch_scorer import LivenessScorer, score_tensor
from liveness_app.core.device import select_device
from liveness_app.core.meta import ModelMeta
from liveness_app.core.model import LivenessNet, load_checkpoint
from liveness_app.core.preprocess import PreprocessSpec
from liveness_app.core.scores import Scorer, check_scores
from training.data.frames import CropDataset, Entry
from training.data.store import DecodedStore
from training.fit.prepare import CACHE_MARGIN_EXTRA

# What scores crops: a network being trained or loaded from a checkpoint, or an ONNX model in ONNX Runtime.
ScoringModel = Union[LivenessNet, OnnxScorer]


def open_model(path: Path, device: str = "auto") -> tuple[ScoringModel, ModelMeta, torch.device]:
    """A model file of either kind, its metadata and where it scores: a ``.pt`` checkpoint as a PyTorch
    network on ``device`` (as chosen by :func:`select_device`), an ``.onnx`` export in ONNX Runtime on the
    CPU (checked as the app checks it). :class:`~liveness_app.core.meta.ModelLoadError` for a bad file."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        scorer, meta, _ = load_onnx(path)
        return scorer, meta, torch.device("cpu")
    dev, _ = select_device(device)
    model, meta = load_checkpoint(path, dev)
    return model, meta, dev


def scorer_of(model: ScoringModel, device: torch.device) -> Scorer:
    """The app's scorer for ``model`` (P(live) and Grad-CAM of NCHW batches)."""
    return model if isinstance(model, OnnxScorer) else LivenessScorer(model, device)


def score_entries(
    model: ScoringModel,
    spec: PreprocessSpec,
    entries: Sequence[Entry],
    device: torch.device,
    extra: float = CACHE_MARGIN_EXTRA,
    batch_size: int = 64,
    embeddings: bool = False,
    workers: int = 0,
    store: DecodedStore | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """P(live) for every entry, in order, and (``embeddings``, PyTorch models only: an ONNX graph gives
    none, and None is returned) the classifier's input vectors. A network is put in eval mode (BatchNorm
    running statistics, no dropout). ``workers``: DataLoader processes (a training run passes its own);
    ``store``: the decoded crops (:mod:`training.data.store`), read instead of the PNGs where it has them."""
    onnx = isinstance(model, OnnxScorer)
    loader = DataLoader(
        CropDataset(entries, spec, extra, train=False, store=store),
        batch_size=batch_size,
        num_workers=workers,
        pin_memory=device.type == "cuda" and not onnx,
    )
    if isinstance(model, OnnxScorer):  # a file like any other: its scores are checked to be probabilities
        scores = [check_scores(model(x.numpy()).scores, len(x)) for x, _, _ in loader]
        return (np.concatenate(scores) if scores else np.zeros(0, np.float32)), None
    model.eval()
    scores, embeds = [], []
    for x, _, _ in loader:
        s, e = score_tensor(model, x.to(device, memory_format=torch.channels_last, non_blocking=True), embeddings)
        scores.append(s)
        if e is not None:
            embeds.append(e)
    if not scores:
        return np.zeros(0, np.float32), (np.zeros((0, 0), np.float32) if embeddings else None)
    return np.concatenate(scores), (np.concatenate(embeds) if embeddings else None)
