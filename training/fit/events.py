"""The progress event that ``fit()`` yields and the CLI and the app consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator


@dataclass
class TrainEvent:
    """One progress report. ``kind``: "cache", "batch", "epoch", "warning" (e.g. skipped files: the
    message names them and where their full list is), "stage" (work without batches began: ``phase`` names
    the stage, ``message`` says what it does, ``step``/``steps`` count it when known), "done". How the app
    turns them into a staged bar with the time left: :mod:`training.progress`."""

    kind: str
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps: int = 0
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    model_path: Path | None = None
    # "distil": the feature distillation before the liveness training; "refit": training.fit.refit; "teachers":
    # external teachers scoring the crops; of "stage" events, also adapt's "calibrate" and "evaluate"
    phase: str = ""


def returned(gen: Generator[Any, Any, Any], on_item: Callable[[Any], None] | None = None) -> Any:
    """Run a generator to its end, each item to ``on_item`` (if given), and give its return value."""
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_item is not None:
            on_item(item)
