"""What the Training panel says about a run: progress and text for ``fit()``'s events and for the outcomes.

Pure text from events and metrics, no widgets: the panel shows what these return.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from training.fit.events import TrainEvent


class Progress(NamedTuple):
    """A progress bar's value and maximum, and the status text beside it."""

    value: int
    maximum: int
    text: str


def fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


def cache_progress(ev: TrainEvent) -> Progress:
    return Progress(ev.step, ev.steps, f"Caching face crops {ev.step}/{ev.steps}")


def batch_progress(ev: TrainEvent) -> Progress:
    """Steps over all epochs of the phase, and where the run is in them."""
    loss, phase = ev.metrics.get("loss"), (ev.phase or "epoch").capitalize()  # Epoch, Distil, Refit
    return Progress(
        (ev.epoch - 1) * ev.steps + ev.step,
        ev.epochs * ev.steps,
        f"{phase} {ev.epoch}/{ev.epochs}, step {ev.step}/{ev.steps}"
        + (f", loss {loss:.4f}" if loss is not None else ""),
    )


def epoch_text(ev: TrainEvent) -> str:
    """The epoch's dev scores; "" when the epoch reported none."""
    frame = ev.metrics.get("dev", {}).get("frame", {})
    if not frame:
        return ""
    return f"Epoch {ev.epoch}/{ev.epochs}: dev AUC {fmt(frame.get('auc'))}, ACER {fmt(frame.get('acer'))}"


def done_progress(ev: TrainEvent) -> Progress:
    return Progress(1, 1, "Done" if ev.model_path is None else f"Done: {Path(ev.model_path).name} is in the Model menu")


def evaluated_progress(metrics: dict[str, Any]) -> Progress:
    frame = metrics.get("frame", {})
    return Progress(1, 1, f"Evaluated: AUC {fmt(frame.get('auc'))}, ACER {fmt(frame.get('acer'))}")


def cancelled_progress(out_dir: Path) -> Progress:
    """A cancelled run keeps the best checkpoint written so far in ``out_dir``, if an epoch ended."""
    best = out_dir / "best.pt"
    return Progress(
        0,
        1,
        f"Cancelled. The best model so far is kept: {best}"
        if best.is_file()
        else "Cancelled before the first epoch ended; no model was saved.",
    )
