"""The main window's model and device handling: load off the GUI thread (newest request wins), switch
without restarting the stream, refuse a bad file with a message and keep the current model, remember a
threshold per model and camera. A mixin of :class:`~.main_window.MainWindow`, which owns the widgets it
updates (menus, panels, threshold control, status bar) and the :class:`~.session.ActiveModel`.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..core import BACKEND_CHOICES as BACKENDS, DEVICE_CHOICES as DEVICES
from ..core.pipeline import LoadedModel
from .menus import list_models
from .model_loader import LoadRequest

log = logging.getLogger(__name__)


class ModelControl:
    """Model menu, device menu and threshold for the window (needs ``session``, ``_loader``, ``status``,
    ``model_menu``, ``menu_actions``, ``model_panel``, ``threshold``, ``controller``, ``stats`` and the
    ``model_changed`` / ``model_refused`` signals)."""

    def refresh_model_menu(self) -> None:
        """Re-scan the model folders (e.g. after training wrote a new model)."""
        self.model_menu.populate(list_models(), self.model.path if self.model else None)

    @property
    def model_loading(self) -> bool:
        """A model file is being read and checked (on the loader's thread)."""
        return self._loader.busy

    def activate_model(self, path: Path, threshold: float | None = None, quiet: bool = False) -> None:
        """Load ``path`` on the current device, off the GUI thread, then score with it without restarting
        the stream (``model_changed`` says when).

        A file that cannot be used is refused with a message box (a status-bar note when ``quiet``) and
        the current model stays active (``model_refused``). ``threshold`` None: the user's saved one for
        this model, else the model's calibrated one.
        """
        self._request_model(LoadRequest(Path(path), threshold=threshold, quiet=quiet))

    def set_device(self, preference: str) -> bool:
        """Auto/CPU/CUDA: reloads the current model there (off the GUI thread); on failure the old device
        stays. Returns False when the preference is unknown."""
        if preference not in DEVICES:
            return False
        if self.model is None:
            self.session.device_preference = preference
            self.settings.device = preference
            self.menu_actions.devices[preference].setChecked(True)
            self.status.set_device(*self.session.device_text())
            return True
        self._request_model(LoadRequest(self.model.path, device=preference))
        return True

    def set_backend(self, preference: str) -> bool:
        """Auto/PyTorch/ONNX Runtime: as :meth:`set_device`, for the engine that scores."""
        if preference not in BACKENDS:
            return False
        if self.model is None:
            self.session.backend_preference = preference
            self.settings.backend = preference
            self.menu_actions.backends[preference].setChecked(True)
            return True
        self._request_model(LoadRequest(self.model.path, backend=preference))
        return True

    def _request_model(self, req: LoadRequest) -> None:
        self.status.showMessage(f"Loading model {req.path.name}...", 5000)
        self._loader.request(req)

    def _on_model_loaded(self, model: LoadedModel, req: LoadRequest) -> None:
        if req.device is not None:
            self.session.use_device(req.device, model)
            self.menu_actions.devices[req.device].setChecked(True)
        elif req.backend is not None:
            self.session.use_backend(req.backend, model)
            self.menu_actions.backends[req.backend].setChecked(True)
        else:
            self.session.install(model, req.threshold)
        self.status.showMessage(f"Model {model.meta.name or model.path.name} active", 5000)
        self._show_model()
        self.model_changed.emit(model)

    def _on_model_failed(self, req: LoadRequest, message: str) -> None:
        if req.device is not None:
            self.menu_actions.devices[self.session.device_preference].setChecked(True)
        if req.backend is not None:
            self.menu_actions.backends[self.session.backend_preference].setChecked(True)
        fallback = req.next_fallback()
        self._refuse_model(req.path, message, req.quiet, fallback.path if fallback is not None else None)
        if fallback is not None:  # start-up: the last model used, then the bundled default
            self._request_model(fallback)
        else:
            self._show_model()  # "no model" when there is none; the video plays without verdicts
        self.model_refused.emit(str(req.path), message)

    def _load_startup_model(self) -> None:
        """The model asked for (a failure gets a message box, then the default), else the last one used,
        else the default."""
        candidates = self.session.startup_models(self.config.model)
        if not candidates:
            self._show_model()  # "no model" in the panel and the status bar; the video plays without verdicts
            return
        self._request_model(LoadRequest(candidates[0], threshold=self.config.threshold,
                                        quiet=self.config.model is None, fallbacks=tuple(candidates[1:])))

    def _refuse_model(self, path: Path, message: str, quiet: bool, instead: Path | None = None) -> None:
        log.warning("model %s refused: %s", path, message)
        if quiet:
            self.status.showMessage(f"Model {path.name} not loaded: {message}", 15000)
            return
        after = ("The current model stays active." if self.model else
                 f"{instead.name} is loaded instead." if instead is not None else
                 "The video plays without verdicts until you choose a model in the Model menu.")
        self._warn("Model not loaded", f"{path.name} cannot be used:\n\n{message}\n\n{after}")

    def _show_model(self) -> None:
        """Menus, panels, threshold control and status bar after the model or device changed."""
        model = self.model
        self.controller.set_pipeline(self.pipeline)  # also restarts scoring after a scoring error
        if model is not None and self.model_menu.action_for(model.path) is None:
            self.refresh_model_menu()  # list it under "Other"; never rebuild under a triggered action
        self.model_menu.set_active(model.path if model else None)
        self.model_panel.set_model(model)
        if model is not None:
            self.threshold.set_threshold(self.session.threshold, model.meta.threshold, self._threshold_source())
        self.threshold.setEnabled(self.pipeline is not None)
        self.status.set_device(*self.session.device_text())
        self.stats.reset()

    def _threshold_source(self) -> str:
        """Where the threshold in use comes from (for the control's tooltip)."""
        model = self.model
        if model is None:
            return ""
        value, source = self.session.saved_threshold(model)
        return source if abs(value - (self.session.threshold or 0.0)) < 5e-4 else "set for this run"

    def calibrate_camera(self, threshold: float, rule: str, date: str) -> None:
        """Use (and remember for this model and camera) a threshold calibrated on this camera's sessions."""
        self.session.calibrate_camera(threshold, rule, date)
        if self.model is not None:
            self.threshold.set_threshold(threshold, self.model.meta.threshold, self._threshold_source())
        self.status.showMessage(f"Threshold {threshold:.3f} calibrated to {self.session.camera}", 10000)

