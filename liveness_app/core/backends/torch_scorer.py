"""The one scoring path: P(live) for a batch of prepared faces, in fp32, optionally with the classifier's
input vectors (embeddings) and Grad-CAM on the last feature block, from one forward pass.

The app (:class:`LivenessScorer`, through the pipeline), training's dev evaluation and calibration, and
``liveness-eval`` all score through :func:`score_tensor`, so a threshold calibrated on dev is applied
to exactly the numbers the app computes (no mixed precision anywhere).

The backbone (``model.features``, and the LBP texture branch when the model has one) runs once without
autograd; only the classifier head (global pool + MLP) is re-run with gradients. For the last feature
block this gives exactly the textbook Grad-CAM map (the gradient of the logit w.r.t. the block's
activations only flows through the head), at a few per cent of the cost of a full backward pass. The map explains the decision taken: the live logit when the
face is judged live, its negative when judged spoof.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..device import describe
from ..scores import ScoreOutput

if TYPE_CHECKING:
    from ..model import LivenessNet


@torch.no_grad()
def forward_parts(model: LivenessNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Last feature map, texture vector (None without LBP fusion) and logits (N,) of a batch already on
    the model's device, in fp32, without autograd. The model must be in eval mode."""
    features = model.features(x)
    texture = model.texture_features(x)
    return features, texture, model.head(features, texture)


@torch.no_grad()
def score_tensor(model: LivenessNet, x: torch.Tensor, embeddings: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """P(live) per row of a batch on the model's device and, if asked, the vector the classifier sees
    (pooled CNN features, + texture): the one way every part of the project scores."""
    features, texture, logits = forward_parts(model, x)
    scores = torch.sigmoid(logits).float().cpu().numpy()
    if not embeddings:
        return scores, None
    return scores, model.embed(features, texture).float().cpu().numpy()


class LivenessScorer:
    """Wraps a liveness model (:class:`~.model.LivenessNet`: ``features``, ``texture_features``, ``head``):
    batched P(live) and, optionally, Grad-CAM. Built once, reused."""

    def __init__(self, model: LivenessNet, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda":  # one input size for good: let cuDNN pick its fastest kernels once
            torch.backends.cudnn.benchmark = True
        # channels-last is markedly faster for MobileNet's depthwise convolutions on CPU.
        self.model = model.to(self.device).to(memory_format=torch.channels_last).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    backend = "torch"

    @property
    def device_type(self) -> str:
        return self.device.type

    def describe(self) -> str:
        """Status-bar label: where the model runs."""
        return describe(self.device)

    def __call__(self, batch: np.ndarray | torch.Tensor, with_cam: bool = False, threshold: float = 0.5) -> ScoreOutput:
        """Score an NCHW batch prepared by :mod:`liveness_app.core.preprocess`."""
        t0 = time.perf_counter()
        x = torch.as_tensor(batch).to(self.device, memory_format=torch.channels_last, non_blocking=True)
        features, texture, logits = forward_parts(self.model, x)
        scores = torch.sigmoid(logits).float().cpu().numpy()
        t1 = time.perf_counter()
        if not with_cam:
            return ScoreOutput(scores, None, {"model": (t1 - t0) * 1e3})
        feats = features.detach().float().requires_grad_(True)
        with torch.enable_grad():
            head_logits = self.model.head(feats, texture)
            sign = torch.where(torch.sigmoid(head_logits) >= threshold, 1.0, -1.0)
            (grads,) = torch.autograd.grad((head_logits * sign).sum(), feats)
        cams = _cam(feats.detach(), grads)
        t2 = time.perf_counter()
        return ScoreOutput(scores, cams, {"model": (t1 - t0) * 1e3, "gradcam": (t2 - t1) * 1e3})


def _cam(features: torch.Tensor, grads: torch.Tensor) -> np.ndarray:
    """Grad-CAM: channel weights = spatial mean of the gradient; ReLU; each map scaled to [0, 1]."""
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * features).sum(dim=1))
    peak = cam.flatten(1).max(dim=1).values.clamp_min(1e-8)
    return (cam / peak[:, None, None]).cpu().numpy().astype(np.float32)
