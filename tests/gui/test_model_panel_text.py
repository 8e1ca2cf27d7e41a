"""The Model panel states training data and metrics in words, not as raw metadata dicts."""

from __future__ import annotations

from liveness_app.gui.panels.info import metrics_line, trained_on


def test_training_summary_and_metrics_read_as_sentences() -> None:
    training = {
        "data": {
            "train": {"samples": 9607, "groups": 8, "per_label": {"live": 5442, "print": 965}},
            "dev_groups": ["a", "b"],
        }
    }
    assert trained_on(training) == "9,607 samples from 8 groups (live 5,442, print 965); dev groups: a, b"
    many = {"data": {**training["data"], "dev_groups": ["a", "b", "c", "d", "e"]}}
    assert trained_on(many).endswith("dev groups: a, b, c and 2 more")  # a long list would not fit the panel
    assert trained_on({"data": "none: untrained test model"}) == "none: untrained test model"
    metrics = {"dev": {"frame": {"auc": 0.9731, "eer": 0.0972, "acer": 0.1269}}, "note": "held out"}
    assert metrics_line(metrics) == "dev: AUC 0.973, EER 9.7 %, ACER 12.7 %"
