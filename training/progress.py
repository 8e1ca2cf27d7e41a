"""A long run's progress in stages, with the time left estimated from this run's own pace; no Qt.

A run (training, or adapting a model to a camera) goes through stages: caching face crops, calibrating,
fine-tuning, checking. Each has its share of the whole bar (its expected part of the time) and its own label
with counts, so the bar never says 100 % while crops are still being cached. The time left is measured, not
promised: the current stage's rest at the rate it has gone so far, and the stages still to come at the pace
of the heaviest stage (training) as measured in this run, on this machine, with whatever else runs on it.
Before training has run a few seconds there is no whole estimate, and the text says so.

:func:`apply` reads a :class:`~training.fit.events.TrainEvent`; :func:`fit_stages` and :func:`adapt_stages` are
the plans of the Training panel's runs and of "Adapt to my camera". The GUI only shows what this computes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from training.fit.events import TrainEvent

MIN_MEASURE_S = 3.0  # no estimate before the run (or the stage, for its own rate) has taken this long


@dataclass(frozen=True)
class Stage:
    """One part of a run: ``key`` (what events name it), its label, its share of the bar, what it counts."""

    key: str
    label: str
    share: float
    unit: str = ""


@dataclass
class _State:
    done: int = 0
    total: int = 0
    started: float | None = None
    finished: float | None = None
    detail: str = ""
    reached: float = 0.0  # the most of the stage done so far: a recount (a new total) never moves the bar back
    lap: tuple[float, float] | None = None  # (seconds in the stage, fraction) at its last whole epoch


def duration_text(seconds: float) -> str:
    """A duration as people say it: "40 s", "3 min", "1 h 20 min"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{max(1, round(seconds / 10) * 10) if seconds >= 10 else max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


class StagedProgress:
    """Where a run is among ``stages``: the bar's fraction, the current stage's text, the time left."""

    def __init__(self, stages: Sequence[Stage], clock: Callable[[], float] = time.monotonic) -> None:
        if not stages:
            raise ValueError("a staged progress needs at least one stage")
        total = sum(s.share for s in stages)
        self.stages = [Stage(s.key, s.label, s.share / total, s.unit) for s in stages]
        self._states = [_State() for _ in stages]
        self._clock = clock
        self._current = 0
        self._anchor = max(range(len(stages)), key=lambda i: self.stages[i].share)  # times the run
        self._started = clock()
        self._states[0].started = self._started
        self.finished = False

    @property
    def current(self) -> Stage:
        return self.stages[self._current]

    def update(self, key: str, done: int | None = None, total: int | None = None, detail: str | None = None) -> None:
        """Stage ``key`` is under way (the stages before it are over), ``done`` of ``total`` units. A key
        not in the plan is ignored; one before the current stage only updates the current one's ``detail``
        (a bar never goes back)."""
        index = next((i for i, s in enumerate(self.stages) if s.key == key), None)
        if index is None:
            return
        now = self._clock()
        if index < self._current:
            index = self._current
            done = total = None
        while self._current < index:
            self._states[self._current].finished = now
            self._current += 1
            self._states[self._current].started = now
        state = self._states[index]
        if total is not None and total > 0:
            state.total = total
        if done is not None:
            state.done = max(0, min(done, state.total)) if state.total else 0
        if state.total:
            state.reached = max(state.reached, state.done / state.total)
        if detail is not None:
            state.detail = detail

    def lap(self, key: str) -> None:
        """A whole epoch of stage ``key`` is over, its dev check included: from now on its rate is read at
        whole epochs (the batches alone run faster than epochs with their checks)."""
        state = self._states[self._current]
        if self.current.key == key and state.started is not None and state.reached > 0:
            state.lap = (self._clock() - state.started, state.reached)

    def _rate(self, i: int) -> tuple[float, float]:
        """(seconds, fraction) of stage ``i`` to read its pace from: its last whole epoch, else now."""
        state = self._states[i]
        if state.lap is not None and state.finished is None:
            return state.lap
        return (state.finished or self._clock()) - (state.started or self._clock()), self._stage_fraction(i)

    def finish(self) -> None:
        """The run is over: every stage complete."""
        now = self._clock()
        for state in self._states[self._current :]:
            state.finished = state.finished or now
        self._current = len(self.stages) - 1
        self.finished = True

    def _stage_fraction(self, i: int) -> float:
        state = self._states[i]
        return 1.0 if state.finished is not None else state.reached

    @property
    def fraction(self) -> float:
        """How much of the whole run is done, 0..1, by the stages' shares."""
        return min(1.0, sum(s.share * self._stage_fraction(i) for i, s in enumerate(self.stages)))

    def elapsed(self) -> float:
        return self._clock() - self._started

    def stage_seconds_left(self) -> float | None:
        """The rest of the current stage at its own measured rate; None until it has run a while and moved."""
        part = self._stage_fraction(self._current)
        spent, measured = self._rate(self._current)
        if 0.0 < part < 1.0 and measured > 0.0 and spent >= MIN_MEASURE_S:
            return spent / measured * (1.0 - part)
        return 0.0 if part >= 1.0 else None

    def _pace(self) -> float | None:
        """Seconds per whole bar, as the heaviest stage (the largest share) has gone on this machine: the light
        stages before it (caching crops already made, calibrating) say nothing of how long training takes."""
        i = self._anchor
        state, share = self._states[i], self.stages[i].share
        if state.started is None:
            return None
        spent, part = self._rate(i)
        if state.finished is None and (part <= 0.0 or spent < MIN_MEASURE_S):
            return None
        return spent / (max(part, 1e-9) * share)

    def seconds_left(self) -> float | None:
        """The time left at this run's measured pace; None until the heaviest stage has been measured."""
        if self.finished:
            return 0.0
        pace = self._pace()
        if pace is None:
            return None
        rest_here = self.stage_seconds_left()
        if rest_here is None:
            rest_here = self.current.share * (1.0 - self._stage_fraction(self._current)) * pace
        later = sum(s.share for s in self.stages[self._current + 1 :])
        return rest_here + later * pace

    def stage_text(self) -> str:
        """ "Fine-tuning 24/60 steps (stage 3 of 5)", with what it is doing when an event said so."""
        stage, state = self.current, self._states[self._current]
        counts = f" {state.done}/{state.total}{' ' + stage.unit if stage.unit else ''}" if state.total else ""
        detail = f": {state.detail}" if state.detail else ""
        return f"{stage.label}{counts}{detail} (stage {self._current + 1} of {len(self.stages)})"

    def time_text(self) -> str:
        """ "3 min so far, about 4 min left at this pace", or as much of it as can be told yet."""
        so_far = f"{duration_text(self.elapsed())} so far"
        left = self.seconds_left()
        if left is not None:
            return f"{so_far}, about {duration_text(left)} left at this pace"
        heavy = self.stages[self._anchor].label
        here = self.stage_seconds_left()
        if here is not None:
            stage = "this stage is finishing" if here < 1.0 else f"about {duration_text(here)} left in this stage"
            return f"{so_far}, {stage}; the rest is timed once {heavy} runs"
        return f"{so_far}; the time left is timed once {heavy} runs"

    def text(self) -> str:
        return f"{self.stage_text()}\n{self.time_text()}"


def apply(progress: StagedProgress, ev: TrainEvent) -> None:
    """Move ``progress`` on by one event of ``fit()`` or ``adapt_to_camera()``."""
    if ev.kind == "done":
        return  # fit's end is not the run's end where more follows (adapt checks the result): finish() says it
    if ev.kind == "cache":
        progress.update(ev.phase or "cache", ev.step, ev.steps, "")
    elif ev.kind == "batch":
        done, total = (ev.epoch - 1) * ev.steps + ev.step, ev.epochs * ev.steps
        progress.update(ev.phase or "train", done, total, f"epoch {ev.epoch} of {ev.epochs}")
    elif ev.kind == "epoch" and ev.epochs:  # after the epoch's dev check: the pace with the checks in it
        progress.lap(ev.phase or "train")
    elif ev.kind == "stage":
        if ev.epochs and ev.steps:  # inside an epoch-counted stage: the same count as its batches
            progress.update(ev.phase or "train", (ev.epoch - 1) * ev.steps + ev.step, ev.epochs * ev.steps, ev.message)
        else:
            progress.update(ev.phase or "train", ev.step if ev.steps else None, ev.steps or None, ev.message)


def fit_stages(cfg: Any) -> list[Stage]:
    """The stages of ``fit(cfg)`` (a :class:`~training.config.TrainConfig`): caching, the optional teachers,
    decoding the crops (quick when a store of them is already made), the optional distillation, training, the
    optional refit. Shares: rough costs on a CPU; the time left is measured."""
    stages = [Stage("cache", "Caching face crops", 0.1, "files")]
    if getattr(cfg, "teachers", None):
        stages.append(Stage("teachers", "Teachers scoring faces", 0.15, "faces"))
    stages.append(Stage("decode", "Decoding face crops once", 0.05, "crops"))  # training.data.store
    if getattr(cfg, "distill_from", None):
        stages.append(Stage("distil", "Distilling features", 0.2, "steps"))
    label = "Fine-tuning" if getattr(cfg, "init", None) else "Training"
    stages.append(Stage("train", label, 0.7, "steps"))
    if getattr(cfg, "refit", False):
        stages.append(Stage("refit", f"{label} again on train + dev", 0.2, "steps"))
    return stages


def adapt_stages(recipe: Mapping[str, Any]) -> list[Stage]:
    """The stages of :func:`training.adapt.adapt_to_camera` with ``recipe`` (FINETUNE and its overrides).
    Shares from a run of the default recipe on a busy 2-core CPU (608 s: caching 3 s, calibrating 6 s,
    fine-tuning 538 s with its dev checks, refit 54 s for the one epoch early stopping chose, of up to 5,
    checking 6 s); refit is given room for a few epochs."""
    stages = [
        Stage("cache", "Caching face crops of your sessions", 0.03, "sessions"),
        Stage("calibrate", "Calibrating the threshold", 0.02),
        Stage("train", "Fine-tuning", 0.72, "steps"),
    ]
    if recipe.get("refit", False):
        stages.append(Stage("refit", "Fine-tuning again on all your training sessions", 0.2, "steps"))
    stages.append(Stage("evaluate", "Checking on your sessions", 0.03, "models"))
    return stages
