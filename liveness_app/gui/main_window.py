"""The composition root: builds the stream threads, pipeline, menus and panels, and wires the signals.

No image math here: frames and results go to the :class:`VideoView` (which draws with ``core.overlay``),
numbers to the status bar and the panels. Everything the window depends on that touches hardware or
files can be injected (settings store, face detector, source opener) so tests run on a video file and a
small model on the CPU.

Extension points for later panels (recording, training): :meth:`MainWindow.add_panel` docks a widget and
lists it under View > Panels; ``controller.frame_ready`` delivers every captured frame; ``closing`` fires
before the stream stops, for panels to stop their own workers; :meth:`refresh_model_menu` and
:meth:`activate_model` pick up a model a training run just wrote.
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Callable

import torch
from PyQt6.QtCore import QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox, QWidget

from .. import paths
from ..config import AppConfig
from ..core.camera import CameraUnavailableError, FrameSource, open_source
from ..core.device import CHOICES as DEVICES, describe, select_device
from ..core.face import DetectorError, FaceDetector
from ..core.model import ModelLoadError
from ..core.overlay import OverlayOptions
from ..core.pipeline import FrameResult, LoadedModel, Pipeline
from ..core.realtime import Frame
from .menus import build_menus, build_toolbar, list_models
from .panels import FacesPanel, ModelInfoPanel, ThresholdControl
from .settings import AppSettings
from .status import StatusBar, StreamStats
from .video_view import VideoView
from .workers import StreamController

log = logging.getLogger(__name__)

SourceOpener = Callable[[str], FrameSource]
DetectorFactory = Callable[[Path], FaceDetector]
NO_SOURCE_HINT = "Open a video file (File > Open video...) or pick a camera (File > Open camera)."
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v);;All files (*)"


class MainWindow(QMainWindow):
    """Live view with verdicts, model/device/overlay controls, statistics and side panels."""

    closing = pyqtSignal()  # emitted first thing on close: panels stop their own workers here

    def __init__(self, config: AppConfig, settings: QSettings | None = None,
                 detector_factory: DetectorFactory | None = None,
                 source_opener: SourceOpener | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Liveness Studio")
        self.config = config
        self.settings = AppSettings(settings)
        self._open = source_opener or open_source
        self._pipeline: Pipeline | None = None
        self._model: LoadedModel | None = None
        self._latest: FrameResult | None = None
        self._docks: list[QDockWidget] = []
        self._device_pref = "auto"
        self._closed = False

        self.view = VideoView(self)
        self.setCentralWidget(self.view)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.stats = StreamStats()
        self.controller = StreamController(self)
        self.threshold = ThresholdControl()
        self.menu_actions, self.model_menu = build_menus(self, torch.cuda.is_available())
        build_toolbar(self, self.menu_actions, self.threshold)
        self.model_panel, self.faces_panel = ModelInfoPanel(), FacesPanel()
        self.add_panel(self.model_panel, "Model", "model-panel")
        self.add_panel(self.faces_panel, "Faces", "faces-panel")
        self._restore_settings()
        self._connect()
        self._status_timer = QTimer(self, interval=250, timeout=self._refresh_status)
        self._status_timer.start()

        self._detector = self._create_detector(detector_factory or FaceDetector)
        self._load_startup_model()
        self.refresh_model_menu()
        self._open_startup_source()

    # -- public API --------------------------------------------------------------------------------------
    @property
    def pipeline(self) -> Pipeline | None:
        return self._pipeline

    @property
    def model(self) -> LoadedModel | None:
        return self._model

    def add_panel(self, widget: QWidget, title: str, object_name: str,
                  area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                  tabify: bool = False) -> QDockWidget:
        """Dock ``widget`` (listed under View > Panels); ``tabify`` stacks it as a tab on the area's last dock."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name)  # saveState/restoreState key
        dock.setWidget(widget)
        same_area = [d for d in self._docks if self.dockWidgetArea(d) == area]
        self.addDockWidget(area, dock)
        if tabify and same_area:
            self.tabifyDockWidget(same_area[-1], dock)
        self.menu_actions.panels_menu.addAction(dock.toggleViewAction())
        self._docks.append(dock)
        return dock

    def refresh_model_menu(self) -> None:
        """Re-scan the model folders (e.g. after training wrote a new model)."""
        self.model_menu.populate(list_models(), self._model.path if self._model else None)

    def activate_model(self, path: Path, threshold: float | None = None, quiet: bool = False) -> bool:
        """Load ``path`` on the current device and score with it, without restarting the stream.

        A file that cannot be used is refused with a message (a status-bar note when ``quiet``) and the
        current model stays active. ``threshold`` None means the user's saved one for this model, else
        the model's calibrated one.
        """
        model = self._load(Path(path), self._device_pref, quiet)
        if model is None:
            self.model_menu.set_active(self._model.path if self._model else None)
            return False
        self._install(model, threshold)
        return True

    def set_device(self, preference: str) -> bool:
        """Auto/CPU/CUDA: reloads the current model there; on failure the old device stays."""
        if self._model is not None:
            model = self._load(self._model.path, preference, quiet=False)
            if model is None:
                self.menu_actions.devices[self._device_pref].setChecked(True)
                return False
            self._device_pref = preference
            self._install(model, self._pipeline.threshold if self._pipeline else None)
        else:
            self._device_pref = preference
            self.status.set_device(*self._device_text())
        self.settings.device = preference
        self.menu_actions.devices[preference].setChecked(True)
        return True

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
        path = folder / f"snapshot-{datetime.now():%Y%m%d-%H%M%S-%f}.png"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.status.showMessage(f"Cannot create snapshot folder {folder}: {exc}", 10000)
            return None
        if not self.view.save_snapshot(str(path)):
            self.status.showMessage("Snapshot not saved: no frame shown yet", 5000)
            return None
        self.status.showMessage(f"Snapshot saved: {path}", 10000)
        return path

    # -- dialogs -----------------------------------------------------------------------------------------
    def open_video_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open video", str(Path.home()), VIDEO_FILTER)
        if name:
            self.open_source(name)

    def open_model_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open model", str(paths.user_models_dir()),
                                              "Liveness Studio models (*.pt);;All files (*)")
        if name:
            self.activate_model(Path(name))

    def choose_snapshot_dir(self) -> None:
        start = self.settings.snapshot_dir or paths.user_data_dir()
        name = QFileDialog.getExistingDirectory(self, "Save snapshots in", str(start))
        if name:
            self.settings.snapshot_dir = Path(name)
            self.status.showMessage(f"Snapshots go to {name}", 5000)

    # -- start-up ----------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        cfg, saved, a = self.config, self.settings, self.menu_actions
        a.box.setChecked(saved.overlay("box", True))
        a.score.setChecked(saved.overlay("score", True))
        a.heatmap.setChecked(cfg.heatmap if "heatmap" in cfg.explicit else saved.overlay("heatmap", False))
        pref = cfg.device if "device" in cfg.explicit else (saved.device or "auto")
        self._device_pref = pref if pref in DEVICES else "auto"
        a.devices[self._device_pref].setChecked(True)
        self.status.set_device(*self._device_text())
        self._apply_overlay()
        if saved.geometry() is None or not self.restoreGeometry(saved.geometry()):
            self.resize(1280, 800)
        if saved.window_state() is not None:
            self.restoreState(saved.window_state())

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
        for choice, action in a.devices.items():
            action.triggered.connect(lambda _=False, c=choice: self.set_device(c))
        self.model_menu.chosen.connect(self.activate_model)
        self.model_menu.refresh_action.triggered.connect(self.refresh_model_menu)
        self.model_menu.open_action.triggered.connect(self.open_model_dialog)
        self.threshold.changed.connect(self._on_threshold_changed)
        self.controller.frame_ready.connect(self._on_frame)
        self.controller.result_ready.connect(self._on_result)
        self.controller.source_failed.connect(self._show_no_source)
        self.controller.scoring_failed.connect(lambda msg: self.status.showMessage(msg))

    def _create_detector(self, factory: DetectorFactory) -> FaceDetector | None:
        try:
            return factory(self.config.detector)
        except DetectorError as exc:
            log.error("face detector unavailable: %s", exc)
            QMessageBox.warning(self, "No face detector", f"{exc}\n\nThe video plays without verdicts.")
            return None

    def _load_startup_model(self) -> None:
        """The model asked for (a failure gets a message box), else the last one used, else the default."""
        cfg = self.config
        if cfg.model is not None:
            candidates, quiet = [cfg.model], False
        else:
            remembered = [self.settings.last_model, paths.default_model_path()]
            candidates, quiet = [p for p in remembered if p is not None and p.is_file()], True
        for path in candidates:
            if self.activate_model(path, threshold=cfg.threshold, quiet=quiet):
                return
        self.model_panel.set_model(None)
        self.status.showMessage("No model loaded: choose one in the Model menu (video plays without verdicts)")

    def _open_startup_source(self) -> None:
        """``--source`` if given; else the last source, else camera 0, else the bundled sample video."""
        if self.config.source is not None:
            self.open_source(self.config.source)
            return
        spec = self.settings.last_source or "0"
        if self.open_source(spec, remember=False):
            return
        try:
            source = self._open(str(paths.sample_video_path()))
        except CameraUnavailableError as exc:
            log.error("bundled sample video unavailable: %s", exc)
            return  # the view already says that no camera was found
        missing = "No camera found" if spec.isdigit() else f"{Path(spec).name} unavailable"
        self._start(source, f"{missing} — playing the bundled sample video")

    # -- model and device --------------------------------------------------------------------------------
    def _load(self, path: Path, preference: str, quiet: bool) -> LoadedModel | None:
        device, _ = select_device(preference)
        try:
            return LoadedModel.load(path, device)
        except ModelLoadError as exc:
            message = str(exc)
        except (OSError, RuntimeError) as exc:  # e.g. out of GPU memory: the file may be fine
            message = f"could not load it on {device}: {type(exc).__name__}: {exc}"
        log.warning("model %s refused: %s", path, message)
        if quiet:
            self.status.showMessage(f"Model {path.name} not loaded: {message}", 15000)
        else:
            QMessageBox.warning(self, "Model not loaded",
                                f"{path.name} cannot be used:\n\n{message}\n\nThe current model stays active.")
        return None

    def _install(self, model: LoadedModel, threshold: float | None) -> None:
        if threshold is None:
            threshold = self.settings.threshold_override(model.path)
        self._model = model
        if self._pipeline is not None:
            self._pipeline.set_model(model, threshold)
        elif self._detector is not None:
            self._pipeline = Pipeline(self._detector, model, heatmap=self.menu_actions.heatmap.isChecked(),
                                      threshold=threshold)
        self.controller.set_pipeline(self._pipeline)  # also restarts scoring after a scoring error
        self.settings.last_model = model.path
        self.refresh_model_menu()
        self.model_panel.set_model(model)
        current = self._pipeline.threshold if self._pipeline else model.meta.threshold
        self.threshold.set_threshold(current, model.meta.threshold)
        self.status.set_device(*self._device_text())
        self.stats.reset()

    def _device_text(self) -> tuple[str, str]:
        device, reason = select_device(self._device_pref)
        if self._model is not None:
            device = self._model.device
        return f"Device: {describe(device)}", reason

    def _on_threshold_changed(self, value: float) -> None:
        if self._pipeline is None or self._model is None:
            return
        self._pipeline.set_threshold(value)
        calibrated = abs(value - self._model.meta.threshold) < 5e-4
        self.settings.set_threshold_override(self._model.path, None if calibrated else value)

    # -- stream ------------------------------------------------------------------------------------------
    def _start(self, source: FrameSource, text: str) -> None:
        self.view.clear()
        self.stats.reset()
        self._latest = None
        self.controller.start(source, self._pipeline)
        self.status.set_source_text(text)

    def _show_no_source(self, reason: str) -> None:
        self.controller.stop()
        self._latest = None
        self.view.show_message(f"{reason}\n{NO_SOURCE_HINT}", self.menu_actions.open_video)
        self.status.set_source_text(f"No source: {reason}")

    def _apply_overlay(self) -> None:
        a = self.menu_actions
        self.view.set_options(OverlayOptions(box=a.box.isChecked(), score=a.score.isChecked(),
                                             heatmap=a.heatmap.isChecked()))
        if self._pipeline is not None:
            self._pipeline.set_heatmap(a.heatmap.isChecked())  # Grad-CAM is computed only when shown
        for name, action in (("box", a.box), ("score", a.score), ("heatmap", a.heatmap)):
            self.settings.set_overlay(name, action.isChecked())

    def _on_frame(self, frame: Frame) -> None:
        self.stats.on_frame()
        self.view.show_frame(frame)

    def _on_result(self, result: FrameResult) -> None:
        self.stats.on_result(result)
        self._latest = result
        self.view.show_result(result)

    def _refresh_status(self) -> None:
        running = self.controller.is_running
        self.status.set_stats(self.stats.summary(self.controller.dropped) if running else "")
        self.faces_panel.show_result(self._latest)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if not self._closed:
            self._closed = True
            self.closing.emit()
            self._status_timer.stop()
            self.controller.stop()
            self.settings.save_window(self.saveGeometry(), self.saveState())
            self.settings.sync()
            if self._detector is not None:
                self._detector.close()
        super().closeEvent(event)
