"""The metrics report of a set of scores (ISO/IEC 30107-3): every rate at one threshold, per level.

Scores, labels and the error rates follow :mod:`training.eval.rates` (a score is P(live), accepted when
``score >= threshold``; undefined quantities are ``None`` so that results stay JSON-serialisable). Here: the
log loss, per-video scores and the full report (:func:`compute_all`) with, for frames and for videos, AUC,
EER, APCER per attack type, BPCER, ACER, HTER, precision/recall and the confusion matrix. How a threshold is
chosen is :mod:`training.eval.thresholds`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support, roc_auc_score

from training.eval.rates import PROB_CLIP, acer, apcer_bpcer, check_pair, eer, far_frr, hter, live_mask


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
    return float(log_loss(live_mask(lab).astype(int), np.clip(s, PROB_CLIP, 1.0 - PROB_CLIP), labels=[0, 1]))


def video_level(
    scores: Sequence[float] | np.ndarray,
    video_ids: Sequence[Any],
    labels: Sequence[str] | np.ndarray,
    how: str = "mean",
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
        return {
            "auc": None,
            "eer": None,
            "eer_threshold": None,
            "notes": [f"only {only} samples present: AUC and EER are undefined"],
        }
    rate, thr = eer(s, live)
    return {"auc": float(roc_auc_score(live.astype(int), s)), "eer": rate, "eer_threshold": thr, "notes": []}


def _level_metrics(s: np.ndarray, labels: list[str], threshold: float) -> dict[str, Any]:
    """All metrics for one level (frames or videos)."""
    live = live_mask(labels)
    accepted = s >= threshold
    out = _separation_metrics(s, live)
    apcer, bpcer = apcer_bpcer(s, labels, threshold)
    far, frr = far_frr(live, accepted)
    prec, rec, f1, _ = precision_recall_fscore_support(
        live.astype(int), accepted.astype(int), labels=[1], zero_division=np.nan
    )
    counts = {t: int(sum(1 for x in labels if x == t)) for t in apcer}
    out.update(
        {
            "threshold": float(threshold),
            "bpcer": bpcer,
            "apcer": apcer,
            "worst_attack": max(apcer, key=apcer.__getitem__) if apcer else None,
            "acer": acer(s, labels, threshold),
            "hter": hter(s, labels, threshold),
            "far": far,
            "frr": frr,
            "accuracy": float(np.mean(accepted == live)),
            "precision": _num(prec[0]),
            "recall": _num(rec[0]),
            "f1": _num(f1[0]),
            "confusion_matrix": confusion_matrix(live.astype(int), accepted.astype(int), labels=[0, 1]).tolist(),
            "n": int(s.size),
            "n_live": int(live.sum()),
            "n_attack": int((~live).sum()),
            "n_per_attack": counts,
            "per_attack": _per_attack(s, live, labels, apcer, bpcer),
            "score_std": float(np.std(s)),
        }
    )
    if s.size > 1 and np.std(s) < 1e-3:
        # A collapsed model can still rank by rounding noise and show a high AUC: say so loudly.
        out["notes"].append(
            f"scores are nearly constant (std {np.std(s):.1e}): the model has collapsed; its AUC/EER are meaningless"
        )
    return out


def _per_attack(
    s: np.ndarray, live: np.ndarray, labels: list[str], apcer: dict[str, float], bpcer: float | None
) -> dict[str, dict[str, Any]]:
    """Bona fide against one attack type at a time: AUC, EER, APCER, and ACER = (APCER + BPCER) / 2."""
    out = {}
    for attack, rate in apcer.items():
        keep = live | (np.asarray(labels) == attack)
        sep = _separation_metrics(s[keep], live[keep])
        out[attack] = {
            "auc": sep["auc"],
            "eer": sep["eer"],
            "apcer": rate,
            "bpcer": bpcer,
            "acer": None if bpcer is None else (rate + bpcer) / 2,
        }
    return out


def compute_all(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[str] | np.ndarray,
    threshold: float,
    video_ids: Sequence[Any] | None = None,
    video_how: str = "mean",
) -> dict[str, dict[str, Any]]:
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
