"""Every rule that chooses a decision threshold: on dev data at the end of a run (:func:`calibrate`: the EER
threshold centred in its gap, and the one for BPCER <= 5 %), for one camera, and the rules
:mod:`training.studies.cv` compares.

A threshold calibrated on a few dev groups transfers badly: each source (camera, person, attack medium)
shifts the score distribution. The rules here use the dev groups in different ways:

- ``pooled_eer``: the EER threshold of all dev samples pooled (big groups weigh most);
- ``balanced_eer``: the EER threshold when every dev group weighs the same within its class
  (a weighted ROC), so one large recording cannot set the threshold alone;
- ``bpcer5``: the lowest-APCER threshold keeping pooled BPCER <= 5 %;
- ``group_median_eer``: the median of the per-group EER thresholds (groups holding both classes).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np
from scipy.special import expit, logit
from sklearn.metrics import roc_curve

from training.eval import rates as R
from training.eval.rates import EPS, PROB_CLIP, check_pair, check_scores, eer, live_mask

RULES = ("pooled_eer", "balanced_eer", "bpcer5", "group_median_eer")
MIN_PER_CLASS = 5  # a group's own EER threshold needs at least this many live and attack samples


def balanced_eer_threshold(scores: np.ndarray, live: np.ndarray, groups: Sequence[str]) -> float | None:
    """EER threshold of the ROC in which each group has the same total weight within its class."""
    if live.all() or not live.any():
        return None
    cells = Counter(zip(live.tolist(), groups))
    per_class = Counter(is_live for is_live, _ in cells)
    weights = np.array([1.0 / (cells[(bool(v), g)] * per_class[bool(v)]) for v, g in zip(live, groups)])
    fpr, tpr, thr = roc_curve(live.astype(int), scores, sample_weight=weights, drop_intermediate=False)
    i = int(np.argmin(np.abs(fpr - (1.0 - tpr))))
    return float(min(thr[i], 1.0))


def group_median_eer_threshold(scores: np.ndarray, live: np.ndarray, groups: Sequence[str]) -> float | None:
    """Median of the EER thresholds of the groups that hold at least MIN_PER_CLASS of each class."""
    names = np.asarray(groups)
    found = []
    for g in sorted(set(names.tolist())):
        mask = names == g
        if live[mask].sum() >= MIN_PER_CLASS and (~live[mask]).sum() >= MIN_PER_CLASS:
            found.append(R.eer(scores[mask], live[mask])[1])
    return float(np.median(found)) if found else None


def thresholds(
    scores: Sequence[float] | np.ndarray, labels: Sequence[str], groups: Sequence[str]
) -> dict[str, float | None]:
    """Every rule's threshold on one dev set (None where a rule cannot be applied)."""
    s = np.asarray(scores, dtype=np.float64)
    live = R.live_mask(labels)
    cal = calibrate(s, labels)
    return {
        "pooled_eer": cal["eer_threshold"],
        "balanced_eer": balanced_eer_threshold(s, live, groups),
        "bpcer5": cal["bpcer5_threshold"],
        "group_median_eer": group_median_eer_threshold(s, live, groups),
    }


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
    lo, hi = logit(np.clip([below.max(), above.min()], PROB_CLIP, 1.0 - PROB_CLIP))
    mid = float(expit((lo + hi) / 2.0))
    return mid if below.max() < mid <= above.min() else float(threshold)  # clipped ends: keep decisions


def logit_mean(a: float, b: float) -> float:
    """The threshold halfway between ``a`` and ``b`` in logit space (see :func:`centred_threshold`)."""
    lo, hi = logit(np.clip([a, b], PROB_CLIP, 1.0 - PROB_CLIP))
    return float(expit((lo + hi) / 2.0))


def threshold_for_bpcer(
    scores: Sequence[float] | np.ndarray, is_live: Sequence[bool] | np.ndarray, target: float = 0.05
) -> float:
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
    k = int(math.floor(target * live.size + EPS))
    return float(live[k])


def calibrate(
    scores_dev: Sequence[float] | np.ndarray,
    labels_dev: Sequence[str] | np.ndarray,
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
        "eer_threshold": eer_thr,
        "eer": rate,
        "bpcer5_threshold": thr5,
        "apcer_at_bpcer5": float(np.mean(s[~live] >= thr5)),
        "n_live": int(live.sum()),
        "n_attack": int((~live).sum()),
    }
