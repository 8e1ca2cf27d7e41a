"""Presentation-attack-detection metrics (ISO/IEC 30107-3).

Conventions used throughout this module:

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

The rates and curves themselves are computed in :mod:`training.error_rates` and re-exported here; this
module adds the thresholds, per-video scores, the full report (:func:`compute_all`) and calibration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import expit, logit
from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support, roc_auc_score

from liveness_app.core.sessions import LIVE

# Rates and curves live in training.error_rates; training.metrics is where callers find them.
from .error_rates import (
    acer,
    apcer_bpcer,
    check_pair,
    check_scores,
    det_points,
    eer,
    far_frr,
    hter,
    live_mask,
    roc_points,
)

__all__ = ["LIVE_LABEL", "acer", "apcer_bpcer", "calibrate", "centred_threshold", "compute_all", "det_points",
           "eer", "hter", "live_mask", "log_loss_live", "roc_points", "threshold_for_bpcer", "video_level"]

LIVE_LABEL = LIVE  # the name training.report imports
_EPS = 1e-9
_CLIP = 1e-6  # P(live) kept this far from 0 and 1 where a logit or a log is taken


def _num(x: Any) -> float | None:
    """A plain float, with NaN/None mapped to None (JSON-safe)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def log_loss_live(scores: Sequence[float] | np.ndarray, labels: Sequence[str] | np.ndarray) -> float:
    """Binary cross-entropy of P(live) ``scores`` against the labels (live = 1), clipped away from 0 and 1;
    +inf when there are no samples."""
    if len(scores) == 0:
        return float("inf")
    s, lab = check_pair(scores, labels, "labels")
    return float(log_loss(live_mask(lab).astype(int), np.clip(s, _CLIP, 1.0 - _CLIP), labels=[0, 1]))


def centred_threshold(scores: Sequence[float] | np.ndarray, threshold: float) -> float:
    """The same decisions as ``threshold``, from the middle of the gap it sits in: every t between the
    highest score below it and the lowest score at or above it accepts the same samples, and the middle
    transfers best to new data (an EER threshold on well separated scores sits on the lowest live score).
    The middle is taken in logit space, where the model's scores are linear: P(live) scores crowd near 0
    and 1, so the middle of a gap such as (0.5, 0.99) in probability (0.745) would sit far closer to the
    saturated side's bulk than to the other (measured on users' later sessions: docs/results/adapt-v4).
    """
    s = check_scores(scores)
    below, above = s[s < threshold], s[s >= threshold]
    if below.size == 0 or above.size == 0:
        return float(threshold)
    lo, hi = logit(np.clip([below.max(), above.min()], _CLIP, 1.0 - _CLIP))
    mid = float(expit((lo + hi) / 2.0))
    return mid if below.max() < mid <= above.min() else float(threshold)  # clipped ends: keep decisions


def logit_mean(a: float, b: float) -> float:
    """The threshold halfway between ``a`` and ``b`` in logit space (see :func:`centred_threshold`)."""
    lo, hi = logit(np.clip([a, b], _CLIP, 1.0 - _CLIP))
    return float(expit((lo + hi) / 2.0))


def threshold_for_bpcer(scores: Sequence[float] | np.ndarray, is_live: Sequence[bool] | np.ndarray,
                        target: float = 0.05) -> float:
    """The threshold that keeps BPCER <= ``target`` while minimising APCER.

    BPCER grows and APCER shrinks as the threshold rises, so this is the *highest* threshold whose
    BPCER is still within ``target``: with ``n`` live samples at most ``k = floor(target * n)`` of
    them may be rejected, so the answer is the ``(k+1)``-th lowest live score (accepted, since
    ``score >= threshold``).  Only live scores matter; attack samples may be absent.
    """
    if not 0.0 <= target < 1.0:
        raise ValueError(f"target BPCER must be in [0, 1), got {target}")
    s, y = check_pair(scores, is_live, "is_live flags")
    live = np.sort(s[y.astype(bool)])
    if live.size == 0:
        raise ValueError("no live samples: cannot choose a threshold for a BPCER target")
    k = int(math.floor(target * live.size + _EPS))
    return float(live[k])


def video_level(scores: Sequence[float] | np.ndarray, video_ids: Sequence[Any],
                labels: Sequence[str] | np.ndarray, how: str = "mean",
                ) -> tuple[np.ndarray, list[str], list[Any]]:
    """Aggregate frame scores per video.

    Returns ``(video_scores, video_labels, video_ids)`` in order of each video's first frame.  ``how``
    is ``"mean"`` or ``"median"``.  Raises ValueError if one video carries several labels.
    """
    if how not in ("mean", "median"):
        raise ValueError(f"how must be 'mean' or 'median', got {how!r}")
    s, lab = check_pair(scores, labels, "labels")
    ids = list(video_ids)
    if len(ids) != s.size:
        raise ValueError(f"{s.size} scores but {len(ids)} video ids")
    groups: dict[Any, list[int]] = {}
    for i, vid in enumerate(ids):
        groups.setdefault(vid, []).append(i)
    agg = np.mean if how == "mean" else np.median
    out_scores, out_labels = [], []
    for vid, idx in groups.items():
        vid_labels = {str(x) for x in lab[idx]}
        if len(vid_labels) > 1:
            raise ValueError(f"video {vid!r} has mixed labels {sorted(vid_labels)}")
        out_scores.append(float(agg(s[idx])))
        out_labels.append(vid_labels.pop())
    return np.array(out_scores), out_labels, list(groups)


def _separation_metrics(s: np.ndarray, live: np.ndarray) -> dict[str, Any]:
    """AUC and EER, or None with a note when only one class is present."""
    if live.all() or not live.any():
        only = "live" if live.all() else "attack"
        return {"auc": None, "eer": None, "eer_threshold": None,
                "notes": [f"only {only} samples present: AUC and EER are undefined"]}
    rate, thr = eer(s, live)
    return {"auc": float(roc_auc_score(live.astype(int), s)), "eer": rate, "eer_threshold": thr,
            "notes": []}


def _level_metrics(s: np.ndarray, labels: list[str], threshold: float) -> dict[str, Any]:
    """All metrics for one level (frames or videos)."""
    live = live_mask(labels)
    accepted = s >= threshold
    out = _separation_metrics(s, live)
    apcer, bpcer = apcer_bpcer(s, labels, threshold)
    far, frr = far_frr(live, accepted)
    prec, rec, f1, _ = precision_recall_fscore_support(
        live.astype(int), accepted.astype(int), labels=[1], zero_division=np.nan)
    counts = {t: int(sum(1 for x in labels if x == t)) for t in apcer}
    out.update({
        "threshold": float(threshold), "bpcer": bpcer, "apcer": apcer,
        "worst_attack": max(apcer, key=apcer.get) if apcer else None,
        "acer": acer(s, labels, threshold), "hter": hter(s, labels, threshold),
        "far": far, "frr": frr, "accuracy": float(np.mean(accepted == live)),
        "precision": _num(prec[0]), "recall": _num(rec[0]), "f1": _num(f1[0]),
        "confusion_matrix": confusion_matrix(live.astype(int), accepted.astype(int),
                                             labels=[0, 1]).tolist(),
        "n": int(s.size), "n_live": int(live.sum()), "n_attack": int((~live).sum()),
        "n_per_attack": counts,
        "per_attack": _per_attack(s, live, labels, apcer, bpcer),
        "score_std": float(np.std(s)),
    })
    if s.size > 1 and np.std(s) < 1e-3:
        # A collapsed model can still rank by rounding noise and show a high AUC: say so loudly.
        out["notes"].append(f"scores are nearly constant (std {np.std(s):.1e}): the model has collapsed; "
                            "its AUC/EER are meaningless")
    return out


def _per_attack(s: np.ndarray, live: np.ndarray, labels: list[str], apcer: dict[str, float],
                bpcer: float | None) -> dict[str, dict[str, Any]]:
    """Bona fide against one attack type at a time: AUC, EER, APCER, and ACER = (APCER + BPCER) / 2."""
    out = {}
    for attack, rate in apcer.items():
        keep = live | (np.asarray(labels) == attack)
        sep = _separation_metrics(s[keep], live[keep])
        out[attack] = {"auc": sep["auc"], "eer": sep["eer"], "apcer": rate, "bpcer": bpcer,
                       "acer": None if bpcer is None else (rate + bpcer) / 2}
    return out


def compute_all(scores: Sequence[float] | np.ndarray, labels: Sequence[str] | np.ndarray,
                threshold: float, video_ids: Sequence[Any] | None = None,
                video_how: str = "mean") -> dict[str, dict[str, Any]]:
    """Every metric at ``threshold``, as a JSON-serialisable dict.

    Returns ``{"frame": {...}}``, plus ``"video": {...}`` (frame scores aggregated per video with
    ``video_how``, same threshold) when ``video_ids`` is given.  Each level holds ``auc``, ``eer``,
    ``eer_threshold``, ``threshold``, ``bpcer``, ``apcer`` (per attack type), ``worst_attack``,
    ``acer``, ``hter``, ``far``, ``frr``, ``accuracy``, ``precision``/``recall``/``f1`` (live class),
    ``confusion_matrix`` (rows true [spoof, live], columns predicted), ``n``, ``n_live``,
    ``n_attack``, ``n_per_attack`` and ``notes``.  Undefined values are None.  Raises ValueError on
    empty input, NaN scores or mismatched lengths.
    """
    s, lab = check_pair(scores, labels, "labels")
    lab_list = [str(x) for x in lab]
    result = {"frame": _level_metrics(s, lab_list, threshold)}
    if video_ids is not None:
        v_scores, v_labels, _ = video_level(s, video_ids, lab_list, how=video_how)
        result["video"] = _level_metrics(v_scores, v_labels, threshold)
    return result


def calibrate(scores_dev: Sequence[float] | np.ndarray, labels_dev: Sequence[str] | np.ndarray,
              ) -> dict[str, float | int]:
    """Decision thresholds chosen on a development set, for storing in a checkpoint.

    Returns ``eer_threshold`` (with the dev ``eer``) and ``bpcer5_threshold`` (BPCER <= 5 %, lowest
    APCER; with the dev ``apcer_at_bpcer5``, pooled over attack types), plus the sample counts.
    Needs both live and attack samples.
    """
    s, lab = check_pair(scores_dev, labels_dev, "labels")
    live = live_mask(lab)
    rate, eer_thr = eer(s, live)
    thr5 = threshold_for_bpcer(s, live, 0.05)
    return {
        "eer_threshold": eer_thr, "eer": rate,
        "bpcer5_threshold": thr5, "apcer_at_bpcer5": float(np.mean(s[~live] >= thr5)),
        "n_live": int(live.sum()), "n_attack": int((~live).sum()),
    }
