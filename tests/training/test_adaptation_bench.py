"""The adaptation benchmark (:mod:`training.studies.adapt_bench`) on generated data, and the script that turns
one user's frames into app recordings for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from adaptation_helpers import TINY

from liveness_app.core.session_store import SessionStore
from studio_fakes import make_checkpoint
from training.data.samples import load_recordings


def test_the_adaptation_benchmark_runs_on_generated_data(tmp_path: Path) -> None:
    import json

    from studio_fakes import tiny_dataset as _tiny_dataset
    from training.studies.adapt_bench import main as bench_main

    data = _tiny_dataset(tmp_path / "data", per_class=10, groups=2)
    base = make_checkpoint(tmp_path / "base.pt", input_size=32, name="base")
    recipe = json.dumps({**TINY, "epochs": 1})
    assert (
        bench_main(
            [
                "--data",
                f"cropped:{data}",
                "--model",
                str(base),
                "--out",
                str(tmp_path / "bench"),
                "--minutes",
                "0.1",
                "--recipe",
                recipe,
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    result = json.loads((tmp_path / "bench" / "adapt.json").read_text())
    assert [u["group"] for u in result["users"]] == ["subj0", "subj1"]
    for user in result["users"]:
        assert {"before", "calibrated", "adapted"} <= set(user) and user["seconds"] > 0
        steps = user["stage_seconds"]  # the flow's steps one by one: they make up its time
        assert list(steps) == ["cache", "calibrate", "fine-tune", "choose"] and min(steps.values()) >= 0
        assert sum(steps.values()) == pytest.approx(user["seconds"], abs=0.3)
        for cond in ("before", "calibrated", "adapted"):
            assert {"auc", "apcer", "bpcer", "acer"} <= set(user[cond])
        assert user["recorded"] == 10 and user["later"] >= 10  # at most half of each label is "recorded"
    assert "| subj0 |" in (tmp_path / "bench" / "adapt.md").read_text()
    assert {"before", "calibrated", "adapted", "users"} <= set(result["summary"])
    assert sum(result["summary"]["choices"].values()) == 2
    scores = np.load(tmp_path / "bench" / "users" / "subj0" / "scores.npz")
    assert len(scores["later_labels"]) == len(scores["later_base"]) == len(scores["later_adapted"]) > 0
    assert len(scores["dev_labels"]) == len(scores["dev_adapted"]) > 0 and scores["thresholds"].shape == (3,)


def test_the_adaptation_benchmark_refuses_a_bad_base_or_group_before_any_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from studio_fakes import tiny_dataset as _tiny_dataset
    from training.studies.adapt_bench import main as bench_main

    data = _tiny_dataset(tmp_path / "data", per_class=4, groups=2)
    base = make_checkpoint(tmp_path / "base.pt", input_size=32, name="base")
    (tmp_path / "foreign.pt").write_bytes(b"not a model")
    runs = {
        "missing base": ["--model", str(tmp_path / "missing.pt")],
        "foreign base": ["--model", str(tmp_path / "foreign.pt")],
        "unknown group": ["--model", str(base), "--groups", "subj0", "nobody"],
    }
    for why, args in runs.items():
        with pytest.raises(SystemExit) as stopped:
            bench_main(["--data", f"cropped:{data}", "--out", str(tmp_path / "bench"), *args])
        assert stopped.value.code == 2, why
        err = capsys.readouterr().err
        assert ("nobody" in err) if why == "unknown group" else ("--model:" in err), why
    assert not (tmp_path / "bench").exists()  # nothing started


def test_a_users_frames_become_app_recordings_in_capture_order(tmp_path: Path) -> None:
    import importlib.util

    from studio_fakes import tiny_dataset as _tiny_dataset

    spec = importlib.util.spec_from_file_location(
        "images_to_recordings", Path(__file__).parents[2] / "scripts" / "images_to_recordings.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    data = _tiny_dataset(tmp_path / "data", per_class=4, groups=2)
    out = tmp_path / "rec"
    assert (
        script.main(
            [
                "--data",
                f"cropped:{data}",
                "--group",
                "subj1",
                "--out",
                str(out),
                "--sessions",
                "2",
                "--session-seconds",
                "0.2",
            ]
        )
        == 0
    )
    samples = load_recordings(out)
    assert len(samples) == 4 and {s.group for s in samples} == {"subj1"}  # 2 labels x 2 sessions, one user
    assert sorted(s.label for s in samples) == sorted(2 * list({s.label for s in samples}))
    sessions = SessionStore(out).read().sessions
    assert all(s["frames"] == 6 and s["fps"] == 30.0 and s["status"] == "complete" for s in sessions)
    broken = sorted(p for p in data.rglob("*") if p.is_file() and p.suffix in {".png", ".jpg"})[0]
    broken.write_bytes(b"not an image")
    with pytest.raises(SystemExit, match="cannot read image"):
        script.main(["--data", f"cropped:{data}", "--group", "subj0", "--out", str(tmp_path / "rec2")])
