"""Presentation-attack-detection error rates (ISO/IEC 30107-3) and the curves they trace.

Conventions used throughout :mod:`training.eval`:

* a *score* is the model's probability that a sample is LIVE (bona fide);
* a sample is accepted as live when ``score >= threshold``;
* a *label* is a string per sample: ``"live"`` (exactly, :data:`liveness_app.core.sessions.LIVE`) for bona fide,
  anything else (``"print"``, ``"replay"``, ``"mask"``, ...) names an attack type;
* ``is_live`` arrays are booleans (or 0/1), True for bona fide.

Terminology: APCER (attack presentation classification error rate) is the fraction of one attack
type's samples accepted as live; BPCER (bona fide presentation classification error rate) is the
fraction of live samples rejected.  FAR/FRR are the same two errors with all attack types pooled.
Undefined quantities (e.g. BPCER without live samples) are reported as ``None`` so that results stay
JSON-serialisable.

Here: the input checks, the rates at one threshold (APCER per attack type, BPCER, ACER, HTER, FAR/FRR), the
curves (ROC, DET) and the EER. The full report built from them is :mod:`training.eval.metrics`; how a
threshold is chosen is :mod:`training.eval.thresholds`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, det_curve, roc_curve

from liveness_app.core.sessions import LIVE

LIVE_LABEL = LIVE  # the name training.eval.plots imports
EPS = 1e-9
PROB_CLIP = 1e-6  # P(live) kept this far from 0 and 1 where a logit or a log is taken


def check_scores(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """``scores`` as a flat float64 array; ValueError when empty or not all finite."""
    arr = np.asarray(scores, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError("no scores given: the input is empty")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{bad} score(s) are NaN or infinite; scores must be finite numbers")
    return arr


def check_pair(
    scores: Sequence[float] | np.ndarray, other: Sequence[Any] | np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Checked scores and ``other`` (labels or flags, ``name`` in errors) as flat arrays of one length."""
    s = check_scores(scores)
    o = np.asarray(other).ravel()
    if o.shape[0] != s.shape[0]:
        raise ValueError(f"{s.shape[0]} scores but {o.shape[0]} {name}")
    return s, o


def _rate(errors: np.ndarray) -> float | None:
    """Mean of a boolean error array, or None when it is empty (rate undefined)."""
    return float(np.mean(errors)) if errors.size else None


def live_mask(labels: Sequence[str] | np.ndarray) -> np.ndarray:
    """Boolean array, True where the label is :data:`~liveness_app.core.sessions.LIVE`."""
    return np.array([str(lab) == LIVE for lab in np.asarray(labels).ravel()], dtype=bool)


def apcer_bpcer(
    scores: Sequence[float] | np.ndarray, labels: Sequence[str] | np.ndarray, threshold: float
) -> tuple[dict[str, float], float | None]:
    """APCER per attack type and BPCER at ``threshold``.

    Returns ``(apcer, bpcer)`` where ``apcer[attack_type]`` is the fraction of that attack type's
    samples with ``score >= threshold`` (wrongly accepted as live) and ``bpcer`` the fraction of live
    samples with ``score < threshold`` (wrongly rejected); ``bpcer`` is None without live samples.
    """
    s, lab = check_pair(scores, labels, "labels")
    lab = np.array([str(x) for x in lab], dtype=object)
    accepted = s >= threshold
    live = lab == LIVE
    apcer = {str(t): float(np.mean(accepted[lab == t])) for t in sorted(set(lab[~live].tolist()))}
    return apcer, _rate(~accepted[live])


def acer(scores: Sequence[float] | np.ndarray, labels: Sequence[str] | np.ndarray, threshold: float) -> float | None:
    """Average classification error rate: ``(max_t APCER_t + BPCER) / 2``.

    Following ISO/IEC 30107-3 the APCER term is that of the *worst* (highest-APCER) attack type,
    not an average over attack types.  None when there are no live or no attack samples.
    """
    apcer, bpcer = apcer_bpcer(scores, labels, threshold)
    if not apcer or bpcer is None:
        return None
    return (max(apcer.values()) + bpcer) / 2.0


def far_frr(is_live: np.ndarray, accepted: np.ndarray) -> tuple[float | None, float | None]:
    """Pooled (FAR, FRR) of accept decisions; each None when there is no attack / no live sample."""
    cm = confusion_matrix(is_live.astype(int), accepted.astype(int), labels=[0, 1])
    n_attack, n_live = cm[0].sum(), cm[1].sum()
    far = float(cm[0, 1] / n_attack) if n_attack else None
    frr = float(cm[1, 0] / n_live) if n_live else None
    return far, frr


def hter(scores: Sequence[float] | np.ndarray, labels: Sequence[str] | np.ndarray, threshold: float) -> float | None:
    """Half total error rate ``(FAR + FRR) / 2`` with all attack types pooled into FAR.

    None when there are no live or no attack samples.
    """
    s, lab = check_pair(scores, labels, "labels")
    far, frr = far_frr(live_mask(lab), s >= threshold)
    return None if far is None or frr is None else (far + frr) / 2.0


def _check_binary(
    scores: Sequence[float] | np.ndarray, is_live: Sequence[bool] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    s, y = check_pair(scores, is_live, "is_live flags")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError("both live and attack samples are needed (only one class present)")
    return s, y


def roc_points(
    scores: Sequence[float] | np.ndarray,
    is_live: Sequence[bool] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve ``(fpr, tpr, thresholds)`` with live as the positive class.

    ``fpr`` is the pooled APCER (FAR) and ``tpr`` is ``1 - BPCER``; thresholds are decreasing and the
    first one is ``inf`` (nothing accepted).  Every distinct score is kept as an operating point.
    """
    s, y = _check_binary(scores, is_live)
    return roc_curve(y.astype(int), s, drop_intermediate=False)


def det_points(
    scores: Sequence[float] | np.ndarray,
    is_live: Sequence[bool] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DET curve ``(apcer, bpcer, thresholds)`` with all attack types pooled.

    Meant for plotting on normal-deviate axes, i.e. ``scipy.stats.norm.ppf`` of both rates
    (clip them away from 0 and 1 first).  Uses :func:`sklearn.metrics.det_curve`, which keeps only
    the part of the curve where both rates change.
    """
    s, y = _check_binary(scores, is_live)
    apcer, bpcer, thr = det_curve(y.astype(int), s)
    return apcer, bpcer, thr


def eer(
    scores: Sequence[float] | np.ndarray,
    is_live: Sequence[bool] | np.ndarray,
) -> tuple[float, float]:
    """Equal error rate and its threshold, from the ROC curve.

    Finds the first ROC operating point where FRR (= 1 - tpr) drops to or below FAR (= fpr) and
    linearly interpolates between it and the previous point to the exact crossing FAR == FRR.  The
    threshold is interpolated the same way (falling back to the operating point's own threshold when
    the previous one is the artificial ``inf``).  Raises ValueError with only one class present.
    """
    fpr, tpr, thr = roc_points(scores, is_live)
    diff = (1.0 - tpr) - fpr  # starts at +1 (nothing accepted), ends at -1 (everything accepted)
    i = int(np.argmax(diff <= 0))
    if diff[i] == 0 or i == 0:
        return float(fpr[i]), float(thr[i])
    t = diff[i - 1] / (diff[i - 1] - diff[i])
    rate = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    if np.isfinite(thr[i - 1]):
        threshold = thr[i - 1] + t * (thr[i] - thr[i - 1])
    else:
        threshold = thr[i]
    return float(rate), float(threshold)
