"""One person, one camera: the later sessions are dev, training fine-tunes the active model, calibration
alone sets a threshold; CI-sized, on sessions of the sample video written by the app's own recorder.
(The adaptation benchmark: test_adaptation_bench.py; the advice after adapting: test_adaptation_advice.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from adaptation_helpers import TINY, record_sessions

from liveness_app.core.model import load_checkpoint
from studio_fakes import make_checkpoint
from training.config import FINETUNE, TrainConfig
from training.data.samples import Sample, load_recordings
from training.data.splits import ONE_PERSON_NOTE, SplitError, split_by_session
from training.eval import thresholds as T
from training.fit.loop import fit


def _s(label: str, video: str) -> Sample:
    return Sample(Path(f"/rec/{video}.avi"), label, "me", "video")


def finetune_config(tmp_path: Path, rec: Path, base: Path, **extra: Any) -> TrainConfig:
    """The app's fine-tune schedule at CI size on recordings ``rec``, from ``base``; ``extra`` overrides."""
    where = {"out_dir": str(tmp_path / "run"), "cache_dir": str(tmp_path / "cache"), "install": False}
    run = {"data": (str(rec),), "init": str(base), "name": "mine"}
    return TrainConfig(**{**FINETUNE, **TINY, **run, **where, **extra})


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
    # freeze_blocks is an option (FINETUNE trains every block): frozen ones stay put; the base's 48 px wins
    # over input_size 224: its preprocessing is kept
    cfg = finetune_config(tmp_path, rec, base, freeze_blocks=8, input_size=224)
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
    cfg = finetune_config(tmp_path, rec, base, refit=True, epochs=3, patience=1)
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


def test_a_user_named_like_a_locked_group_keeps_every_recording(tmp_path: Path, sample_video: Path) -> None:
    from training.data.locked import locked_groups
    from training.fit.events import returned
    from training.fit.prepare import prepare_data

    name = sorted(locked_groups())[0]  # the locked split guards shipped models, not a user's own data
    rec = record_sessions(tmp_path / "rec", sample_video, [("live", name), ("print", name)] * 2)
    base = make_checkpoint(tmp_path / "base.pt", input_size=48, name="base")
    events: list = []
    data = returned(prepare_data(finetune_config(tmp_path, rec, base)), events.append)
    assert data.summary["locked_split_left_out"] == 0
    assert {item.sample.group for item in data.train + data.dev} == {name}
    assert not any("locked" in (e.message or "") for e in events)
