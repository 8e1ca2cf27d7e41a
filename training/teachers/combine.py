"""Several teachers' P(live) -> one soft target per crop, by a rule fitted on dev groups only.

Rules (``RULES``), all working on the teachers' logits ``z = log(p / (1 - p))`` (clipped to +-12):

- ``mean``: the plain average of the probabilities (nothing fitted);
- ``logit_mean``: the average of the logits (nothing fitted);
- ``calibrated_mean``: each teacher first calibrated on dev by its own logistic fit ``a_k z_k + b_k``
  (Platt scaling: a per-teacher temperature ``1 / a_k`` and shift), then averaged;
- ``stack``: one logistic regression over all teachers' logits, fitted on dev (weights and bias);
- ``best``: the one teacher with the highest dev AUC, as it is.

The fitted rule is kept as plain numbers (``weights`` per teacher on the logits, ``bias``, ``kind``) so a
model's metadata can record exactly how its soft targets were made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

RULES = ("mean", "logit_mean", "calibrated_mean", "stack", "best")
LOGIT_CLIP = 12.0


def logits(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.clip(np.log(p / (1 - p)), -LOGIT_CLIP, LOGIT_CLIP)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class Combiner:
    """A fitted rule: P(live) = mean of probabilities (``kind`` "mean") or sigmoid(z @ weights + bias)."""

    rule: str
    names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float = 0.0
    kind: str = "logit"  # "mean": average of probabilities; "logit": a linear rule on the logits
    dev_auc: dict[str, float] = field(default_factory=dict)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64).reshape(-1, len(self.names))
        if self.kind == "mean":
            return p @ np.asarray(self.weights)
        return _sigmoid(logits(p) @ np.asarray(self.weights) + self.bias)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "teachers": list(self.names),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "kind": self.kind,
            "dev_auc": {k: round(v, 4) for k, v in self.dev_auc.items()},
        }


def _auc(scores: np.ndarray, live: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(live, scores)) if 0 < live.sum() < len(live) else float("nan")


def _logistic(z: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(z, live)
    return fit.coef_[0].astype(np.float64), float(fit.intercept_[0])


def fit_combiner(rule: str, names: Sequence[str], p_dev: np.ndarray, live_dev: Sequence[bool] | np.ndarray) -> Combiner:
    """The ``rule`` fitted on dev scores ``p_dev`` (crops x teachers) and their labels."""
    if rule not in RULES:
        raise ValueError(f"unknown teacher combination {rule!r}; one of {', '.join(RULES)}")
    names = tuple(names)
    p = np.asarray(p_dev, dtype=np.float64).reshape(-1, len(names))
    live = np.asarray(live_dev, dtype=bool)
    k = len(names)
    aucs = {n: _auc(p[:, i], live) for i, n in enumerate(names)}
    if rule == "mean":
        return Combiner(rule, names, (1.0 / k,) * k, kind="mean", dev_auc=aucs)
    if rule == "logit_mean":
        return Combiner(rule, names, (1.0 / k,) * k, dev_auc=aucs)
    if 0 in (live.sum(), (~live).sum()):
        raise ValueError(f"fitting '{rule}' needs live and attack dev crops")
    z = logits(p)
    if rule == "best":
        best = int(np.nanargmax([aucs[n] for n in names]))
        return Combiner(rule, names, tuple(float(i == best) for i in range(k)), dev_auc=aucs)
    if rule == "stack":
        w, b = _logistic(z, live)
        return Combiner(rule, names, tuple(w), b, dev_auc=aucs)
    fits = [_logistic(z[:, [i]], live) for i in range(k)]  # calibrated_mean
    return Combiner(rule, names, tuple(float(w[0]) / k for w, _ in fits), sum(b for _, b in fits) / k, dev_auc=aucs)
