"""The active model on the chosen device and the pipeline that scores with it: state, no widgets.

The window asks for changes and shows the outcome; this class loads (:meth:`ActiveModel.load` runs on
the model loader's thread), swaps and remembers. A model swap goes through ``Pipeline.set_model``
(between two frames), so the stream never restarts.
"""
from __future__ import annotations

from pathlib import Path

from .. import paths
from ..core import BACKEND_CHOICES as BACKENDS, DEVICE_CHOICES as DEVICES
from ..core.backends.factory import installed
from ..core.face import FaceDetector
from ..core.pipeline import LoadedModel, Pipeline
from .settings import AppSettings


class ActiveModel:
    """Owns the pipeline once a model is loaded (and a face detector exists)."""

    def __init__(self, detector: FaceDetector | None, settings: AppSettings, device: str = "auto",
                 heatmap: bool = False, backend: str = "auto") -> None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend_preference = backend
        self.detector = detector
        self.settings = settings
        self.device_preference = device
        self._heatmap = heatmap
        self.model: LoadedModel | None = None
        self.pipeline: Pipeline | None = None
        self.camera: str | None = None  # the source's name: thresholds can be calibrated per camera

    def startup_models(self, asked: Path | None) -> list[Path]:
        """Models to try at start-up: the one asked for, then the bundled default (a refused ``--model``
        must not leave the app without one); else the last one used, then the default."""
        default = paths.default_model_path()
        if asked is not None:
            return [asked] + ([default] if default.is_file() and Path(asked).resolve() != default.resolve() else [])
        candidates = [self.settings.last_model, default]
        return [p for p in candidates if p is not None and p.is_file()]

    def load(self, path: Path, device: str | None = None, backend: str | None = None) -> LoadedModel:
        """Load a model file on ``device`` in ``backend`` (default: the current preferences); nothing
        changes yet.

        Raises :class:`ModelLoadError` for a file that cannot be used, including a load that fails on
        the device (out of GPU memory, ...): either way the current model stays.
        """
        return LoadedModel.open(Path(path), device or self.device_preference, backend or self.backend_preference)

    def saved_threshold(self, model: LoadedModel) -> tuple[float, str]:
        """The threshold to use for ``model`` on the current camera and where it comes from: a calibration
        to this camera, else the user's own setting, else the model's calibrated one."""
        if self.camera:
            cal = self.settings.camera_threshold(model.path, self.camera)
            if cal is not None:
                return cal["threshold"], f"calibrated to {self.camera} ({cal['rule'] or 'EER'}, {cal['date']})"
        own = self.settings.threshold_override(model.path)
        if own is not None:
            return own, "your setting"
        return model.meta.threshold, "the model's"

    def install(self, model: LoadedModel, threshold: float | None = None) -> None:
        """Score with ``model`` from the next frame on. ``threshold`` None: :meth:`saved_threshold`."""
        if threshold is None:
            threshold = self.saved_threshold(model)[0]
        self.model = model
        if self.pipeline is not None:
            self.pipeline.set_model(model, threshold)
        elif self.detector is not None:
            self.pipeline = Pipeline(self.detector, model, heatmap=self._heatmap, threshold=threshold)
        self.settings.last_model = model.path

    def use_device(self, preference: str, model: LoadedModel) -> None:
        """After ``model`` (the current model, reloaded on ``preference``) loaded: install it there, keeping
        the threshold in use, and remember the preference."""
        if preference not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {preference!r}")
        self.install(model, self.pipeline.threshold if self.pipeline else None)
        self.device_preference = preference
        self.settings.device = preference

    def use_backend(self, preference: str, model: LoadedModel) -> None:
        """As :meth:`use_device`, for the engine (auto, torch, onnx)."""
        if preference not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {preference!r}")
        self.install(model, self.pipeline.threshold if self.pipeline else None)
        self.backend_preference = preference
        self.settings.backend = preference

    @property
    def threshold(self) -> float | None:
        return self.pipeline.threshold if self.pipeline else (self.model.meta.threshold if self.model else None)

    def set_threshold(self, value: float) -> None:
        """Use ``value`` and remember it for this model (forgotten when it equals the calibrated one)."""
        if self.model is None:
            return
        if self.pipeline is not None:
            self.pipeline.set_threshold(value)
        calibrated = abs(value - self.model.meta.threshold) < 5e-4
        self.settings.set_threshold_override(self.model.path, None if calibrated else value)
        if self.camera:  # the user took over from a calibration to this camera
            self.settings.set_camera_threshold(self.model.path, self.camera, None)

    def set_camera(self, camera: str) -> None:
        """The source changed: use the threshold saved for this model on that camera, if any."""
        previous, self.camera = self.camera, camera
        if self.model is None or self.pipeline is None:
            return
        calibrated = [c for c in (previous, camera) if c and self.settings.camera_threshold(self.model.path, c)]
        if calibrated:  # otherwise the threshold in use (perhaps one given for this run) stays
            self.pipeline.set_threshold(self.saved_threshold(self.model)[0])

    def calibrate_camera(self, threshold: float, rule: str, date: str) -> None:
        """Remember ``threshold`` for the current model on the current camera and score with it."""
        if self.model is None or not self.camera:
            return
        self.settings.set_camera_threshold(self.model.path, self.camera,
                                           {"threshold": threshold, "rule": rule, "date": date})
        if self.pipeline is not None:
            self.pipeline.set_threshold(threshold)

    def set_heatmap(self, on: bool) -> None:
        """Grad-CAM is computed only while the heatmap is shown."""
        self._heatmap = on
        if self.pipeline is not None:
            self.pipeline.set_heatmap(on)

    def device_text(self) -> tuple[str, str]:
        """Status-bar label and tooltip (why this device and engine)."""
        if self.model is not None:
            return f"Device: {self.model.describe()}", self.model.reason
        if not installed("torch"):
            return "Device: cpu (ONNX Runtime)", "This runtime has no PyTorch: models run in ONNX Runtime on the CPU"
        from ..core.device import describe, select_device

        device, reason = select_device(self.device_preference)
        return f"Device: {describe(device)}", reason

    def close(self) -> None:
        if self.detector is not None:
            self.detector.close()
            self.detector = None
