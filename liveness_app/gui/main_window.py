"""The composition root: builds the stream threads, pipeline, menus and panels, and wires the signals.

No image math here. Anything touching hardware or files is injected (settings store, face detector,
source opener), so tests run on a video file and a small model on the CPU. Extension points for later
panels: see the package docstring (``liveness_app.gui``).
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QIcon
from PyQt6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QWidget

from .. import paths
from ..config import AppConfig
from ..core.camera import CameraUnavailableError, FrameSource, open_source
from ..core import BACKEND_CHOICES as BACKENDS, DEVICE_CHOICES as DEVICES
from ..core.backends.factory import cuda_available, installed
from ..core.face import DetectorError, FaceDetector
from ..core.overlay import OverlayOptions
from ..core.pipeline import LoadedModel, Pipeline
from . import dialogs
from .menus import build_menus, build_toolbar
from .model_control import ModelControl
from .model_loader import ModelLoader
from .panels.info import FacesPanel, ModelInfoPanel, NotePanel, ThresholdControl
from .panels.recording import RecordingPanel
from .active_model import ActiveModel
from .settings import AppSettings
from .settings_store import SettingsFile
from .status import StatusBar, StreamStats
from .video_view import VideoView
from .workers import StreamController

log = logging.getLogger(__name__)

SourceOpener = Callable[[str], FrameSource]
DetectorFactory = Callable[[Path], FaceDetector]
LEAN_TRAINING_NOTE = ("This is the lean runtime (ONNX Runtime, no PyTorch): it scores and records, "
                      "while calibrating, training and adapting need the full install (pip install liveness-studio, or the "
                      "full bundle). Recordings made here train there.")
NO_SOURCE_HINT = "Open a video file (File > Open video...) or pick a camera (File > Open camera)."


class MainWindow(ModelControl, QMainWindow):
    """Live view with verdicts, model/device/overlay controls, statistics and side panels."""

    closing = pyqtSignal()  # emitted first thing on close: panels stop their own workers here
    model_changed = pyqtSignal(object)  # the LoadedModel now scoring
    model_refused = pyqtSignal(str, str)  # path, why

    def __init__(self, config: AppConfig, settings: SettingsFile | None = None,
                 detector_factory: DetectorFactory | None = None,
                 source_opener: SourceOpener | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Liveness Studio")
        self.setWindowIcon(QIcon(str(paths.asset_path("icon.png"))))
        self.config = config
        self.settings = AppSettings(settings)
        self._open = source_opener or open_source
        self._closed = False

        self.view = VideoView(self)
        self.setCentralWidget(self.view)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.stats = StreamStats()
        self.controller = StreamController(self)
        self.threshold = ThresholdControl()
        # The lean runtime has no torch: ONNX Runtime scores, and retraining is for the full install.
        self.can_train = installed("torch")
        self.menu_actions, self.model_menu = build_menus(
            self, cuda_available(), {"torch": self.can_train, "onnx": installed("onnxruntime")})
        build_toolbar(self, self.menu_actions, self.threshold)
        self.model_panel, self.faces_panel = ModelInfoPanel(), FacesPanel()
        docks = [self.add_panel(self.model_panel, "Model", "model-panel"),
                 self.add_panel(self.faces_panel, "Faces", "faces-panel")]
        # First-run layout (a saved one overrides it): faces get the height, the summary what it needs.
        self.resizeDocks(docks, [300, 300], Qt.Orientation.Horizontal)
        self.resizeDocks(docks, [250, 450], Qt.Orientation.Vertical)
        self.recording_panel = RecordingPanel(self.controller)
        self.training_panel = self._create_training_panel()
        self.add_panel(self.recording_panel, "Recording", "recording-panel", tabify=True)
        self.add_panel(self.training_panel, "Training", "training-panel", tabify=True)
        device, backend = self._restore_settings()
        detector = self._create_detector(detector_factory or FaceDetector)
        self.session = ActiveModel(detector, self.settings, device, self.menu_actions.heatmap.isChecked(), backend)
        self._loader = ModelLoader(self.session.load, self)
        self._loader.loaded.connect(self._on_model_loaded)
        self._loader.failed.connect(self._on_model_failed)
        self.status.set_device(*self.session.device_text())
        self._connect()
        self._status_timer = QTimer(self, interval=250, timeout=self._refresh_status)
        self._status_timer.start()
        # settings reach the disk every few seconds (a crash loses little) and at close
        self._settings_timer = QTimer(self, interval=3000, timeout=self.settings.sync)
        self._settings_timer.start()

        for problem in config.problems:
            self._warn("Settings ignored", problem)
        self._load_startup_model()
        self.refresh_model_menu()
        self._open_startup_source()

    # -- public API --------------------------------------------------------------------------------------
    @property
    def pipeline(self) -> Pipeline | None:
        return self.session.pipeline

    @property
    def model(self) -> LoadedModel | None:
        return self.session.model

    def add_panel(self, widget: QWidget, title: str, object_name: str,
                  area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                  tabify: bool = False) -> QDockWidget:
        """Dock ``widget`` (listed under View > Panels); ``tabify`` stacks it as a tab on the area's last dock."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name)  # saveState/restoreState key
        dock.setWidget(widget)
        same_area = [d for d in self.findChildren(QDockWidget) if d is not dock and self.dockWidgetArea(d) == area]
        self.addDockWidget(area, dock)
        if tabify and same_area:
            self.tabifyDockWidget(same_area[-1], dock)
        self.menu_actions.panels_menu.addAction(dock.toggleViewAction())
        return dock

    def open_source(self, spec: str, remember: bool = True) -> bool:
        """Stream a camera index ("0") or a video file; if it cannot be opened the window says why."""
        try:
            source = self._open(spec)
        except CameraUnavailableError as exc:
            self._show_no_source(str(exc))
            return False
        self._start(source, f"Source: {source.name}")
        if remember:
            self.settings.last_source = spec
        return True

    def snapshot(self) -> Path | None:
        """Save the frame as shown (with its overlay) as a PNG; returns its path."""
        folder = self.settings.snapshot_dir or paths.user_data_dir() / "snapshots"
        try:
            path = self.view.save_snapshot(folder)
        except OSError as exc:
            self.status.showMessage(f"Snapshot not saved: {exc}", 10000)
            return None
        self.status.showMessage(f"Snapshot saved: {path}" if path else "No frame to save yet", 10000)
        return path

    # -- dialogs -----------------------------------------------------------------------------------------
    def open_video_dialog(self) -> None:
        last = self.settings.last_source
        start = Path(last).parent if last and not last.isdigit() else Path.home()
        if name := dialogs.ask_video_file(self, start):
            self.open_source(name)

    def open_model_dialog(self) -> None:
        if path := dialogs.ask_model_file(self, paths.user_models_dir()):
            self.activate_model(path)

    def open_adapt_dialog(self, **options: Any) -> QWidget | None:
        """The guided "Adapt to my camera" flow (non-modal: the video stays visible behind it); ``options``
        go to :class:`AdaptDialog` (tests shorten the takes). None in the lean runtime (no training)."""
        if not self.can_train:
            self._warn("Needs the full install", LEAN_TRAINING_NOTE)
            return None
        from .adapt_dialog import AdaptDialog

        dialog = AdaptDialog(self.recording_panel, lambda: self.model.path if self.model else None,
                             device=self.session.device_preference, parent=self, **options)
        dialog.model_ready.connect(lambda path: (self.refresh_model_menu(), self.activate_model(path)))
        dialog.threshold_ready.connect(
            lambda value, rule: self.calibrate_camera(value, rule, datetime.now().strftime("%Y-%m-%d")))
        dialog.show()
        return dialog

    def choose_snapshot_dir(self) -> None:
        start = self.settings.snapshot_dir or paths.user_data_dir()
        if folder := dialogs.ask_folder(self, "Save snapshots in", start):
            self.settings.snapshot_dir = folder
            self.status.showMessage(f"Snapshots go to {folder}", 5000)

    # -- start-up ----------------------------------------------------------------------------------------
    def _restore_settings(self) -> tuple[str, str]:
        """Overlay toggles, window layout; returns the device and backend preferences (command line beats
        saved)."""
        cfg, saved, a = self.config, self.settings, self.menu_actions
        a.box.setChecked(saved.overlay("box", True))
        a.score.setChecked(saved.overlay("score", True))
        a.heatmap.setChecked(cfg.heatmap if "heatmap" in cfg.explicit else saved.overlay("heatmap", False))
        self._apply_overlay()
        device = cfg.device if "device" in cfg.explicit else (saved.device or "auto")
        device = device if device in DEVICES else "auto"
        a.devices[device].setChecked(True)
        backend = cfg.backend if "backend" in cfg.explicit else (saved.backend or "auto")
        backend = backend if backend in BACKENDS and a.backends[backend].isEnabled() else "auto"
        a.backends[backend].setChecked(True)
        if saved.geometry() is None or not self.restoreGeometry(saved.geometry()):
            self.resize(1280, 800)
        if saved.window_state() is not None:
            self.restoreState(saved.window_state())
        return device, backend

    def _connect(self) -> None:
        a = self.menu_actions
        a.open_video.triggered.connect(self.open_video_dialog)
        for action in a.cameras:
            action.triggered.connect(lambda _=False, i=action.data(): self.open_source(str(i)))
        a.snapshot.triggered.connect(self.snapshot)
        a.snapshot_dir.triggered.connect(self.choose_snapshot_dir)
        a.quit.triggered.connect(self.close)
        for action in (a.box, a.score, a.heatmap):
            action.toggled.connect(self._apply_overlay)
        a.heatmap.toggled.connect(self.session.set_heatmap)  # Grad-CAM is computed only while shown
        for choice, action in a.devices.items():
            action.triggered.connect(lambda _=False, c=choice: self.set_device(c))
        for choice, action in a.backends.items():
            action.triggered.connect(lambda _=False, c=choice: self.set_backend(c))
        self.model_menu.chosen.connect(self.activate_model)
        self.model_menu.refresh_action.triggered.connect(self.refresh_model_menu)
        self.model_menu.open_action.triggered.connect(self.open_model_dialog)
        self.model_menu.adapt_action.triggered.connect(lambda: self.open_adapt_dialog())
        self.threshold.changed.connect(self.session.set_threshold)
        for slot in (self.stats.on_frame, self.view.show_frame):
            self.controller.frame_ready.connect(slot)
        for slot in (self.stats.on_result, self.view.show_result, self.faces_panel.set_result):
            self.controller.result_ready.connect(slot)
        self.controller.source_failed.connect(self._show_no_source)
        self.controller.scoring_failed.connect(lambda msg: self.status.showMessage(msg))
        self._connect_panels()

    def _connect_panels(self) -> None:
        """The side panels get services, not the window: their requests come back here as signals."""
        rec, train = self.recording_panel, self.training_panel
        for panel in (rec, train):
            panel.message.connect(self.status.showMessage)
            self.closing.connect(panel.shutdown)
        if not self.can_train:
            return
        train.model_trained.connect(lambda _path: self.refresh_model_menu())
        train.use_model.connect(self.activate_model)
        self.model_changed.connect(train.on_model_changed)

    def _create_training_panel(self) -> QWidget:
        """The Training panel; in the lean runtime a note that says where training is."""
        if not self.can_train:
            return NotePanel(LEAN_TRAINING_NOTE)
        from .panels.training import TrainingPanel

        return TrainingPanel(lambda: self.model)

    def _create_detector(self, factory: DetectorFactory) -> FaceDetector | None:
        try:
            return factory(self.config.detector)
        except DetectorError as exc:
            log.error("face detector unavailable: %s", exc)
            self._warn("No face detector", f"{exc}\n\nThe video plays without verdicts.")
            return None

    def _open_startup_source(self) -> None:
        """``--source`` if given; else the camera used last (0 at first), else the bundled sample video.

        A video file opened last time is not reopened: this is a camera app, files are one-offs.
        """
        if self.config.source is not None:
            self.open_source(self.config.source)
            return
        last = self.settings.last_source
        if self.open_source(last if last and last.isdigit() else "0", remember=False):
            return
        try:
            source = self._open(str(paths.sample_video_path()))
        except CameraUnavailableError as exc:
            log.error("bundled sample video unavailable: %s", exc)
            return  # the view already says that no camera was found
        self._start(source, "No camera found — playing the bundled sample video")

    # -- stream ------------------------------------------------------------------------------------------
    def _start(self, source: FrameSource, text: str) -> None:
        log.info("streaming from %s (%.1f fps)", source.name, source.fps)
        self.session.set_camera(source.name)
        if self.model is not None:
            self.threshold.set_threshold(self.session.threshold, self.model.meta.threshold, self._threshold_source())
        self.view.clear()
        self.stats.reset()
        self.faces_panel.set_result(None)
        self.controller.start(source, self.pipeline)
        self.status.set_source_text(text)

    def _warn(self, title: str, text: str) -> None:
        if self.isVisible():
            QMessageBox.warning(self, title, text)
        else:  # start-up: wait for the window, so that the box does not pop up alone
            QTimer.singleShot(0, lambda: QMessageBox.warning(self, title, text))

    def _show_no_source(self, reason: str) -> None:
        log.warning("no video source: %s", reason)
        self.controller.stop()
        self.faces_panel.set_result(None)
        self.view.show_message(f"{reason}\n{NO_SOURCE_HINT}", self.menu_actions.open_video)
        self.status.set_source_text(f"No source: {reason}")

    def _apply_overlay(self) -> None:
        a = self.menu_actions
        self.view.set_options(OverlayOptions(box=a.box.isChecked(), score=a.score.isChecked(),
                                             heatmap=a.heatmap.isChecked()))
        for name, action in (("box", a.box), ("score", a.score), ("heatmap", a.heatmap)):
            self.settings.set_overlay(name, action.isChecked())

    def _refresh_status(self) -> None:
        """Text updates a few times a second, not per frame: they would cost more than the video."""
        self.status.show_stats(self.stats, self.controller.dropped, self.controller.is_running,
                               self.pipeline is not None)
        self.faces_panel.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if not self._closed:
            self._closed = True
            self.closing.emit()
            self._loader.shutdown()
            self._status_timer.stop()
            self._settings_timer.stop()
            self.controller.stop()
            self.settings.save_window(self.saveGeometry(), self.saveState())
            self.settings.sync()
            self.session.close()
        super().closeEvent(event)
