"""The evaluation report's figures: ROC and DET curves, score histogram, confusion matrices.

Drawn with matplotlib's object-oriented API on the Agg canvas (no pyplot, no display, no global backend
switch), so this module is safe to import from the GUI process too.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.stats import norm

from liveness_app.core.files import atomic_write_bytes
from training.eval.rates import LIVE_LABEL, det_points, live_mask, roc_points

LEVELS = ("frame", "video")
_PROBIT_EPS = 5e-4
_DET_TICKS = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95, 0.99)


def fmt(value: Any, kind: str = "num") -> str:
    if value is None:
        return "n/a"
    if kind == "rate":
        return f"{100.0 * float(value):.2f} %"
    if kind == "num":
        return f"{float(value):.4f}"
    return str(value)


def save_figure(fig: Any, path: Path) -> None:
    """A matplotlib figure written whole or not at all (rendered in memory, then the atomic writer)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png")
    atomic_write_bytes(Path(path), buffer.getvalue())


def scores_labels(table: Sequence[dict[str, Any]]) -> tuple[np.ndarray, list[str]]:
    return (np.array([float(r["score"]) for r in table], dtype=np.float64), [str(r["label"]) for r in table])


def _new_figure(width: float = 6.0, height: float = 4.5) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _both_classes(labels: list[str]) -> bool:
    live = live_mask(labels)
    return bool(live.any() and not live.all())


def plot_roc(path: Path, curves: dict[str, tuple[np.ndarray, list[str]]], metrics: dict[str, Any]) -> None:
    fig, ax = _new_figure()
    for level, (scores, labels) in curves.items():
        if not _both_classes(labels):
            continue
        fpr, tpr, _ = roc_points(scores, live_mask(labels))
        auc = metrics.get(level, {}).get("auc")
        ax.plot(fpr, tpr, label=f"{level} (AUC = {fmt(auc)})")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    ax.set(
        xlabel="APCER / FAR (attacks accepted)",
        ylabel="1 - BPCER (live accepted)",
        title="ROC (live = positive)",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.legend(loc="lower right")
    save_figure(fig, path)


def plot_det(path: Path, curves: dict[str, tuple[np.ndarray, list[str]]], metrics: dict[str, Any]) -> None:
    fig, ax = _new_figure()

    def probit(p: Any) -> np.ndarray:
        return norm.ppf(np.clip(p, _PROBIT_EPS, 1 - _PROBIT_EPS))

    for level, (scores, labels) in curves.items():
        if not _both_classes(labels):
            continue
        apcer, bpcer, _ = det_points(scores, live_mask(labels))
        (line,) = ax.plot(probit(apcer), probit(bpcer), label=level)
        rate = metrics.get(level, {}).get("eer")
        if rate is not None:
            ax.plot(probit(rate), probit(rate), "o", color=line.get_color(), label=f"{level} EER = {fmt(rate, 'rate')}")
    lim = probit([0.0, 1.0])
    ax.plot(lim, lim, ":", color="grey", label="APCER = BPCER")
    ticks = probit(_DET_TICKS)
    names = [f"{100 * t:g}" for t in _DET_TICKS]
    ax.set_xticks(ticks, names)
    ax.set_yticks(ticks, names)
    ax.set(
        xlim=lim,
        ylim=lim,
        xlabel="APCER, all attacks pooled (%)",
        ylabel="BPCER (%)",
        title="DET (normal-deviate axes)",
    )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    save_figure(fig, path)


def plot_hist(path: Path, scores: np.ndarray, labels: list[str], threshold: float | None) -> None:
    fig, ax = _new_figure()
    in_unit = scores.min() >= 0.0 and scores.max() <= 1.0
    bins = np.linspace(0.0, 1.0, 41) if in_unit else 40
    kinds = [LIVE_LABEL] + sorted({x for x in labels if x != LIVE_LABEL})
    for kind in kinds:
        sel = scores[[x == kind for x in labels]]
        if sel.size:
            ax.hist(sel, bins=bins, alpha=0.5, label=f"{kind} (n={sel.size})")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {fmt(threshold)}")
    ax.set(xlabel="score = P(live)", ylabel="frames", title="Frame score distribution")
    ax.legend()
    save_figure(fig, path)


def plot_confusion(path: Path, metrics: dict[str, Any]) -> None:
    levels = [lv for lv in LEVELS if lv in metrics]
    if not levels:
        return
    fig = Figure(figsize=(4.2 * len(levels), 4.0), dpi=100)
    FigureCanvasAgg(fig)
    for k, level in enumerate(levels, start=1):
        ax = fig.add_subplot(1, len(levels), k)
        cm = np.asarray(metrics[level]["confusion_matrix"])
        ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(int(cm.max()), 1))
        for (i, j), n in np.ndenumerate(cm):
            color = "white" if n > cm.max() / 2 else "black"
            ax.text(j, i, str(n), ha="center", va="center", color=color, fontsize=14)
        ax.set_xticks([0, 1], ["spoof", "live"])
        ax.set_yticks([0, 1], ["spoof", "live"])
        ax.set(xlabel="predicted", ylabel="true", title=f"{level} level")
    fig.tight_layout()
    save_figure(fig, path)
