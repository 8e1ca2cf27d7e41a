"""The thresholds the app remembers, read and written as :class:`~..core.threshold.Threshold` values.

Two kinds are saved (in :class:`~.settings.AppSettings`): one set by hand, per model, and one calibrated to a
camera, per model and camera. The model file itself is never changed. Which one applies, and where it came
from, is decided here and travels with the value.
"""

from __future__ import annotations

from ..core.pipeline import LoadedModel
from ..core.threshold import Threshold, ThresholdSource
from .settings import AppSettings


class SavedThresholds:
    """What is saved for a model (and the camera in use), as a :class:`Threshold` with its source."""

    def __init__(self, settings: AppSettings) -> None:
        self._settings = settings

    def for_model(self, model: LoadedModel, camera: str | None) -> Threshold:
        """A calibration of ``model`` to ``camera``, else the user's own setting, else the model's."""
        if camera:
            cal = self._settings.camera_threshold(model.path, camera)
            if cal is not None:
                return Threshold.calibrated(cal["threshold"], camera, cal.get("rule", ""), cal.get("date", ""))
        own = self._settings.threshold_override(model.path)
        if own is not None:
            return Threshold(own, ThresholdSource.HAND)
        return Threshold.of_model(model.meta.threshold)

    def calibrated_to(self, model: LoadedModel, camera: str | None) -> bool:
        """``model`` has a threshold calibrated to ``camera``."""
        if not camera:
            return False
        return self._settings.camera_threshold(model.path, camera) is not None

    def remember_by_hand(self, model: LoadedModel, camera: str | None, threshold: Threshold) -> None:
        """The user set ``threshold``: saved for the model (forgotten when it is the model's own), and it
        takes over from a calibration to this camera."""
        self._settings.set_threshold_override(model.path, None if threshold.is_models else threshold.value)
        if camera:
            self._settings.set_camera_threshold(model.path, camera, None)

    def remember_calibration(self, model: LoadedModel, camera: str, value: float, rule: str, date: str) -> Threshold:
        """Save ``value`` as ``model``'s threshold on ``camera`` (calibrated with ``rule`` on ``date``)."""
        self._settings.set_camera_threshold(model.path, camera, {"threshold": value, "rule": rule, "date": date})
        return Threshold.calibrated(value, camera, rule, date)
