"""One person, one camera: the later sessions are dev, training fine-tunes the active model, calibration
alone sets a threshold; CI-sized, on sessions of the sample video written by the app's own recorder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from liveness_app.core.camera import VideoFileSource
from liveness_app.core.model import load_checkpoint
from liveness_app.core.recorder import Recorder, SessionStore
from studio_fakes import make_checkpoint
from training.config import FINETUNE, TrainConfig
from training.data.samples import Sample, load_recordings
from training.data.splits import ONE_PERSON_NOTE, SplitError, split_by_session
from training.eval import thresholds as T
from training.fit.loop import fit

TINY = {
    "batch_size": 8,
    "workers": 0,
    "frames_per_video": 4,
    "train_frames_per_video": 4,
    "eval_frames_per_video": 4,
    "epoch_size": 16,
    "epochs": 2,
}


def record_sessions(root: Path, video: Path, takes: list[tuple[str, str]], frames: int = 12) -> Path:
    """Sessions written by the app's recorder, in this order (their names carry the time: path order)."""
    store = SessionStore(root)
    source = VideoFileSource(video)
    try:
        for label, subject in takes:
            rec = Recorder(store, label, subject, camera="cam0", fps=source.fps, size=(640, 480))
            for _ in range(frames):
                rec.write(source.read(), block=True)
            rec.stop()
    finally:
        source.close()
    return root


def _s(label: str, video: str) -> Sample:
    return Sample(Path(f"/rec/{video}.avi"), label, "me", "video")


def test_one_person_is_split_by_session_in_time() -> None:
    samples = [
        _s("live", "01"),
        _s("print", "02"),
        _s("live", "03"),
        _s("print", "04"),
        _s("live", "05"),
        _s("replay", "06"),
        _s("replay", "07"),
    ]
    train, dev = split_by_session(samples, dev_fraction=0.34)
    assert sorted(s.path.stem for s in dev) == ["04", "05", "07"]  # the last third of each label
    assert {s.path.stem for s in train} == {"01", "02", "03", "06"}


@pytest.mark.parametrize(
    "samples, message",
    [
        ([_s("live", "1"), _s("live", "2")], "no attack session"),
        ([_s("print", "1"), _s("print", "2")], "no live session"),
        ([_s("live", "1"), _s("live", "2"), _s("print", "3")], "only one 'print' session: record a second"),
    ],
)
def test_what_cannot_work_is_refused_with_what_to_record_next(samples, message) -> None:
    with pytest.raises(SplitError, match=message):
        split_by_session(samples)


def test_a_single_subject_fine_tunes_the_active_model(tmp_path: Path, sample_video: Path) -> None:
    rec = record_sessions(
        tmp_path / "rec", sample_video, [("live", "me"), ("print", "me"), ("live", "me"), ("print", "me")]
    )
    assert {s.group for s in load_recordings(rec)} == {"me"}
    base = make_checkpoint(tmp_path / "base.pt", input_size=48, name="base")
    cfg = TrainConfig(
        **{
            **FINETUNE,
            **TINY,
            "data": (str(rec),),
            "init": str(base),
            "out_dir": str(tmp_path / "run"),
            "cache_dir": str(tmp_path / "cache"),
            "install": False,
            "name": "mine",
            "freeze_blocks": 8,  # an option (FINETUNE trains every block): frozen ones stay put
            "input_size": 224,
        }
    )  # the base's 48 px wins: its preprocessing is kept
    events = list(fit(cfg))
    assert any(e.kind == "warning" and ONE_PERSON_NOTE in e.message for e in events)
    model, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    assert meta.preprocessing.input_size == 48 and meta.training["fine_tuned_from"] == "base.pt"
    assert meta.training["data"]["split"] == ONE_PERSON_NOTE and "same person" in meta.training["calibration"]["on"]
    base_model, _ = load_checkpoint(base)
    frozen, trained = "features.1.block.0.0.weight", "classifier.3.weight"
    assert torch.equal(model.state_dict()[frozen], base_model.state_dict()[frozen])  # early blocks kept
    assert not torch.equal(model.state_dict()[trained], base_model.state_dict()[trained])


def test_refit_trains_again_on_train_and_dev_for_the_early_stopped_epochs(
    tmp_path: Path, sample_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``refit``, the installed model trains from the base on every session (dev too) for as many
    epochs as the early-stopped one, at the same learning rates, and keeps its dev threshold; the
    early-stopped twin stays beside it."""
    from training.fit import refit

    rec = record_sessions(
        tmp_path / "rec", sample_video, [("live", "me"), ("print", "me"), ("live", "me"), ("print", "me")]
    )
    base = make_checkpoint(tmp_path / "base.pt", input_size=48, name="base")
    seen: list[tuple[int, set[str]]] = []
    real = refit.epoch_entries
    monkeypatch.setattr(
        refit,
        "epoch_entries",
        lambda items, *a: (seen.append((a[-1], {it.sample.path.name for it in items})), real(items, *a))[1],
    )
    cfg = TrainConfig(
        **{
            **FINETUNE,
            **TINY,
            "data": (str(rec),),
            "init": str(base),
            "out_dir": str(tmp_path / "run"),
            "cache_dir": str(tmp_path / "cache"),
            "install": False,
            "name": "mine",
            "refit": True,
            "epochs": 3,
            "patience": 1,
        }
    )
    events = list(fit(cfg))
    twin, final = tmp_path / "run" / "best.pt", tmp_path / "run" / refit.REFIT_NAME
    assert events[-1].kind == "done" and events[-1].model_path == final
    _, twin_meta = load_checkpoint(twin)
    model, meta = load_checkpoint(final)
    assert [epoch for epoch, _ in seen] == list(range(1, twin_meta.training["epoch"] + 1))
    assert all(names == {p.name for p in rec.rglob("*.avi")} for _, names in seen)  # all four sessions
    chosen = meta.training["refit"]["threshold"]
    assert chosen["twin"] == twin_meta.threshold and chosen["rule"] == "blend" and 0 < chosen["own"] < 1
    assert meta.threshold == pytest.approx(T.logit_mean(twin_meta.threshold, chosen["own"]))  # halfway in logits
    assert min(chosen["twin"], chosen["own"]) <= meta.threshold <= max(chosen["twin"], chosen["own"])
    assert meta.training["refit"]["epochs"] == twin_meta.training["epoch"]
    assert meta.training["refit"]["on"] == "train + dev" and "this model trained on dev too" in meta.metrics["note"]
    assert not torch.equal(
        model.state_dict()["classifier.3.weight"], load_checkpoint(twin)[0].state_dict()["classifier.3.weight"]
    )


def test_fine_tune_options_need_a_model_to_start_from() -> None:
    with pytest.raises(ValueError, match="need a model to start from"):
        TrainConfig(freeze_blocks=4)


@pytest.mark.parametrize("stage", [{"distill_from": "mnv2.pth"}, {"teacher": "teacher.pt"}])
def test_refit_refuses_the_stages_it_would_not_repeat(stage: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="refit repeats the training epochs only"):
        TrainConfig(refit=True, **stage)


def test_the_refit_threshold_rule_is_checked_and_the_blend_is_halfway_in_logits() -> None:
    with pytest.raises(ValueError, match="refit_threshold must be one of twin, blend"):
        TrainConfig(refit_threshold="mean")
    from scipy.special import expit

    assert T.logit_mean(expit(-2.0), expit(4.0)) == pytest.approx(expit(1.0))
    assert T.logit_mean(0.3, 0.3) == pytest.approx(0.3) and T.logit_mean(0.0, 1.0) == pytest.approx(0.5)


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


@pytest.mark.parametrize(
    "kept, adapted, calibrated, n, expected",
    [
        (0.0, 0.0, 0.0, 100, "kept"),  # the dev sessions cannot tell them apart: nothing changes
        (0.0, 0.1, 0.0, 100, "kept"),
        (0.2, 0.0, 0.0, 100, "calibrated"),  # a tie between two changes: the smaller one
        (0.2, 0.1, 0.05, 100, "calibrated"),
        (0.2, 0.05, 0.1, 100, "adapted"),
        (0.05, 0.1, 0.1, 100, "kept"),
        (0.05, 0.04, 0.1, 100, "kept"),  # one point better is not evidence
        (0.10, 0.03, 0.1, 100, "adapted"),
        (0.10, 0.03, 0.1, 12, "kept"),  # 7 points on 12 frames of a class: under two frames' worth (8.3 points)
        (0.20, 0.03, 0.2, 12, "adapted"),
    ],
)
def test_the_model_is_kept_unless_a_change_is_better_on_dev_by_more_than_a_few_frames(
    kept, adapted, calibrated, n, expected
) -> None:
    from training.adapt import ADVICE, recommend

    counts = {"n_live": n, "n_attack": 3 * n}
    judged = {
        "kept": {"acer": kept, **counts},
        "adapted": {"acer": adapted, **counts},
        "calibrated": {"acer": calibrated, **counts},
    }
    assert recommend(judged) == expected
    assert set(ADVICE) == set(judged)


def test_the_advice_explains_a_recommendation_the_held_out_sessions_do_not_bear_out() -> None:
    from training.adapt import ADAPTED_NOT_BETTER, ADVICE, advice, sentence

    same = {"acer": 0.5, "bpcer": 1.0, "apcer": 0.0, "n_live": 16, "n_attack": 16}
    text = sentence(same, same) + advice("adapted", better_on_held_out=False)
    assert text.startswith("The adapted model is not better") and text.endswith(ADAPTED_NOT_BETTER)
    assert "dev sessions" in ADAPTED_NOT_BETTER and "switches back" in ADAPTED_NOT_BETTER
    assert advice("adapted", better_on_held_out=True) == ""
    assert advice("kept", better_on_held_out=True) == ADVICE["kept"]
    assert advice("calibrated", better_on_held_out=False) == ADVICE["calibrated"]
