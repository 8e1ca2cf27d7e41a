"""The composition root: builds the stream threads, the active model, menus and panels, and wires the signals.

No image math and no model logic here (:mod:`.active_model`). Hardware and files are injected (settings store,
face detector, source opener), so tests run on a video file and a small model on the CPU. Extension points for
later panels: see the package docstring (``liveness_app.gui``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QIcon
from PyQt6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QWidget

from .. import paths
from ..config import AppConfig
from ..core.backends.factory import cuda_available, installed
from ..core.face import DetectorError, FaceDetector
from . import dialogs
from .about import show_about
from .active_model import ActiveModel, startup_preferences
from .adapt_flow import open_adapt_dialog
from .docks import add_dock, reveal
from .menus import build_menus, build_toolbar
from .model_views import ModelViews
from .overlay_toggles import OverlayToggles
from .panels.info import FacesPanel, ModelInfoPanel, NotePanel, ThresholdControl
from .panels.recording import RecordingPanel
from .settings import AppSettings
from .settings_store import SettingsFile
from .snapshots import Snapshots
from .status import StatusBar
from .stream_display import StreamDisplay
from .video_sources import SourceOpener, VideoSources
from .video_view import VideoView
from .window_fit import ScreenFit
from .workers import StreamController

if TYPE_CHECKING:
    from .panels.training import TrainingPanel

log = logging.getLogger(__name__)

DetectorFactory = Callable[[Path], FaceDetector]
LEAN_TRAINING_NOTE = (
    "This is the lean runtime (ONNX Runtime, no PyTorch): it scores and records, "
    "while calibrating, training and adapting need the full install (pip install liveness-studio, or the "
    "full bundle). Recordings made here train there."
)


class MainWindow(QMainWindow):
    """Live view with verdicts, model/device/overlay controls, statistics and side panels. Its services:
    ``active_model`` (the model that scores; its signals say what changed), ``model_views`` (its widgets),
    ``sources`` (cameras, video files), ``controller`` (capture, scoring threads), ``snapshots``, ``overlays``."""

    closing = pyqtSignal()  # emitted first thing on close: panels stop their own workers here

    def __init__(
        self,
        config: AppConfig,
        settings: SettingsFile | None = None,
        detector_factory: DetectorFactory | None = None,
        source_opener: SourceOpener | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Liveness Studio")
        self.setWindowIcon(QIcon(str(paths.asset_path("icon.png"))))
        self.config = config
        self.settings = AppSettings(settings)
        self._closed = False
        # The lean runtime has no torch: ONNX Runtime scores, and retraining is for the full install.
        self.can_train = installed("torch")
        self._build_view()
        self._build_panels()
        self._restore_view()
        engines = {"torch": self.can_train, "onnx": installed("onnxruntime")}
        device, backend = startup_preferences(config, self.settings, [e for e, ok in engines.items() if ok])
        self.active_model = ActiveModel(
            self._create_detector(detector_factory or FaceDetector),
            self.settings,
            device,
            self.menu_actions.heatmap.isChecked(),
            backend,
            parent=self,
        )
        self.model_views = ModelViews(
            self.active_model,
            self.model_menu,
            self.menu_actions,
            self.model_panel,
            self.threshold,
            self.status,
            self._warn,
            self,
        )
        self.sources = VideoSources(self.settings, source_opener, self)
        self.display = StreamDisplay(
            self.controller,
            self.active_model,
            self.view,
            self.faces_panel,
            self.status,
            self.menu_actions.open_video,
            self,
        )
        self._connect()
        self._start_timers()
        self._start_up()

    # -- public API --------------------------------------------------------------------------------------
    def add_panel(
        self,
        widget: QWidget,
        title: str,
        object_name: str,
        area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
        tabify: bool = False,
    ) -> QDockWidget:
        """Dock ``widget`` (listed under View > Panels); ``tabify`` stacks it as a tab on the area's last dock."""
        panels = self.menu_actions.panels_menu
        assert panels is not None  # build_menus makes it
        return add_dock(self, panels, widget, title, object_name, area, tabify)

    def open_source(self, spec: str, remember: bool = True) -> bool:
        """Stream a camera index ("0") or a video file; if it cannot be opened the window says why."""
        return self.sources.open(spec, remember)

    # -- dialogs -----------------------------------------------------------------------------------------
    def open_video_dialog(self) -> None:
        last = self.settings.last_source
        start = Path(last).parent if last and not last.isdigit() else Path.home()
        if name := dialogs.ask_video_file(self, start):
            self.open_source(name)

    def open_model_dialog(self) -> None:
        if path := dialogs.ask_model_file(self, paths.user_models_dir()):
            self.active_model.activate(path)

    def open_adapt_dialog(self, **options: Any) -> QWidget | None:
        """The guided "Adapt to my camera" flow (non-modal: the video stays visible behind it); ``options``
        go to :class:`AdaptDialog` (tests shorten the takes). None in the lean runtime (no training)."""
        if not self.can_train:
            self._warn("Needs the full install", LEAN_TRAINING_NOTE)
            return None
        recorder, refresh = self.recording_panel.recorder_service, self.model_views.refresh_menu
        return open_adapt_dialog(recorder, self.active_model, refresh, self.status, self, **options)

    # -- building ----------------------------------------------------------------------------------------
    def _build_view(self) -> None:
        """The video, status bar, menus and toolbar."""
        self.view = VideoView(self)
        self.setCentralWidget(self.view)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.snapshots = Snapshots(self.view, self.settings, self)
        self.controller = StreamController(self)
        self.threshold = ThresholdControl()
        self.menu_actions, self.model_menu = build_menus(
            self, cuda_available(), {"torch": self.can_train, "onnx": installed("onnxruntime")}
        )
        build_toolbar(self, self.menu_actions, self.threshold)

    def _build_panels(self) -> None:
        """The side panels; the first-run layout (a saved one overrides it): faces get the height."""
        self.model_panel, self.faces_panel = ModelInfoPanel(), FacesPanel()
        docks = [
            self.add_panel(self.model_panel, "Model", "model-panel"),
            self.add_panel(self.faces_panel, "Faces", "faces-panel"),
        ]
        self.resizeDocks(docks, [300, 300], Qt.Orientation.Horizontal)
        self.resizeDocks(docks, [220, 480], Qt.Orientation.Vertical)
        self.recording_panel = RecordingPanel(self.controller)
        self.training_panel = self._create_training_panel()
        self.add_panel(self.recording_panel, "Recording", "recording-panel", tabify=True)
        self.add_panel(self.training_panel, "Training", "training-panel", tabify=True)

    def _restore_view(self) -> None:
        """Overlay toggles and the window layout."""
        self.overlays = OverlayToggles(self.menu_actions, self.view, self.settings, self.config, self)
        geometry, state = self.settings.geometry(), self.settings.window_state()
        self.screen_fit = ScreenFit(self)  # a remembered layout from a larger screen is brought inside this one
        self.screen_fit.place(restored=geometry is not None and self.restoreGeometry(geometry))
        if state is not None:
            self.restoreState(state)

    def _create_training_panel(self) -> TrainingPanel | NotePanel:
        """The Training panel; in the lean runtime a note that says where training is."""
        if not self.can_train:
            return NotePanel(LEAN_TRAINING_NOTE)
        from .panels.training import TrainingPanel

        return TrainingPanel(lambda: self.active_model.model)

    def _create_detector(self, factory: DetectorFactory) -> FaceDetector | None:
        try:
            return factory(self.config.detector)
        except DetectorError as exc:
            log.error("face detector unavailable: %s", exc)
            self._warn("No face detector", f"{exc}\n\nThe video plays without verdicts.")
            return None

    def _start_timers(self) -> None:
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(250)
        self._status_timer.timeout.connect(self.display.refresh_status)
        self._status_timer.start()
        # settings reach the disk every few seconds (a crash loses little) and at close
        self._settings_timer = QTimer(self)
        self._settings_timer.setInterval(3000)
        self._settings_timer.timeout.connect(self.settings.sync)
        self._settings_timer.start()

    def _start_up(self) -> None:
        """Say which settings were ignored, load the start-up model (off the GUI thread), open the source."""
        for problem in self.config.problems:
            self._warn("Settings ignored", problem)
        if not self.active_model.load_startup(self.config.model, self.config.threshold):
            self.model_views.show_model()  # "no model" in the panel; the video plays without verdicts
        self.model_views.refresh_menu()
        self.sources.open_startup(self.config.source)

    # -- wiring ------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        a, d = self.menu_actions, self.display
        a.open_video.triggered.connect(self.open_video_dialog)
        for action in a.cameras:
            action.triggered.connect(lambda _=False, i=action.data(): self.open_source(str(i)))
        a.snapshot.triggered.connect(self.snapshots.take)
        a.snapshot_dir.triggered.connect(self.snapshots.choose_folder)
        self.snapshots.message.connect(self.status.showMessage)
        a.quit.triggered.connect(self.close)
        a.about.triggered.connect(lambda: show_about(self))
        a.heatmap.toggled.connect(self.active_model.set_heatmap)  # Grad-CAM is computed only while shown
        self.model_menu.open_action.triggered.connect(self.open_model_dialog)
        self.model_menu.adapt_action.triggered.connect(lambda: self.open_adapt_dialog())
        self.active_model.model_changed.connect(d.score_with_active_model)
        self.active_model.load_failed.connect(d.on_load_failed)
        self.sources.started.connect(d.start)
        self.sources.unavailable.connect(d.show_no_source)
        for on_frame in (d.stats.on_frame, self.view.show_frame):
            self.controller.frame_ready.connect(on_frame)
        for on_result in (d.stats.on_result, self.view.show_result, self.faces_panel.set_result):
            self.controller.result_ready.connect(on_result)
        self.controller.source_failed.connect(d.show_no_source)
        self.controller.scoring_failed.connect(lambda msg: self.status.showMessage(msg))
        self._connect_panels()

    def _connect_panels(self) -> None:
        """The side panels get services, not the window: their requests come back here as signals."""
        rec, train = self.recording_panel, self.training_panel
        panels: tuple[RecordingPanel | TrainingPanel | NotePanel, ...] = (rec, train)
        for panel in panels:
            panel.message.connect(self.status.showMessage)
            self.closing.connect(panel.shutdown)
        if isinstance(train, NotePanel):  # the lean runtime (not can_train): nothing trains
            return
        train.model_trained.connect(lambda _path: self.model_views.refresh_menu())
        train.model_trained.connect(lambda _path: reveal(train.use_button))  # at the foot of a scrolled panel
        train.use_model.connect(self.active_model.activate)
        self.active_model.model_changed.connect(train.on_model_changed)

    # -- slots -------------------------------------------------------------------------------------------
    def _warn(self, title: str, text: str) -> None:
        if self.isVisible():
            QMessageBox.warning(self, title, text)
        else:  # start-up: wait for the window, so that the box does not pop up alone
            QTimer.singleShot(0, lambda: QMessageBox.warning(self, title, text))

    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 (Qt's name)
        if not self._closed:
            self._closed = True
            self.closing.emit()
            self._status_timer.stop()
            self._settings_timer.stop()
            self.controller.stop()  # scoring first: it uses the active model's face detector
            self.active_model.close()
            self.settings.save_window(self.saveGeometry(), self.saveState())
            self.settings.sync()
        super().closeEvent(event)
