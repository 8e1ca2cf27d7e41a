"""The progress event that ``fit()`` yields and the CLI and the app consume."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generator


@dataclass
class TrainEvent:
    """One progress report. ``kind``: "cache", "batch", "epoch", "warning" (e.g. skipped files: the
    message names them and where their full list is), "done"."""

    kind: str
    epoch: int = 0
    epochs: int = 0
    step: int = 0
    steps: int = 0
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    model_path: Path | None = None
    phase: str = ""  # "distil" for the feature-distillation stage before the liveness training


def returned(gen: Generator[Any, Any, Any]) -> Any:
    """Run a generator to its end, its items unused (no progress to show), and give its return value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
