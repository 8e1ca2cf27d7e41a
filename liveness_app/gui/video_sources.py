"""What the window streams: a camera index or a video file, and which one at start-up.

Opening is injected (``opener``), so tests stream a video file as the camera. The window wires ``started``
to the stream controller and ``unavailable`` to the view's "no source" message.
"""

from __future__ import annotations

import logging
from typing import Callable

from PyQt6.QtCore import QObject, pyqtSignal

from .. import paths
from ..core.camera import CameraUnavailableError, FrameSource, open_source
from .settings import AppSettings

log = logging.getLogger(__name__)

SourceOpener = Callable[[str], FrameSource]  # "0" (a camera index) or a video file's path -> an open source


class VideoSources(QObject):
    """Opens sources by spec and remembers the last one; ``started(source, text)`` when one opened (``text``
    for the status bar), ``unavailable(reason)`` when the one asked for cannot be opened."""

    started = pyqtSignal(object, str)  # FrameSource, what the status bar says about it
    unavailable = pyqtSignal(str)  # why nothing streams

    def __init__(
        self, settings: AppSettings, opener: SourceOpener | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._open = opener or open_source

    def open(self, spec: str, remember: bool = True) -> bool:
        """Stream a camera index ("0") or a video file (remembered as the last source when ``remember``);
        False, after ``unavailable``, when it cannot be opened."""
        try:
            source = self._open(spec)
        except CameraUnavailableError as exc:
            self.unavailable.emit(str(exc))
            return False
        self.started.emit(source, f"Source: {source.name}")
        if remember:
            self._settings.last_source = spec
        return True

    def open_startup(self, asked: str | None) -> None:
        """``asked`` (``--source``) if given; else the camera used last (0 at first), else the bundled
        sample video. A video file opened last time is not reopened: this is a camera app, files are one-offs.
        """
        if asked is not None:
            self.open(asked)
            return
        last = self._settings.last_source
        if self.open(last if last and last.isdigit() else "0", remember=False):
            return
        try:
            source = self._open(str(paths.sample_video_path()))
        except CameraUnavailableError as exc:
            log.error("bundled sample video unavailable: %s", exc)
            return  # the view already says that no camera was found
        self.started.emit(source, "No camera found — playing the bundled sample video")
