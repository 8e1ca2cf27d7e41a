"""Metrics as a short text table for the command lines (``liveness-eval``, ``python -m training.calibrate``),
and the warning that goes with figures from too little data. Plain Python: no numpy, no matplotlib.

Rates are percentages, AUC has three decimals, and an undefined figure (a rate with no sample of its class,
an AUC with one class only: ``None`` in :func:`training.eval.metrics.compute_all`) reads "n/a".
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from liveness_app.core.sessions import LIVE

LEVELS = ("frame", "video")
SMALL_CLASS = 100  # crops of a class below which AUC, EER and the rates move by whole per cents by chance


def number(value: Any, kind: str = "rate") -> str:
    """``kind`` "rate": '4.2 %', "auc": '0.987', "threshold": '0.412'; 'n/a' for None or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    if kind == "rate":
        return f"{100.0 * value:.1f} %"
    return f"{value:.3f}"


def apcer_text(apcer: Any) -> str:
    """APCER per attack type, 'print 0.0 %, replay 8.3 %' (the worst type decides ACER)."""
    if not isinstance(apcer, Mapping) or not apcer:
        return "n/a"
    return ", ".join(f"{kind} {number(rate)}" for kind, rate in apcer.items())


def metrics_table(metrics: Mapping[str, Any], levels: Sequence[str] = LEVELS) -> str:
    """One row per level of :func:`training.eval.metrics.compute_all`'s result, aligned columns."""
    headers = ["level", "AUC", "EER", "BPCER", "APCER per attack type", "ACER", "live / attack"]
    rows = []
    for level in levels:
        m = metrics.get(level)
        if not isinstance(m, Mapping):
            continue
        rows.append(
            [
                level,
                number(m.get("auc"), "auc"),
                number(m.get("eer")),
                number(m.get("bpcer")),
                apcer_text(m.get("apcer")),
                number(m.get("acer")),
                f"{m.get('n_live', '?')} / {m.get('n_attack', '?')}",
            ]
        )
    return aligned([headers, *rows])


def aligned(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as left-aligned columns, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def small_data_warning(labels: Iterable[str], groups: Iterable[str], what: str) -> str | None:
    """A sentence saying that figures on ``what`` mean little, when it holds fewer than :data:`SMALL_CLASS`
    crops of live faces or of attacks, or one group (one person or source) only; None otherwise."""
    labels, n_groups = list(labels), len(set(groups))
    live = sum(1 for label in labels if label == LIVE)
    attack = len(labels) - live
    if min(live, attack) >= SMALL_CLASS and n_groups > 1:
        return None
    people = "1 group (one person or source)" if n_groups == 1 else f"{n_groups} groups"
    counts = f"{live} live and {attack} attack crops from {people}"
    if min(live, attack) >= SMALL_CLASS:
        return (
            f"{what} holds one group only ({counts}): its figures say how the model does for that person "
            "or source, not for others"
        )
    return (
        f"{what} is small ({counts}): its AUC, EER and error rates move by whole per cents with a crop or "
        "two and say little about other people, cameras or attacks; an AUC of 1.000 here is no promise (at "
        f"least {SMALL_CLASS} crops of each class from several groups make them worth comparing)"
    )
