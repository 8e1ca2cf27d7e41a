"""What the Training panel says about a run: its staged progress (:mod:`training.progress`) and the outcomes.

Pure text from events and metrics, no widgets: the panel shows what these return.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from training.fit.events import TrainEvent
from training.progress import StagedProgress


class Progress(NamedTuple):
    """A progress bar's value and maximum, and the status text beside it."""

    value: int
    maximum: int
    text: str


def fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


def staged(progress: StagedProgress) -> Progress:
    """The bar at the run's staged fraction (per mille), the current stage with its counts and the time left."""
    return Progress(round(1000 * progress.fraction), 1000, progress.text())


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
