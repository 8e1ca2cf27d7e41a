"""Evaluation report folder: metrics.json, prediction CSVs, PNG plots, report.md and report.html.

The plots are :mod:`training.eval.plots`'; compared external models (``metrics["compare"]``, from
:mod:`training.eval.compare`) get a table of their own beside ours.
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from liveness_app.core.files import atomic_copy, atomic_write, atomic_write_text
from training.eval.plots import LEVELS, plot_confusion, plot_det, plot_hist, plot_roc, scores_labels
from training.eval.plots import fmt as _fmt

# (key, label, kind) for the metrics table; kind: "rate" -> percent, "num" -> 4 decimals, "int".
_TABLE_ROWS = (
    ("auc", "AUC", "num"),
    ("eer", "EER", "rate"),
    ("eer_threshold", "EER threshold", "num"),
    ("threshold", "Threshold used", "num"),
    ("bpcer", "BPCER", "rate"),
    ("worst_attack", "Worst attack type", "str"),
    ("acer", "ACER (worst-type APCER)", "rate"),
    ("hter", "HTER (pooled FAR)", "rate"),
    ("accuracy", "Accuracy", "rate"),
    ("precision", "Precision (live)", "rate"),
    ("recall", "Recall (live)", "rate"),
    ("f1", "F1 (live)", "num"),
    ("n_live", "Live samples", "int"),
    ("n_attack", "Attack samples", "int"),
)

Block = tuple  # ("h2", text) | ("p", text) | ("table", headers, rows) | ("img", caption, relpath)


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _json_default(obj: Any) -> Any:
    """Let numpy scalars/arrays and paths through json.dumps."""
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _metrics_blocks(metrics: dict[str, Any]) -> list[Block]:
    levels = [lv for lv in LEVELS if lv in metrics]
    rows = [[label] + [_fmt(metrics[lv].get(key), kind) for lv in levels] for key, label, kind in _TABLE_ROWS]
    attacks = sorted({t for lv in levels for t in metrics[lv].get("apcer", {})})
    apcer_rows = [
        [t]
        + [
            f"{_fmt(metrics[lv].get('apcer', {}).get(t), 'rate')} (n={metrics[lv].get('n_per_attack', {}).get(t, 0)})"
            for lv in levels
        ]
        for t in attacks
    ]
    per_rows = [
        [f"{t} ({lv})"]
        + [
            _fmt(metrics[lv].get("per_attack", {}).get(t, {}).get(k), "num" if k == "auc" else "rate")
            for k in ("auc", "eer", "apcer", "bpcer", "acer")
        ]
        for t in attacks
        for lv in levels
    ]
    blocks: list[Block] = [
        ("h2", "Metrics"),
        ("table", ["Metric"] + levels, rows),
        ("h2", "APCER per attack type"),
        ("table", ["Attack type"] + levels, apcer_rows),
        ("h2", "Bona fide against each attack type"),
        ("table", ["Attack type (level)", "AUC", "EER", "APCER", "BPCER", "ACER"], per_rows),
    ]
    notes = [f"{lv}: {n}" for lv in levels for n in metrics[lv].get("notes", [])]
    if notes:
        blocks += [("h2", "Notes")] + [("p", n) for n in notes]
    return blocks


def _compare_blocks(metrics: dict[str, Any]) -> list[Block]:
    """One table per level: this model and every compared external model, each at its own threshold and
    at this model's (see :mod:`training.eval.compare`)."""
    compared = metrics.get("compare") or {}
    if not compared:
        return []
    blocks: list[Block] = [
        ("h2", "Compared with external models (same frames)"),
        (
            "p",
            "Each external model cuts its own crop of every frame scored above. 'Own' is "
            "its authors' threshold, 'ours' this model's frozen one.",
        ),
    ]
    headers = ["Model", "Threshold", "Frames", "AUC", "EER", "APCER per attack", "BPCER", "ACER"]
    for level in LEVELS:
        if level not in metrics:
            continue
        rows = [_compare_row("this model", metrics[level])]
        for name, found in compared.items():
            for which in ("own_threshold", "our_threshold"):
                m = (found.get(which) or {}).get(level)
                if m:
                    rows.append(_compare_row(f"{name} ({which.split('_')[0]})", m))
        blocks += [("p", f"{level.capitalize()} level:"), ("table", headers, rows)]
    return blocks


def _compare_row(name: str, m: dict[str, Any]) -> list[Any]:
    return [name, _fmt(m.get("threshold")), m.get("n"), _fmt(m.get("auc")), _fmt(m.get("eer"), "rate")] + [
        _apcer_text(m.get("apcer")),
        _fmt(m.get("bpcer"), "rate"),
        _fmt(m.get("acer"), "rate"),
    ]


def _apcer_text(apcer: dict[str, float] | None) -> str:
    return ", ".join(f"{k} {_fmt(v, 'rate')}" for k, v in (apcer or {}).items()) or "n/a"


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
            rows = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in block[2])
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
        elif block[0] == "img":
            body.append(
                f'<figure><img src="{e(block[2])}" alt="{e(block[1])}"><figcaption>{e(block[1])}</figcaption></figure>'
            )
    style = (
        "body{font-family:sans-serif;max-width:960px;margin:2em auto;}"
        "table{border-collapse:collapse;margin:1em 0;}"
        "td,th{border:1px solid #ccc;padding:4px 10px;text-align:left;}"
        "img{max-width:100%;}"
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{e(title)}</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(
    out_dir: str | Path,
    metrics: dict[str, Any],
    frame_table: list[dict[str, Any]],
    video_table: list[dict[str, Any]] | None,
    extra_images: dict[str, Path] | None,
    skipped: list[tuple[str, str]],
    title: str,
    model_info: dict[str, Any],
) -> Path:
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
    curves = {"frame": scores_labels(frame_table)} if frame_table else {}
    if video_table:
        _write_csv(out / "predictions_videos.csv", video_table)
        curves["video"] = scores_labels(video_table)
    threshold = metrics.get("frame", {}).get("threshold")
    plot_roc(out / "roc.png", curves, metrics)
    plot_det(out / "det.png", curves, metrics)
    if frame_table:
        plot_hist(out / "score_hist.png", *curves["frame"], threshold)
    plot_confusion(out / "confusion_matrix.png", metrics)

    source = metrics.get("threshold_source") or model_info.get("threshold_source") or "not stated"
    blocks: list[Block] = [
        ("p", f"Generated {_dt.datetime.now().isoformat(timespec='seconds')}"),
        ("h2", "Model"),
        ("table", ["Key", "Value"], [[k, v] for k, v in model_info.items()]),
        ("h2", "Decision threshold"),
        ("p", f"Threshold {_fmt(threshold)} (a sample is live when score >= threshold); source: {source}."),
    ]
    if metrics.get("small_data_warning"):
        blocks += [("p", f"Warning: {metrics['small_data_warning']}.")]
    blocks += _metrics_blocks(metrics)
    blocks += _compare_blocks(metrics)
    if metrics.get("no_face"):
        blocks += [
            ("h2", "Frames without a face (not scored, so outside every rate above)"),
            (
                "table",
                ["Label", "Frames looked at", "No face found", "Share"],
                [
                    [label, row["frames"], row["no_face"], _fmt(row["no_face_rate"], "rate")]
                    for label, row in metrics["no_face"].items()
                ],
            ),
        ]
    blocks += [("h2", "Plots")] + [
        ("img", cap, name)
        for cap, name in (
            ("ROC curve", "roc.png"),
            ("DET curve", "det.png"),
            ("Score histogram", "score_hist.png"),
            ("Confusion matrices", "confusion_matrix.png"),
        )
        if (out / name).is_file()
    ]
    blocks += _extra_blocks(out, extra_images)
    blocks += [("h2", f"Skipped files ({len(skipped)})")]
    blocks += [("table", ["Path", "Reason"], [list(item) for item in skipped])] if skipped else [("p", "None.")]
    atomic_write_text(out / "report.md", _to_markdown(title, blocks))
    atomic_write_text(out / "report.html", _to_html(title, blocks))
    return out
