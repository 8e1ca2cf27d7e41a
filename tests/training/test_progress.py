"""Staged progress (training.progress): each stage its share of the bar and its own counts, the bar never full
before the end, the time left from this run's measured pace (a fake clock: nothing here depends on speed),
and the events of a real CI-sized "Adapt to my camera" run going through its stages in order."""

from __future__ import annotations

from pathlib import Path

import pytest
from adaptation_helpers import TINY, record_sessions

from studio_fakes import make_checkpoint
from training.config import FINETUNE, TrainConfig
from training.fit.events import TrainEvent
from training.progress import Stage, StagedProgress, adapt_stages, apply, duration_text, fit_stages


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def plan(clock: Clock) -> StagedProgress:
    return StagedProgress(
        [Stage("cache", "Caching face crops", 0.2, "files"), Stage("train", "Training", 0.8, "steps")], clock
    )


def test_caching_everything_fills_only_the_caching_share_of_the_bar() -> None:
    progress = plan(Clock())
    apply(progress, TrainEvent("cache", step=4, steps=4))
    assert progress.fraction == pytest.approx(0.2)
    assert progress.stage_text() == "Caching face crops 4/4 files (stage 1 of 2)"
    apply(progress, TrainEvent("batch", 2, 5, 3, 12))  # epoch 2 of 5, step 3 of 12
    assert progress.fraction == pytest.approx(0.2 + 0.8 * 15 / 60)
    assert progress.stage_text() == "Training 15/60 steps: epoch 2 of 5 (stage 2 of 2)"
    apply(progress, TrainEvent("stage", 2, 5, 12, 12, "checking epoch 2 on the dev split"))
    assert "checking epoch 2 on the dev split" in progress.stage_text()
    assert progress.fraction < 1.0
    progress.finish()
    assert progress.fraction == 1.0


def test_the_bar_never_goes_back() -> None:
    progress = plan(Clock())
    apply(progress, TrainEvent("batch", 1, 1, 1, 4))
    before = progress.fraction
    apply(progress, TrainEvent("cache", step=1, steps=9))  # a late caching event: a note, not a step back
    assert progress.fraction == before and progress.current.key == "train"
    apply(progress, TrainEvent("stage", message="unknown stage", phase="no-such-stage"))
    assert progress.fraction == before
    apply(progress, TrainEvent("batch", 1, 1, 1, 40))  # counted again over a new total: the bar stays
    assert progress.fraction == before and progress.stage_text().startswith("Training 1/40 steps")


def test_the_time_left_comes_from_the_pace_measured_in_this_run() -> None:
    clock = Clock()
    progress = StagedProgress(
        [Stage("cache", "Caching", 0.2, "files"), Stage("train", "Training", 0.6), Stage("refit", "Refit", 0.2)],
        clock,
    )
    apply(progress, TrainEvent("cache", step=1, steps=10))
    clock.now += 1.0
    assert progress.seconds_left() is None and progress.stage_seconds_left() is None  # too early to measure
    assert progress.time_text() == "1 s so far; the time left is timed once Training runs"
    clock.now += 9.0  # caching: 10 s for 2 of 10 files; its pace says nothing of training's
    apply(progress, TrainEvent("cache", step=2, steps=10))
    assert progress.seconds_left() is None and progress.stage_seconds_left() == pytest.approx(40.0)
    assert progress.time_text() == "10 s so far, about 40 s left in this stage; the rest is timed once Training runs"
    clock.now += 40.0
    apply(progress, TrainEvent("cache", step=10, steps=10))  # all cached; what follows still belongs to it
    assert progress.time_text().startswith("50 s so far, this stage is finishing; ")
    apply(progress, TrainEvent("batch", 1, 1, 0, 60))
    clock.now += 20.0  # training: 20 s for half its steps
    apply(progress, TrainEvent("batch", 1, 1, 30, 60))
    # its own rest at its own rate, 20 s; the refit's share at training's pace (20 s per 0.3 of the bar)
    assert progress.seconds_left() == pytest.approx(20.0 + 0.2 * 20.0 / 0.3)
    assert progress.time_text() == "1 min so far, about 30 s left at this pace"
    clock.now += 20.0
    apply(progress, TrainEvent("batch", 1, 1, 2, 10, phase="refit"))  # training over: its whole time times the rest
    assert progress.seconds_left() == pytest.approx(0.2 * 0.8 * 40.0 / 0.6)


def test_after_a_whole_epoch_the_pace_includes_its_dev_check() -> None:
    clock = Clock()
    progress = plan(clock)
    apply(progress, TrainEvent("cache", step=1, steps=1))
    apply(progress, TrainEvent("batch", 1, 4, 0, 10))
    clock.now += 10.0  # epoch 1's batches: 10 s
    apply(progress, TrainEvent("batch", 1, 4, 10, 10))
    assert progress.stage_seconds_left() == pytest.approx(30.0)  # the batches alone: 10 s an epoch
    clock.now += 10.0  # its dev check: another 10 s, then the epoch is over
    apply(progress, TrainEvent("stage", 1, 4, 10, 10, "checking epoch 1 on the dev split"))
    apply(progress, TrainEvent("epoch", 1, 4, message="epoch 1"))
    assert progress.stage_seconds_left() == pytest.approx(60.0)  # 20 s an epoch, 3 epochs to go
    clock.now += 5.0
    apply(progress, TrainEvent("batch", 2, 4, 5, 10))  # mid-epoch: still read at whole epochs
    assert progress.stage_seconds_left() == pytest.approx(50.0)
    assert progress.seconds_left() == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("seconds", "text"), [(4, "4 s"), (44, "40 s"), (59, "60 s"), (61, "1 min"), (150, "2 min"), (4800, "1 h 20 min")]
)
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_the_plans_follow_the_run() -> None:
    cfg = TrainConfig(data=("x",), init="base.pt", refit=True)
    assert [s.key for s in fit_stages(cfg)] == ["cache", "decode", "train", "refit"]
    assert fit_stages(cfg)[2].label == "Fine-tuning"
    assert [s.key for s in fit_stages(TrainConfig(data=("x",)))] == ["cache", "decode", "train"]
    assert [s.key for s in adapt_stages(FINETUNE)] == ["cache", "calibrate", "train", "refit", "evaluate"]
    assert "refit" not in [s.key for s in adapt_stages({**FINETUNE, "refit": False})]


def test_an_adapt_run_goes_through_its_stages_in_order(tmp_path: Path, sample_video: Path) -> None:
    from training.adapt import adapt_to_camera
    from training.data.samples import load_recordings
    from training.fit.events import returned

    takes = [("live", "me"), ("print", "me")] * 3
    sessions = load_recordings(record_sessions(tmp_path / "rec", sample_video, takes))
    train, held = sessions[:4], sessions[4:]
    base = make_checkpoint(tmp_path / "base.pt", input_size=32, name="base")
    recipe = {**TINY, "epochs": 1, "refit": True}
    progress = StagedProgress(adapt_stages({**FINETUNE, **recipe}))
    seen: list[tuple[str, float]] = []

    def on_event(ev: TrainEvent) -> None:
        apply(progress, ev)
        seen.append((progress.current.key, progress.fraction))

    out, cache = tmp_path / "out", tmp_path / "cache"
    flow = adapt_to_camera(base, train, held, out, "mine", device="cpu", cache_dir=cache, install=False, recipe=recipe)
    result = returned(flow, on_event)
    assert result["headline"].startswith("Recommended: ") and result["headline"].count(".") <= 3
    keys = [k for k, _ in seen]
    assert sorted(set(keys), key=keys.index) == ["cache", "calibrate", "train", "refit", "evaluate"]
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0  # only finish() fills the bar
    cached = [ev for ev in seen if ev[0] == "cache"]
    assert len(cached) == len(sessions) + 1  # 0 of 6, then one per session
