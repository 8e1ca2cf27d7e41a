"""Evaluation report folder: metrics.json, prediction CSVs, PNG plots, report.md and report.html.

Plots are drawn with matplotlib's object-oriented API on the Agg canvas (no pyplot, no display, no
global backend switch), so this module is safe to import from the GUI process too.
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.stats import norm

from liveness_app.core.files import atomic_copy, atomic_write, atomic_write_bytes, atomic_write_text
from training.eval.metrics import LIVE_LABEL, det_points, live_mask, roc_points

_LEVELS = ("frame", "video")
_PROBIT_EPS = 5e-4
_DET_TICKS = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95, 0.99)
# (key, label, kind) for the metrics table; kind: "rate" -> percent, "num" -> 4 decimals, "int".
_TABLE_ROWS = (
    ("auc", "AUC", "num"), ("eer", "EER", "rate"), ("eer_threshold", "EER threshold", "num"),
    ("threshold", "Threshold used", "num"), ("bpcer", "BPCER", "rate"),
    ("worst_attack", "Worst attack type", "str"), ("acer", "ACER (worst-type APCER)", "rate"),
    ("hter", "HTER (pooled FAR)", "rate"), ("accuracy", "Accuracy", "rate"),
    ("precision", "Precision (live)", "rate"), ("recall", "Recall (live)", "rate"),
    ("f1", "F1 (live)", "num"), ("n_live", "Live samples", "int"),
    ("n_attack", "Attack samples", "int"),
)

Block = tuple  # ("h2", text) | ("p", text) | ("table", headers, rows) | ("img", caption, relpath)


def _fmt(value: Any, kind: str = "num") -> str:
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


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _scores_labels(table: Sequence[dict[str, Any]]) -> tuple[np.ndarray, list[str]]:
    return (np.array([float(r["score"]) for r in table], dtype=np.float64),
            [str(r["label"]) for r in table])


def _new_figure(width: float = 6.0, height: float = 4.5) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _both_classes(labels: list[str]) -> bool:
    live = live_mask(labels)
    return bool(live.any() and not live.all())


def _plot_roc(path: Path, curves: dict[str, tuple[np.ndarray, list[str]]],
              metrics: dict[str, Any]) -> None:
    fig, ax = _new_figure()
    for level, (scores, labels) in curves.items():
        if not _both_classes(labels):
            continue
        fpr, tpr, _ = roc_points(scores, live_mask(labels))
        auc = metrics.get(level, {}).get("auc")
        ax.plot(fpr, tpr, label=f"{level} (AUC = {_fmt(auc)})")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    ax.set(xlabel="APCER / FAR (attacks accepted)", ylabel="1 - BPCER (live accepted)",
           title="ROC (live = positive)", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    save_figure(fig, path)


def _plot_det(path: Path, curves: dict[str, tuple[np.ndarray, list[str]]],
              metrics: dict[str, Any]) -> None:
    fig, ax = _new_figure()

    def probit(p: Any) -> np.ndarray:
        return norm.ppf(np.clip(p, _PROBIT_EPS, 1 - _PROBIT_EPS))

    for level, (scores, labels) in curves.items():
        if not _both_classes(labels):
            continue
        apcer, bpcer, _ = det_points(scores, live_mask(labels))
        line, = ax.plot(probit(apcer), probit(bpcer), label=level)
        rate = metrics.get(level, {}).get("eer")
        if rate is not None:
            ax.plot(probit(rate), probit(rate), "o", color=line.get_color(),
                    label=f"{level} EER = {_fmt(rate, 'rate')}")
    lim = probit([0.0, 1.0])
    ax.plot(lim, lim, ":", color="grey", label="APCER = BPCER")
    ticks = probit(_DET_TICKS)
    names = [f"{100 * t:g}" for t in _DET_TICKS]
    ax.set_xticks(ticks, names)
    ax.set_yticks(ticks, names)
    ax.set(xlim=lim, ylim=lim, xlabel="APCER, all attacks pooled (%)", ylabel="BPCER (%)",
           title="DET (normal-deviate axes)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    save_figure(fig, path)


def _plot_hist(path: Path, scores: np.ndarray, labels: list[str], threshold: float | None) -> None:
    fig, ax = _new_figure()
    in_unit = scores.min() >= 0.0 and scores.max() <= 1.0
    bins = np.linspace(0.0, 1.0, 41) if in_unit else 40
    kinds = [LIVE_LABEL] + sorted({x for x in labels if x != LIVE_LABEL})
    for kind in kinds:
        sel = scores[[x == kind for x in labels]]
        if sel.size:
            ax.hist(sel, bins=bins, alpha=0.5, label=f"{kind} (n={sel.size})")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {_fmt(threshold)}")
    ax.set(xlabel="score = P(live)", ylabel="frames", title="Frame score distribution")
    ax.legend()
    save_figure(fig, path)


def _plot_confusion(path: Path, metrics: dict[str, Any]) -> None:
    levels = [lv for lv in _LEVELS if lv in metrics]
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


def _json_default(obj: Any) -> Any:
    """Let numpy scalars/arrays and paths through json.dumps."""
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _metrics_blocks(metrics: dict[str, Any]) -> list[Block]:
    levels = [lv for lv in _LEVELS if lv in metrics]
    rows = [[label] + [_fmt(metrics[lv].get(key), kind) for lv in levels]
            for key, label, kind in _TABLE_ROWS]
    attacks = sorted({t for lv in levels for t in metrics[lv].get("apcer", {})})
    apcer_rows = [[t] + [f"{_fmt(metrics[lv].get('apcer', {}).get(t), 'rate')} "
                         f"(n={metrics[lv].get('n_per_attack', {}).get(t, 0)})" for lv in levels]
                  for t in attacks]
    per_rows = [[f"{t} ({lv})"] + [_fmt(metrics[lv].get("per_attack", {}).get(t, {}).get(k),
                                       "num" if k == "auc" else "rate")
                                  for k in ("auc", "eer", "apcer", "bpcer", "acer")]
                for t in attacks for lv in levels]
    blocks: list[Block] = [("h2", "Metrics"), ("table", ["Metric"] + levels, rows),
                           ("h2", "APCER per attack type"),
                           ("table", ["Attack type"] + levels, apcer_rows),
                           ("h2", "Bona fide against each attack type"),
                           ("table", ["Attack type (level)", "AUC", "EER", "APCER", "BPCER", "ACER"], per_rows)]
    notes = [f"{lv}: {n}" for lv in levels for n in metrics[lv].get("notes", [])]
    if notes:
        blocks += [("h2", "Notes")] + [("p", n) for n in notes]
    return blocks


def _extra_blocks(out: Path, extra_images: dict[str, Path] | None) -> list[Block]:
    blocks: list[Block] = []
    for i, (caption, src) in enumerate((extra_images or {}).items()):
        src = Path(src)
        if not src.is_file():
            blocks.append(("p", f"{caption}: image not found ({src})"))
            continue
        try:
            rel = src.resolve().relative_to(out.resolve())
        except ValueError:
            rel = Path(f"extra_{i}_{src.name}")
            atomic_copy(src, out / rel)
        blocks.append(("img", caption, rel.as_posix()))
    return ([("h2", "Additional figures")] + blocks) if blocks else []


def _to_markdown(title: str, blocks: list[Block]) -> str:
    def cell(x: Any) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = [f"# {title}", ""]
    for block in blocks:
        if block[0] == "h2":
            lines += [f"## {block[1]}", ""]
        elif block[0] == "p":
            lines += [str(block[1]), ""]
        elif block[0] == "table":
            lines.append("| " + " | ".join(cell(h) for h in block[1]) + " |")
            lines.append("|" + "---|" * len(block[1]))
            lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in block[2]]
            lines.append("")
        elif block[0] == "img":
            lines += [f"![{cell(block[1])}]({block[2]})", ""]
    return "\n".join(lines)


def _to_html(title: str, blocks: list[Block]) -> str:
    e = html.escape
    body = [f"<h1>{e(title)}</h1>"]
    for block in blocks:
        if block[0] in ("h2", "p"):
            body.append(f"<{block[0]}>{e(str(block[1]))}</{block[0]}>")
        elif block[0] == "table":
            head = "".join(f"<th>{e(str(h))}</th>" for h in block[1])
            rows = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                           for row in block[2])
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
        elif block[0] == "img":
            body.append(f'<figure><img src="{e(block[2])}" alt="{e(block[1])}">'
                        f"<figcaption>{e(block[1])}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:960px;margin:2em auto;}"
             "table{border-collapse:collapse;margin:1em 0;}"
             "td,th{border:1px solid #ccc;padding:4px 10px;text-align:left;}"
             "img{max-width:100%;}")
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(out_dir: str | Path, metrics: dict[str, Any], frame_table: list[dict[str, Any]],
                 video_table: list[dict[str, Any]] | None, extra_images: dict[str, Path] | None,
                 skipped: list[tuple[str, str]], title: str, model_info: dict[str, Any]) -> Path:
    """Write an evaluation report into ``out_dir`` (created if needed) and return that folder.

    ``metrics`` is :func:`training.eval.metrics.compute_all` output (``{"frame": ..., "video": ...}``);
    an optional top-level ``"threshold_source"`` (or ``model_info["threshold_source"]``) says where
    the threshold came from.  ``frame_table`` rows need ``path``, ``label`` and ``score``;
    ``video_table`` rows need ``label`` and ``score``.  ``extra_images`` maps captions to image
    files, copied into the folder unless already inside it.  ``skipped`` lists ``(path, reason)``.
    Writes metrics.json, predictions_frames.csv, predictions_videos.csv (with a video table),
    roc.png, det.png, score_hist.png, confusion_matrix.png, report.md and report.html.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(metrics, indent=2, allow_nan=False, default=_json_default)
    atomic_write_text(out / "metrics.json", text + "\n")
    _write_csv(out / "predictions_frames.csv", frame_table)
    curves = {"frame": _scores_labels(frame_table)} if frame_table else {}
    if video_table:
        _write_csv(out / "predictions_videos.csv", video_table)
        curves["video"] = _scores_labels(video_table)
    threshold = metrics.get("frame", {}).get("threshold")
    _plot_roc(out / "roc.png", curves, metrics)
    _plot_det(out / "det.png", curves, metrics)
    if frame_table:
        _plot_hist(out / "score_hist.png", *curves["frame"], threshold)
    _plot_confusion(out / "confusion_matrix.png", metrics)

    source = metrics.get("threshold_source") or model_info.get("threshold_source") or "not stated"
    blocks: list[Block] = [
        ("p", f"Generated {_dt.datetime.now().isoformat(timespec='seconds')}"),
        ("h2", "Model"), ("table", ["Key", "Value"], [[k, v] for k, v in model_info.items()]),
        ("h2", "Decision threshold"),
        ("p", f"Threshold {_fmt(threshold)} (a sample is live when score >= threshold); "
              f"source: {source}."),
    ]
    blocks += _metrics_blocks(metrics)
    if metrics.get("no_face"):
        blocks += [("h2", "Frames without a face (not scored, so outside every rate above)"),
                   ("table", ["Label", "Frames looked at", "No face found", "Share"],
                    [[label, row["frames"], row["no_face"], _fmt(row["no_face_rate"], "rate")]
                     for label, row in metrics["no_face"].items()])]
    blocks += [("h2", "Plots")] + [("img", cap, name) for cap, name in (
        ("ROC curve", "roc.png"), ("DET curve", "det.png"),
        ("Score histogram", "score_hist.png"), ("Confusion matrices", "confusion_matrix.png"))
        if (out / name).is_file()]
    blocks += _extra_blocks(out, extra_images)
    blocks += [("h2", f"Skipped files ({len(skipped)})")]
    blocks += ([("table", ["Path", "Reason"], [list(item) for item in skipped])] if skipped
               else [("p", "None.")])
    atomic_write_text(out / "report.md", _to_markdown(title, blocks))
    atomic_write_text(out / "report.html", _to_html(title, blocks))
    return out
