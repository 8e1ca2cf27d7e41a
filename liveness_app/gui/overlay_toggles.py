"""View > Box, Score, Heatmap: what the video view draws over each face, remembered between runs."""

from __future__ import annotations

from PyQt6.QtCore import QObject

from ..config import AppConfig
from ..core.overlay import OverlayOptions
from .menus import Actions
from .settings import AppSettings
from .video_view import VideoView


class OverlayToggles(QObject):
    """Keeps ``view``'s overlay options and ``settings`` in step with the three toggle actions; at start the
    saved choices, except a heatmap choice given on the command line (``config``)."""

    def __init__(
        self, actions: Actions, view: VideoView, settings: AppSettings, config: AppConfig, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._actions, self._view, self._settings = actions, view, settings
        actions.box.setChecked(settings.overlay("box", True))
        actions.score.setChecked(settings.overlay("score", True))
        heatmap = config.heatmap if "heatmap" in config.explicit else settings.overlay("heatmap", False)
        actions.heatmap.setChecked(heatmap)
        self.apply()
        for action in (actions.box, actions.score, actions.heatmap):
            action.toggled.connect(self.apply)

    def apply(self) -> None:
        """Draw what the actions say, and remember it."""
        a = self._actions
        self._view.set_options(
            OverlayOptions(box=a.box.isChecked(), score=a.score.isChecked(), heatmap=a.heatmap.isChecked())
        )
        for name, action in (("box", a.box), ("score", a.score), ("heatmap", a.heatmap)):
            self._settings.set_overlay(name, action.isChecked())
