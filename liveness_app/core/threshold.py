"""A decision threshold stored with where it came from.

The app applies one threshold on P(live) at a time, and where it came from matters to the user (the
threshold control's tooltip, its reset button) and to what is remembered (a value set by hand is saved for
the model, a calibration for the model and camera, a value given on the command line for this run only).
The source is recorded when the value is set, never recovered later by comparing floats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

# The threshold control shows three decimals: a value set by hand closer than half a step to the model's
# cannot be told apart from it, so it is the model's.
SAME_AS_MODEL = 5e-4


class ThresholdSource(Enum):
    """Where a threshold came from; the value is the phrase the threshold control shows."""

    MODEL = "the model's"  # calibrated when the model was trained, stored in the model file
    CAMERA = "calibrated to this camera"  # calibrated on this camera's sessions (Adapt to my camera)
    HAND = "your setting"  # set by hand in the threshold control, remembered for the model
    RUN = "set for this run"  # given on the command line or by the caller, not remembered


@dataclass(frozen=True)
class Threshold:
    """A threshold on P(live) and its source; ``note`` says more where there is more (which camera, which
    rule, when)."""

    value: float
    source: ThresholdSource
    note: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.value, (int, float)) and math.isfinite(self.value) and 0.0 <= self.value <= 1.0):
            raise ValueError(f"a threshold is a probability in [0, 1], got {self.value!r}")

    @classmethod
    def of_model(cls, value: float) -> Threshold:
        """The model file's calibrated threshold."""
        return cls(float(value), ThresholdSource.MODEL)

    @classmethod
    def for_run(cls, value: float) -> Threshold:
        """A value given for this run (``--threshold``): applied, not remembered."""
        return cls(float(value), ThresholdSource.RUN)

    @classmethod
    def by_hand(cls, value: float, model_value: float) -> Threshold:
        """What the user set in the control: the model's own threshold when it is that value at the
        control's precision (its reset button sets exactly that), else the user's."""
        if abs(value - model_value) < SAME_AS_MODEL:
            return cls.of_model(model_value)
        return cls(float(value), ThresholdSource.HAND)

    @classmethod
    def calibrated(cls, value: float, camera: str, rule: str = "", date: str = "") -> Threshold:
        """Calibrated on ``camera``'s sessions with ``rule`` (EER when empty) on ``date``."""
        return cls(float(value), ThresholdSource.CAMERA, f"calibrated to {camera} ({rule or 'EER'}, {date})")

    @property
    def is_models(self) -> bool:
        """The model file's own threshold is in use."""
        return self.source is ThresholdSource.MODEL

    def describe(self) -> str:
        """Where this value comes from, in words (e.g. "calibrated to camera 0 (EER, 2026-05-01)")."""
        return self.note or self.source.value


__all__ = ["SAME_AS_MODEL", "Threshold", "ThresholdSource"]
