"""What every scoring backend returns (no torch here: the ONNX Runtime backend uses it too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class ScoreOutput:
    """Scores (P(live)) per face, and Grad-CAM maps in [0, 1] (N x h x w, feature resolution) if asked."""

    scores: np.ndarray
    cams: np.ndarray | None
    # ms: "model" (forward; with ONNX Runtime, the map too), "gradcam" (the map's extra cost, torch only)
    timings: dict[str, float] = field(default_factory=dict)


class Scorer(Protocol):
    """A model ready to score on one device: :class:`.scorer.LivenessScorer` (PyTorch) or
    :class:`.onnx_backend.OnnxScorer` (ONNX Runtime)."""

    backend: str  # "torch" or "onnx"

    @property
    def device_type(self) -> str: ...  # "cpu" or "cuda"

    def describe(self) -> str: ...  # status-bar label, e.g. "cpu x1"

    def __call__(self, batch: np.ndarray, with_cam: bool = False, threshold: float = 0.5) -> ScoreOutput: ...


class ScoreRangeError(RuntimeError):
    """A model gave something other than one probability per face: it cannot be trusted to score."""


def check_scores(scores: np.ndarray, n: int) -> np.ndarray:
    """``scores`` as float32 when they are ``n`` finite probabilities; :class:`ScoreRangeError` otherwise
    (a graph that answered sensibly on its trial input may still give 22.8 on a real face)."""
    out = np.asarray(scores, dtype=np.float32).reshape(-1)
    if out.shape != (n,) or not np.all(np.isfinite(out)) or out.min(initial=0.0) < 0.0 or out.max(initial=0.0) > 1.0:
        shown = ", ".join(f"{v:.3g}" for v in out[:4])
        raise ScoreRangeError(
            f"the model gave {out.size} score(s) ({shown}) for {n} face(s), not probabilities "
            "in 0..1; scoring stopped (choose another model)"
        )
    return out
