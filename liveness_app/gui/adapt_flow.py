"""Opening "Adapt to my camera" (:class:`~.adapt_dialog.AdaptDialog`) and acting on what it hands back: the
adapted model is listed and scored with, and a threshold calibrated on this camera's sessions is used.

The dialog itself needs training (torch), so it is imported only when it opens: the lean runtime never does.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from PyQt6.QtWidgets import QWidget

from .active_model import ActiveModel
from .recorder_service import RecorderService
from .status import StatusBar


def open_adapt_dialog(
    recorder: RecorderService,
    active: ActiveModel,
    refresh_models: Callable[[], None],
    status: StatusBar,
    parent: QWidget,
    **options: Any,
) -> QWidget:
    """Show the guided flow (non-modal: the video stays visible behind it), recording through ``recorder``;
    ``refresh_models`` lists a new model in the Model menu. ``options`` go to :class:`AdaptDialog`."""
    from .adapt_dialog import AdaptDialog

    dialog = AdaptDialog(
        recorder,
        lambda: active.model.path if active.model else None,
        device=active.device_preference,
        parent=parent,
        **options,
    )

    def use_adapted(path: Path) -> None:
        refresh_models()
        active.activate(path)

    def calibrate_camera(value: float, rule: str) -> None:
        """Use (and remember for this model and camera) a threshold calibrated on this camera's sessions."""
        active.calibrate_camera(value, rule, datetime.now().strftime("%Y-%m-%d"))
        status.showMessage(f"Threshold {value:.3f} calibrated to {active.camera}", 10000)

    dialog.model_ready.connect(use_adapted)
    dialog.threshold_ready.connect(calibrate_camera)
    dialog.show()
    return dialog
