"""Rules for choosing the decision threshold on dev data, compared by :mod:`training.cv`.

A threshold calibrated on a few dev groups transfers badly: each source (camera, person, attack medium)
shifts the score distribution. The rules here use the dev groups in different ways:

- ``pooled_eer``: the EER threshold of all dev samples pooled (big groups weigh most);
- ``balanced_eer``: the EER threshold when every dev group weighs the same within its class
  (a weighted ROC), so one large recording cannot set the threshold alone;
- ``bpcer5``: the lowest-APCER threshold keeping pooled BPCER <= 5 %;
- ``group_median_eer``: the median of the per-group EER thresholds (groups holding both classes).
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
from sklearn.metrics import roc_curve

from . import metrics as M

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
    groups = np.asarray(groups)
    found = []
    for g in sorted(set(groups.tolist())):
        mask = groups == g
        if live[mask].sum() >= MIN_PER_CLASS and (~live[mask]).sum() >= MIN_PER_CLASS:
            found.append(M.eer(scores[mask], live[mask])[1])
    return float(np.median(found)) if found else None


def thresholds(scores: Sequence[float], labels: Sequence[str], groups: Sequence[str]) -> dict[str, float | None]:
    """Every rule's threshold on one dev set (None where a rule cannot be applied)."""
    s = np.asarray(scores, dtype=np.float64)
    live = M.live_mask(labels)
    cal = M.calibrate(s, labels)
    return {"pooled_eer": cal["eer_threshold"], "balanced_eer": balanced_eer_threshold(s, live, groups),
            "bpcer5": cal["bpcer5_threshold"], "group_median_eer": group_median_eer_threshold(s, live, groups)}
