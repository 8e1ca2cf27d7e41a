"""The widgets that show the active model, kept in step with :class:`~.active_model.ActiveModel`'s signals.

The Model menu (its list and check mark), the Device menu's device and engine choices, the Model panel, the
threshold control and the status bar's device label and messages each show one side of the active model;
what the user picks in them goes back to it as a request. Nothing here decides anything: the active model
does, and says so by signal.
"""

from __future__ import annotations

import logging
from typing import Callable

from PyQt6.QtCore import QObject

from ..core.pipeline import LoadedModel
from ..core.threshold import Threshold
from .active_model import ActiveModel
from .menus import Actions, ModelMenu, list_models
from .model_loader import LoadFailure
from .panels.info import ModelInfoPanel, ThresholdControl
from .status import StatusBar

log = logging.getLogger(__name__)

Warn = Callable[[str, str], None]  # (title, text): a message box the user must see


class ModelViews(QObject):
    """Binds the model's widgets to ``active``: its signals update them, their user actions call it.

    ``warn(title, text)`` shows a refusal that was asked for aloud (a quiet one goes to the status bar).
    """

    def __init__(
        self,
        active: ActiveModel,
        menu: ModelMenu,
        actions: Actions,
        panel: ModelInfoPanel,
        threshold: ThresholdControl,
        status: StatusBar,
        warn: Warn,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.active, self.menu, self.actions = active, menu, actions
        self.panel, self.threshold, self.status = panel, threshold, status
        self._warn = warn
        self._connect_model()
        self._connect_controls()
        self._show_device(active.device_preference)
        self._show_backend(active.backend_preference)

    def _connect_model(self) -> None:
        a = self.active
        a.load_started.connect(lambda path: self.status.showMessage(f"Loading model {path.name}...", 5000))
        a.model_changed.connect(self._on_model_changed)
        a.load_failed.connect(self._on_load_failed)
        a.threshold_changed.connect(self._show_threshold)
        a.device_changed.connect(self._show_device)
        a.backend_changed.connect(self._show_backend)

    def _connect_controls(self) -> None:
        a = self.active
        self.menu.chosen.connect(a.activate)
        self.menu.refresh_action.triggered.connect(self.refresh_menu)
        self.threshold.changed.connect(a.set_threshold)
        for choice, action in self.actions.devices.items():
            action.triggered.connect(lambda _=False, c=choice: a.set_device(c))
        for choice, action in self.actions.backends.items():
            action.triggered.connect(lambda _=False, c=choice: a.set_backend(c))

    def refresh_menu(self) -> None:
        """Re-scan the model folders (e.g. after training wrote a new model)."""
        model = self.active.model
        self.menu.populate(list_models(), model.path if model else None)

    def show_model(self) -> None:
        """Menu check mark, Model panel, threshold control and device label for the model in use (or none)."""
        model = self.active.model
        if model is not None and self.menu.action_for(model.path) is None:
            self.refresh_menu()  # list it under "Other"; never rebuild under a triggered action
        self.menu.set_active(model.path if model else None)
        self.panel.set_model(model)
        if self.active.threshold is not None:
            self._show_threshold(self.active.threshold)
        self.threshold.setEnabled(self.active.pipeline is not None)
        self.status.set_device(*self.active.device_text())

    def _on_model_changed(self, model: LoadedModel) -> None:
        self.status.showMessage(f"Model {model.meta.name or model.path.name} active", 5000)
        self.show_model()

    def _on_load_failed(self, failure: LoadFailure) -> None:
        """Say why the file was refused (aloud unless quiet), and put the device menu back as it is."""
        req, message = failure.request, failure.message
        log.warning("model %s refused: %s", req.path, message)
        if req.device is not None:
            self._show_device(self.active.device_preference)
        if req.backend is not None:
            self._show_backend(self.active.backend_preference)
        if req.quiet:
            self.status.showMessage(f"Model {req.path.name} not loaded: {message}", 15000)
        else:
            after = (
                "The current model stays active."
                if self.active.model
                else f"{failure.instead.name} is loaded instead."
                if failure.instead is not None
                else "The video plays without verdicts until you choose a model in the Model menu."
            )
            self._warn("Model not loaded", f"{req.path.name} cannot be used:\n\n{message}\n\n{after}")
        if failure.instead is None:
            self.show_model()  # "no model" when there is none; the video plays without verdicts

    def _show_threshold(self, threshold: Threshold) -> None:
        model = self.active.model
        if model is not None:
            self.threshold.set_threshold(threshold, model.meta.threshold)

    def _show_device(self, preference: str) -> None:
        self.actions.devices[preference].setChecked(True)
        self.status.set_device(*self.active.device_text())

    def _show_backend(self, preference: str) -> None:
        self.actions.backends[preference].setChecked(True)
