"""What ``liveness-train`` and ``liveness-eval`` print and where a run goes (issue 25, item 6): a run folder in
the user data folder unless ``--out-dir`` says otherwise, metrics as a short table (percentages, "n/a", never
a raw dict or None), and a warning beside figures from too little data."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveness_app import paths
from liveness_app.core.meta import data_summary
from studio_fakes import tiny_dataset
from training.__main__ import main
from training.cli import config_from_args
from training.eval.table import metrics_table, small_data_warning


def test_a_run_goes_to_the_user_data_folder_unless_told(tmp_path: Path) -> None:
    assert Path(config_from_args(["--data", "d"]).out_dir) == paths.user_data_dir() / "runs" / "liveness-model"
    assert Path(config_from_args(["--data", "d", "--name", "mine"]).out_dir) == paths.user_data_dir() / "runs" / "mine"
    assert config_from_args(["--data", "d", "--out-dir", str(tmp_path / "x")]).out_dir == str(tmp_path / "x")
    assert config_from_args(["--data", "d"]).input_size == 128  # every shipped model's input


def test_a_small_run_says_where_it_went_and_what_its_figures_are_worth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_dataset(tmp_path / "data", per_class=4, groups=2)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)  # the folder the user stands in gets nothing
    rc = main(
        [
            "--data",
            f"cropped:{data}",
            "--name",
            "tiny",
            "--device",
            "cpu",
            "--input-size",
            "32",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--workers",
            "0",
            "--dev-groups",
            "subj1",
            "--no-install",
            "--ema-decay",
            "0",
            "--bn-refresh",
            "false",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    run = paths.user_data_dir() / "runs" / "tiny"
    assert list(here.iterdir()) == [] and (run / "best.pt").is_file()
    assert out.startswith(f"run folder: {run}\n")
    assert "liveness-train: warning: the dev split is small (4 live and 4 attack crops from 1 group" in err
    assert "an AUC of 1.000 here is no promise" in err
    epoch = next(line for line in out.splitlines() if line.startswith("epoch 1:"))
    assert "dev AUC " in epoch and " %" in epoch and "nan" not in epoch
    table = out.split("dev figures at the best epoch (1):\n")[1].splitlines()
    assert table[0].split()[:3] == ["level", "AUC", "EER"] and table[1].startswith("frame")
    assert "None" not in out and "{" not in out


def test_metrics_read_as_a_table_with_n_a_for_what_is_undefined() -> None:
    frame = {
        "auc": 0.98765,
        "eer": 0.041,
        "bpcer": None,
        "apcer": {"print": 0.0, "replay": 0.0833},
        "acer": 0.0833,
        "n_live": 0,
        "n_attack": 240,
    }
    text = metrics_table({"frame": frame, "threshold_source": "..."})
    header, row = text.splitlines()
    assert header.split()[:2] == ["level", "AUC"]
    assert row.split() == [
        "frame",
        "0.988",
        "4.1",
        "%",
        "n/a",
        "print",
        "0.0",
        "%,",
        "replay",
        "8.3",
        "%",
        "8.3",
        "%",
        "0",
        "/",
        "240",
    ]
    assert metrics_table({"frame": {"auc": float("nan")}}).splitlines()[1].split()[1] == "n/a"


def test_the_small_data_warning_needs_both_classes_and_several_groups() -> None:
    big = ["live"] * 150 + ["print"] * 150
    assert small_data_warning(big, ["a", "b"] * 150, "dev") is None
    assert (small_data_warning(big, ["a"] * 300, "dev") or "").startswith("dev holds one group only (150 live")
    assert "99 attack" in (small_data_warning(["live"] * 150 + ["print"] * 99, ["a", "b"] * 124 + ["a"], "dev") or "")


def test_what_a_model_was_trained_on_is_one_line_whatever_its_metadata_says() -> None:
    assert data_summary({}) == "not recorded"
    assert data_summary({"data": "none: untrained test model"}) == "none: untrained test model"
    assert data_summary({"data": {"train": {"samples": "many"}}}) == "not recorded"
    assert len(data_summary({"data": "x" * 5000})) == 400
    assert (
        data_summary(
            {
                "data": {
                    "train": {"samples": 12, "groups": 1, "per_label": {"live": 6, "print": 6}, "per_group": {"me": 12}}
                }
            }
        )
        == "train: 12 samples (live 6, print 6) from 1 group (me)"
    )
