"""The stream as the window shows it: a source that starts resets the view, the statistics and the Faces panel
and streams into the active model's pipeline; a source that is lost stops the stream and says why and how to
open another; the status bar's numbers refresh a few times a second.

The window wires signals to these slots (it is the composition root); no image math here.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import QObject
from PyQt6.QtGui import QAction

from ..core.camera import FrameSource
from .active_model import ActiveModel
from .model_loader import LoadFailure
from .panels.info import FacesPanel
from .status import StatusBar, StreamStats
from .video_view import VideoView
from .workers import StreamController

log = logging.getLogger(__name__)

NO_SOURCE_HINT = "Open a video file (File > Open video...) or pick a camera (File > Open camera)."


class StreamDisplay(QObject):
    """Starts and stops ``controller`` for a source and keeps ``view``, ``faces``, ``status`` and :attr:`stats`
    (measured rates, reset with every source and model) in step with it. ``open_video`` is offered on the view
    when there is no source."""

    def __init__(
        self,
        controller: StreamController,
        active_model: ActiveModel,
        view: VideoView,
        faces: FacesPanel,
        status: StatusBar,
        open_video: QAction,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller, self.active_model = controller, active_model
        self.view, self.faces, self.status = view, faces, status
        self.open_video = open_video
        self.stats = StreamStats()

    def start(self, source: FrameSource, text: str) -> None:
        log.info("streaming from %s (%.1f fps)", source.name, source.fps)
        self.active_model.set_camera(source.name)
        self.view.clear()
        self.stats.reset()
        self.faces.set_result(None)
        self.controller.start(source, self.active_model.pipeline)
        self.status.set_source_text(text)

    def score_with_active_model(self) -> None:
        """Scoring uses the active model's pipeline, and restarts if it had stopped (after a scoring error)."""
        self.controller.set_pipeline(self.active_model.pipeline)
        self.stats.reset()

    def on_load_failed(self, failure: LoadFailure) -> None:
        if failure.instead is None:  # no fallback follows: go on with what there is
            self.score_with_active_model()

    def show_no_source(self, reason: str) -> None:
        log.warning("no video source: %s", reason)
        self.controller.stop()
        self.faces.set_result(None)
        self.view.show_message(f"{reason}\n{NO_SOURCE_HINT}", self.open_video)
        self.status.set_source_text(f"No source: {reason}")

    def refresh_status(self) -> None:
        """Text updates a few times a second, not per frame: they would cost more than the video."""
        self.status.show_stats(
            self.stats, self.controller.dropped, self.controller.is_running, self.active_model.pipeline is not None
        )
        self.faces.refresh()
