"""The active model: the one object that owns loading, device, engine, threshold and the pipeline.

Requests (a model file, a device, an engine, a threshold) come in as method calls; what happened goes out
as signals, and the window wires those to its menus, panels and status bar. Model files are read on the
loader's thread (:mod:`.model_loader`: newest request wins); a model swap goes through
``Pipeline.set_model`` (between two frames), so the stream never restarts. A file that cannot be used is
refused (``load_failed``) and the model in use stays. The threshold in use is a
:class:`~..core.threshold.Threshold`: its value and where it came from, decided when it is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Collection

from PyQt6.QtCore import QObject, pyqtSignal

from .. import paths
from ..config import AppConfig
from ..core import BACKEND_CHOICES as BACKENDS
from ..core import DEVICE_CHOICES as DEVICES
from ..core.backends.factory import installed
from ..core.face import FaceDetector
from ..core.pipeline import LoadedModel, Pipeline
from ..core.threshold import Threshold
from .model_loader import LoadFailure, LoadRequest, ModelLoader
from .saved_thresholds import SavedThresholds
from .settings import AppSettings

ModelOpener = Callable[[Path, str, str], LoadedModel]  # (path, device, backend) -> a model ready to score


def startup_preferences(config: AppConfig, settings: AppSettings, usable_backends: Collection[str]) -> tuple[str, str]:
    """The device and engine to start with: the command line's, else the saved ones; "auto" for one that is
    unknown (a hand-edited settings file) or an engine this runtime lacks."""
    device = config.device if "device" in config.explicit else (settings.device or "auto")
    backend = config.backend if "backend" in config.explicit else (settings.backend or "auto")
    return (
        device if device in DEVICES else "auto",
        backend if backend in BACKENDS and backend in usable_backends else "auto",
    )


class ActiveModel(QObject):
    """Loads, swaps and remembers the model that scores; owns the pipeline once a model is loaded (and a
    face detector exists). ``opener(path, device, backend)`` reads a model file (tests inject a fake)."""

    load_started = pyqtSignal(object)  # Path: a model file is being read (off the GUI thread)
    model_changed = pyqtSignal(object)  # LoadedModel: scoring with it now (new, or on another device/engine)
    load_failed = pyqtSignal(object)  # LoadFailure: refused; the model in use (if any) stays
    threshold_changed = pyqtSignal(object)  # Threshold: the one applied from now on
    device_changed = pyqtSignal(str)  # the device preference in use (auto, cpu, cuda)
    backend_changed = pyqtSignal(str)  # the engine preference in use (auto, torch, onnx)

    def __init__(
        self,
        detector: FaceDetector | None,
        settings: AppSettings,
        device: str = "auto",
        heatmap: bool = False,
        backend: str = "auto",
        opener: ModelOpener = LoadedModel.open,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.detector = detector
        self.settings = settings
        self._saved = SavedThresholds(settings)
        self._device, self._backend, self._heatmap = device, backend, heatmap
        self._opener = opener
        self._model: LoadedModel | None = None
        self._pipeline: Pipeline | None = None
        self._threshold: Threshold | None = None
        self._camera: str | None = None  # the source's name: thresholds can be calibrated per camera
        self._loader = ModelLoader(self._open, self)
        self._loader.loaded.connect(self._on_loaded)
        self._loader.failed.connect(self._on_failed)

    # -- state -------------------------------------------------------------------------------------------
    @property
    def model(self) -> LoadedModel | None:
        return self._model

    @property
    def pipeline(self) -> Pipeline | None:
        """Scores frames with the model; None until a model is loaded, or without a face detector."""
        return self._pipeline

    @property
    def threshold(self) -> Threshold | None:
        """The threshold applied and where it came from; None without a model."""
        return self._threshold

    @property
    def device_preference(self) -> str:
        return self._device

    @property
    def backend_preference(self) -> str:
        return self._backend

    @property
    def camera(self) -> str | None:
        return self._camera

    @property
    def loading(self) -> bool:
        """A model file is being read and checked (on the loader's thread)."""
        return self._loader.busy

    # -- loading -----------------------------------------------------------------------------------------
    def startup_models(self, asked: Path | None) -> list[Path]:
        """Models to try at start-up: the one asked for, then the bundled default (a refused ``--model``
        must not leave the app without one); else the last one used, then the default."""
        default = paths.default_model_path()
        if asked is not None:
            return [asked] + ([default] if default.is_file() and Path(asked).resolve() != default.resolve() else [])
        candidates = [self.settings.last_model, default]
        return [p for p in candidates if p is not None and p.is_file()]

    def load_startup(self, asked: Path | None, threshold: float | None = None) -> bool:
        """The model asked for (a refusal is said aloud, then the default), else the last one used, else the
        default, quietly. False when there is none to try: the video plays without verdicts."""
        candidates = self.startup_models(asked)
        if not candidates:
            return False
        self._request(
            LoadRequest(candidates[0], threshold=threshold, quiet=asked is None, fallbacks=tuple(candidates[1:]))
        )
        return True

    def activate(self, path: Path, threshold: float | None = None, quiet: bool = False) -> None:
        """Load ``path`` on the current device and engine, then score with it (``model_changed``), or refuse
        it (``load_failed``; ``quiet``: a status-bar note is enough). ``threshold`` None: the one saved for
        this model and camera, else the model's."""
        self._request(LoadRequest(Path(path), threshold=threshold, quiet=quiet))

    def set_device(self, preference: str) -> bool:
        """Auto/CPU/CUDA: reloads the current model there (off the GUI thread); on failure the old device
        stays. False when the preference is unknown."""
        if preference not in DEVICES:
            return False
        if self._model is not None:
            self._request(LoadRequest(self._model.path, device=preference))
            return True
        self._device = self.settings.device = preference
        self.device_changed.emit(preference)
        return True

    def set_backend(self, preference: str) -> bool:
        """Auto/PyTorch/ONNX Runtime: as :meth:`set_device`, for the engine that scores."""
        if preference not in BACKENDS:
            return False
        if self._model is not None:
            self._request(LoadRequest(self._model.path, backend=preference))
            return True
        self._backend = self.settings.backend = preference
        self.backend_changed.emit(preference)
        return True

    def _open(self, path: Path, device: str | None, backend: str | None) -> LoadedModel:
        """On the loader's thread: ``path`` on ``device`` in ``backend`` (None: the current preference)."""
        return self._opener(Path(path), device or self._device, backend or self._backend)

    def _request(self, req: LoadRequest) -> None:
        self.load_started.emit(req.path)
        self._loader.request(req)

    def _on_loaded(self, model: LoadedModel, req: LoadRequest) -> None:
        if req.device is not None:  # the same model on another device: the threshold in use stays
            self._install(model, self._threshold)
            self._device = self.settings.device = req.device
            self.device_changed.emit(req.device)
        elif req.backend is not None:
            self._install(model, self._threshold)
            self._backend = self.settings.backend = req.backend
            self.backend_changed.emit(req.backend)
        else:
            self._install(model, None if req.threshold is None else Threshold.for_run(req.threshold))
        self.model_changed.emit(model)

    def _on_failed(self, req: LoadRequest, error: BaseException) -> None:
        fallback = req.next_fallback()  # start-up: the last model used, then the bundled default
        self.load_failed.emit(LoadFailure(req, error, fallback.path if fallback is not None else None))
        if fallback is not None:
            self._request(fallback)

    def _install(self, model: LoadedModel, threshold: Threshold | None) -> None:
        """Score with ``model`` from the next frame on, with ``threshold`` (None: the saved one)."""
        if threshold is None:
            threshold = self._saved.for_model(model, self._camera)
        self._model = model
        if self._pipeline is not None:
            self._pipeline.set_model(model, threshold.value)
        elif self.detector is not None:
            self._pipeline = Pipeline(self.detector, model, heatmap=self._heatmap, threshold=threshold.value)
        self.settings.last_model = model.path
        self._apply(threshold)

    # -- threshold ---------------------------------------------------------------------------------------
    def set_threshold(self, value: float) -> None:
        """The user set ``value``: use it and remember it for this model (the model's own is not saved);
        it takes over from a calibration to this camera."""
        if self._model is None:
            return
        threshold = Threshold.by_hand(value, self._model.meta.threshold)
        self._saved.remember_by_hand(self._model, self._camera, threshold)
        self._apply(threshold)

    def calibrate_camera(self, value: float, rule: str, date: str) -> None:
        """Remember ``value`` (calibrated with ``rule`` on ``date``) for this model on this camera; use it."""
        if self._model is None or not self._camera:
            return
        self._apply(self._saved.remember_calibration(self._model, self._camera, value, rule, date))

    def set_camera(self, camera: str) -> None:
        """The source changed: use the threshold saved for this model on that camera, if any. Without a
        calibration for either camera, the threshold in use (perhaps one given for this run) stays."""
        previous, self._camera = self._camera, camera
        if self._model is None:
            return
        if any(self._saved.calibrated_to(self._model, c) for c in (previous, camera)):
            self._apply(self._saved.for_model(self._model, camera))

    def _apply(self, threshold: Threshold) -> None:
        self._threshold = threshold
        if self._pipeline is not None:
            self._pipeline.set_threshold(threshold.value)
        self.threshold_changed.emit(threshold)

    # -- the rest ----------------------------------------------------------------------------------------
    def set_heatmap(self, on: bool) -> None:
        """Grad-CAM is computed only while the heatmap is shown."""
        self._heatmap = on
        if self._pipeline is not None:
            self._pipeline.set_heatmap(on)

    def device_text(self) -> tuple[str, str]:
        """Status-bar label and tooltip (why this device and engine)."""
        if self._model is not None:
            return f"Device: {self._model.describe()}", self._model.reason
        if not installed("torch"):
            return "Device: cpu (ONNX Runtime)", "This runtime has no PyTorch: models run in ONNX Runtime on the CPU"
        from ..core.device import describe, select_device

        device, reason = select_device(self._device)
        return f"Device: {describe(device)}", reason

    def close(self) -> None:
        """Abandon loads in flight (their results are dropped) and release the face detector."""
        self._loader.shutdown()
        if self.detector is not None:
            self.detector.close()
            self.detector = None
