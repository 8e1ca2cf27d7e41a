"""Tests for training.eval.report: every file is written and the report mentions what it should."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from training.eval.metrics import compute_all, video_level
from training.eval.report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ("roc.png", "det.png", "score_hist.png", "confusion_matrix.png")


def _frame_table() -> list[dict]:
    data = {  # video id -> (label, frame scores)
        "live_a": ("live", [0.9, 0.8, 0.85]),
        "live_b": ("live", [0.7, 0.4]),
        "live_c": ("live", [0.95, 0.6]),
        "print_a": ("print", [0.1, 0.3]),
        "print_b": ("print", [0.6, 0.2]),
        "replay_a": ("replay", [0.55, 0.45]),
        "mask_a": ("mask", [0.05, 0.15, 0.1]),
    }
    return [
        {"path": f"/data/{vid}/{i:04d}.png", "label": label, "score": score, "video_id": vid, "frame_index": i}
        for vid, (label, scores) in data.items()
        for i, score in enumerate(scores)
    ]


def _png(path: Path) -> Path:
    fig = Figure(figsize=(2, 2))
    FigureCanvasAgg(fig)
    fig.add_subplot().plot([0, 1], [1, 0])
    fig.savefig(path)
    return path


@pytest.fixture
def report_inputs(tmp_path):
    frames = _frame_table()
    scores = [r["score"] for r in frames]
    labels = [r["label"] for r in frames]
    vids = [r["video_id"] for r in frames]
    metrics = compute_all(scores, labels, 0.5, video_ids=vids)
    metrics["threshold_source"] = "checkpoint calibration (EER on dev)"
    v_scores, v_labels, v_ids = video_level(scores, vids, labels)
    videos = [{"video_id": i, "label": lab, "score": float(s)} for i, lab, s in zip(v_ids, v_labels, v_scores)]
    extra = {"Grad-CAM grid": _png(tmp_path / "gradcam.png")}
    skipped = [("/data/broken|one.png", "cannot decode image"), ("/data/x.mp4", "no face found")]
    return metrics, frames, videos, extra, skipped


def test_write_report_writes_everything(tmp_path, report_inputs):
    metrics, frames, videos, extra, skipped = report_inputs
    out = write_report(
        tmp_path / "report",
        metrics,
        frames,
        videos,
        extra,
        skipped,
        "Test evaluation",
        {"arch": "tiny-cnn", "checkpoint": "best.pt"},
    )
    assert out == tmp_path / "report"
    for name in (
        "metrics.json",
        "predictions_frames.csv",
        "predictions_videos.csv",
        "report.md",
        "report.html",
    ) + PLOTS:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    for name in PLOTS:
        assert (out / name).read_bytes().startswith(PNG_MAGIC), name

    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == metrics

    with (out / "predictions_frames.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(frames)
    assert {"path", "label", "score", "video_id", "frame_index"} <= set(rows[0])
    assert float(rows[0]["score"]) == frames[0]["score"]
    with (out / "predictions_videos.csv").open(newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == len(videos)

    md = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    for attack in ("print", "replay", "mask"):
        assert attack in md and attack in html
    for text in (
        "Test evaluation",
        "0.5000",
        "checkpoint calibration (EER on dev)",
        "tiny-cnn",
        "no face found",
        "cannot decode image",
        "APCER",
        "BPCER",
        "ACER",
        "HTER",
    ):
        assert text in md and text in html, text
    assert "broken\\|one.png" in md  # pipes escaped inside markdown tables
    for name in PLOTS:
        assert f"]({name})" in md and f'src="{name}"' in html
    # the extra image is copied next to the report and referenced relatively
    copied = [p for p in out.iterdir() if p.name.endswith("gradcam.png")]
    assert len(copied) == 1
    assert f'src="{copied[0].name}"' in html and "Grad-CAM grid" in md
    assert str(tmp_path) not in html.split("<h2>Skipped")[0]


def test_write_report_without_videos_and_single_class(tmp_path):
    frames = [{"path": f"f{i}.png", "label": "live", "score": s} for i, s in enumerate([0.3, 0.8, 0.9])]
    metrics = compute_all([r["score"] for r in frames], [r["label"] for r in frames], 0.5)
    out = write_report(tmp_path, metrics, frames, None, None, [], "Live only", {})
    assert not (out / "predictions_videos.csv").exists()
    for name in PLOTS:
        assert (out / name).is_file()
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "n/a" in md and "only live samples present" in md
    assert "| Metric | frame |" in md
