"""Training panel: retrain from recordings (or any folder/dataset), follow progress, cancel, evaluate.

``training.loop.fit()`` is a generator of :class:`TrainEvent`; :class:`~.tasks.TaskWorker` runs it on a
QThread and turns each ``yield`` into a signal (superqt's ``thread_worker``). Cancel closes the generator at the next
event, which keeps the best checkpoint written so far. Evaluation (``training.evaluate.evaluate_model``)
runs the same way. The panel never blocks the GUI thread except at window close, where it waits for the
running step to end so that no thread outlives the window.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import torch
from PyQt6.QtCore import Qt, QThread, QUrl, pyqtSignal
from PyQt6.QtGui import QDesktopServices
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit,
                             QListWidget, QListWidgetItem, QMessageBox, QPlainTextEdit, QProgressBar,
                             QPushButton, QSpinBox, QVBoxLayout, QWidget)

from training.config import FINETUNE, TrainConfig
from training.evaluate import evaluate_model
from training.loop import TrainEvent, fit

from .. import paths
from ..core.device import CHOICES as DEVICES
from . import dialogs
from .panels import button_row
from .tasks import TaskWorker
from .workers import start_in_thread, stop_thread

if TYPE_CHECKING:
    from .main_window import MainWindow

INPUT_SIZES = (128, 160, 224)
ARCH_CHOICES = (("mobilenet_v3_large", "MobileNetV3-Large"), ("mobilenet_v2", "MobileNetV2 (ImageNet start)"))
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# DataLoader worker processes are not used from the app: forking a process that runs Qt and capture
# threads is unsafe, and a frozen app cannot spawn them. The crops are cached, so loading is cheap.
APP_DEFAULTS: dict[str, Any] = {"workers": 0}


@dataclass
class _Job:
    worker: TaskWorker
    thread: QThread
    kind: str  # "train" | "evaluate"
    out_dir: Path
    failed: bool = False

    def outcome(self) -> str:
        if self.failed:
            return "failed"
        if self.worker.cancelled:
            return "cancelled"
        return "done" if self.kind == "train" else "evaluated"


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


class TrainingPanel(QWidget):
    """Data sources, model name, epochs, input size, device; Train/Cancel with progress; Evaluate.

    ``overrides`` are extra :class:`TrainConfig` fields that win over the widgets (advanced settings, and
    tiny runs in tests: ``input_size=32, batch_size=8, frames_per_video=4``).
    """

    job_finished = pyqtSignal(str)  # "done", "cancelled", "failed", "evaluated"
    event_received = pyqtSignal(object)  # every TrainEvent, after the panel showed it

    def __init__(self, window: "MainWindow", overrides: Mapping[str, Any] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._window = window
        self.overrides: dict[str, Any] = dict(overrides or {})
        self._job: _Job | None = None
        self.new_model: Path | None = None
        self.report_path: Path | None = None
        self._build()
        self._on_init_toggled(self.init_check.isChecked())
        self.set_sources([str(paths.recordings_dir())])
        window.closing.connect(self.shutdown)
        window.model_changed.connect(self._on_model_changed)
        self._set_busy(None)

    # -- widgets -----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self._build_inputs()
        self._build_outputs()
        form = QFormLayout()
        form.addRow("Model name:", self.name_edit)
        form.addRow("Epochs:", self.epochs_spin)
        form.addRow("Input size:", self.size_combo)
        form.addRow("Architecture:", self.arch_combo)
        form.addRow("Device:", self.device_combo)
        form.addRow("", self.lbp_check)
        form.addRow("", self.init_check)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Training data:"))
        layout.addWidget(self.source_list)
        layout.addLayout(button_row(*self.source_buttons))
        layout.addLayout(form)
        layout.addLayout(button_row(self.train_button, self.cancel_button, self.evaluate_button))
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.log_view, 1)
        layout.addWidget(self.report_label)
        layout.addLayout(button_row(self.use_button, self.open_report_button))

    def _build_inputs(self) -> None:
        self.source_list = QListWidget()
        self.source_list.setToolTip("Checked sources are used to train and to evaluate")
        self.source_list.setMaximumHeight(64)  # the dock shares its height with the model summary
        self.source_buttons = add_folder, add_dataset, remove = (
            QPushButton("Add folder..."), QPushButton("Add dataset..."), QPushButton("Remove"))
        add_folder.setToolTip("A folder with one sub-folder per label (live, print, ...) of images or videos")
        add_dataset.setToolTip("A manifest.csv listing files with their label and subject")
        add_folder.clicked.connect(self._add_folder)
        add_dataset.clicked.connect(self._add_dataset)
        remove.clicked.connect(self._remove_selected)
        self.name_edit = QLineEdit(f"my-model-{datetime.now():%Y%m%d}")
        self.epochs_spin = QSpinBox(minimum=1, maximum=500, value=10)
        self.size_combo = QComboBox()
        self.size_combo.addItems([str(s) for s in INPUT_SIZES])
        # 224 px is the recipe's default; on a CPU-only machine 128 px trains several times faster.
        self.size_combo.setCurrentText("224" if torch.cuda.is_available() else "128")
        self.arch_combo = QComboBox()
        for arch, text in ARCH_CHOICES:
            self.arch_combo.addItem(text, arch)
        weights = paths.imagenet_weights("mobilenet_v2")
        self.arch_combo.setToolTip("MobileNetV3-Large is the shipped architecture (trained from scratch). "
                                   "MobileNetV2 starts from ImageNet weights: " +
                                   (str(weights) if weights else "fetch them once with "
                                    "'python scripts/fetch_imagenet_weights.py'"))
        if weights is None:
            self.arch_combo.model().item(1).setEnabled(False)
        self.init_check = QCheckBox("Fine-tune the active model (short schedule)")
        self.init_check.setToolTip("Start from the model in use, keep its architecture and preprocessing, and "
                                   "train briefly on your data (about a minute on a CPU); off: train a new "
                                   "model from the settings above")
        self.init_check.setChecked(True)
        self.init_check.toggled.connect(self._on_init_toggled)
        self.lbp_check = QCheckBox("Fuse LBP texture features")
        self.lbp_check.setToolTip("Add colour-LBP texture histograms (Y, Cb, Cr on a 2x2 grid) to the CNN's "
                                  "features: a classic print/replay cue; slightly slower to score")
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICES))
        if not torch.cuda.is_available():
            self.device_combo.model().item(DEVICES.index("cuda")).setEnabled(False)

    def _build_outputs(self) -> None:
        self.train_button, self.cancel_button = QPushButton("Train"), QPushButton("Cancel")
        self.evaluate_button = QPushButton("Evaluate...")
        self.evaluate_button.setToolTip("Evaluate the active model on the checked data and write a report")
        self.train_button.clicked.connect(self.train)
        self.cancel_button.clicked.connect(self.cancel)
        self.evaluate_button.clicked.connect(self.evaluate)
        self.progress = QProgressBar()
        self.status_label = QLabel("Ready")
        self.status_label.setWordWrap(True)
        self.log_view = QPlainTextEdit(readOnly=True, maximumBlockCount=200)
        self.log_view.setMaximumHeight(64)
        self.use_button = QPushButton("Use the new model now")
        self.use_button.clicked.connect(self.use_new_model)
        self.report_label = QLabel()
        self.report_label.setWordWrap(True)
        self.report_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_report_button = QPushButton("Open report")
        self.open_report_button.clicked.connect(self.open_report)
        for w in (self.use_button, self.report_label, self.open_report_button):
            w.hide()

    # -- data sources ------------------------------------------------------------------------------------
    def set_sources(self, specs: list[str]) -> None:
        self.source_list.clear()
        for spec in specs:
            self.add_source(spec)

    def add_source(self, spec: str) -> None:
        """Add (checked) a folder, a manifest.csv or NAME:PATH spec; the recordings folder is named as such."""
        text = f"Recordings ({spec})" if Path(spec) == paths.recordings_dir() else spec
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, spec)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        self.source_list.addItem(item)

    def sources(self) -> list[str]:
        """The checked data specs."""
        items = (self.source_list.item(i) for i in range(self.source_list.count()))
        return [i.data(Qt.ItemDataRole.UserRole) for i in items if i.checkState() == Qt.CheckState.Checked]

    def _remove_selected(self) -> None:
        for item in self.source_list.selectedItems():
            self.source_list.takeItem(self.source_list.row(item))

    def _add_folder(self) -> None:
        if folder := dialogs.ask_folder(self, "Add a folder of labelled data (DIR/<label>/<files>)", Path.home()):
            self.add_source(str(folder))

    def _add_dataset(self) -> None:
        if name := dialogs.ask_manifest(self, Path.home()):
            self.add_source(name)

    def _missing_data(self, specs: list[str]) -> str:
        """Why there is nothing to train on ("" when there may be)."""
        if not specs:
            return "No data selected: check at least one data source, or add a folder or dataset."
        if specs == [str(paths.recordings_dir())] and not (paths.recordings_dir() / "manifest.json").is_file():
            return ("No recordings yet: record live and attack sessions of at least two subjects in the "
                    "Recording panel, or add a folder or dataset.")
        return ""

    # -- training ----------------------------------------------------------------------------------------
    def build_config(self) -> TrainConfig:
        """The run's configuration from the widgets and :attr:`overrides`; raises ValueError when invalid."""
        name = self.name_edit.text().strip()
        if not NAME_RE.fullmatch(name):
            raise ValueError(f"model name {name!r}: use letters, digits, '.', '_' or '-' (it becomes a file name)")
        root = paths.user_data_dir()
        values: dict[str, Any] = {
            **APP_DEFAULTS, "data": tuple(self.sources()), "name": name,
            "out_dir": str(root / "runs" / f"{name}-{_stamp()}"), "cache_dir": str(root / "cache"),
            "epochs": self.epochs_spin.value(), "input_size": int(self.size_combo.currentText()),
            "device": self.device_combo.currentText(), "install": True,
            "lbp_grid": 2 if self.lbp_check.isChecked() else 0, **self._arch_values()}
        active = self._window.model
        if self.init_check.isChecked() and active is not None:  # the base's architecture and input win
            values = {**values, **FINETUNE, "epochs": self.epochs_spin.value(), "init": str(active.path),
                      "arch": "mobilenet_v3_large", "lbp_grid": 0, "pretrained": ""}
        return TrainConfig(**{**values, **self.overrides})

    def _on_init_toggled(self, on: bool) -> None:
        """Fine-tuning keeps the base's input size, architecture and texture branch: those choices go."""
        for widget in (self.size_combo, self.arch_combo, self.lbp_check):
            widget.setEnabled(not on)
        self.epochs_spin.setValue(FINETUNE["epochs"] if on else 10)

    def _arch_values(self) -> dict[str, Any]:
        arch = self.arch_combo.currentData()
        if arch == "mobilenet_v3_large":
            return {"arch": arch}
        weights = paths.imagenet_weights(arch)
        if weights is None:
            raise ValueError(f"no ImageNet weights for {arch}: run 'python scripts/fetch_imagenet_weights.py' once")
        return {"arch": arch, "pretrained": str(weights), "lr": 5e-4}

    def train(self) -> bool:
        """Start a run on a worker thread; False (with a message) when it cannot start."""
        if self._job is not None:
            return False
        problem, cfg = self._missing_data(self.sources()), None
        if not problem:
            try:
                cfg = self.build_config()
            except ValueError as exc:  # a bad name or setting: TrainConfig says what is wrong
                problem = str(exc)
        if cfg is None:
            self._fail("train", problem)
            return False
        self.new_model = None
        self.use_button.hide()
        self.log_view.clear()
        self._start(TaskWorker(partial(fit, cfg)), "train", Path(cfg.out_dir), "Preparing the data...")
        return True

    def cancel(self) -> None:
        """Closes ``fit()`` at its next event; the best checkpoint so far stays in the run folder."""
        if self._job is not None and self._job.kind == "train":
            self._job.worker.stop()
            self.cancel_button.setEnabled(False)
            self.status_label.setText("Cancelling after the current step...")

    def use_new_model(self) -> None:
        """Load the new model (off the GUI thread); the button goes once it scores."""
        if self.new_model is not None:
            self._window.activate_model(self.new_model)

    def _on_model_changed(self, model: Any) -> None:
        if self.new_model is not None and model.path == self.new_model:
            self.use_button.hide()
            self.status_label.setText(f"Scoring with {self.new_model.name}")

    def _on_event(self, ev: TrainEvent) -> None:
        if self._job is None:
            return
        if ev.kind == "cache":
            self._show_progress(ev.step, ev.steps, f"Caching face crops {ev.step}/{ev.steps}")
        elif ev.kind == "batch":
            loss = ev.metrics.get("loss")
            self._show_progress((ev.epoch - 1) * ev.steps + ev.step, ev.epochs * ev.steps,
                                f"Epoch {ev.epoch}/{ev.epochs}, step {ev.step}/{ev.steps}"
                                + (f", loss {loss:.4f}" if loss is not None else ""))
        elif ev.kind == "epoch":
            self.log_view.appendPlainText(ev.message)
            frame = ev.metrics.get("dev", {}).get("frame", {})
            if frame:
                self.status_label.setText(f"Epoch {ev.epoch}/{ev.epochs}: dev AUC {_fmt(frame.get('auc'))}, "
                                          f"ACER {_fmt(frame.get('acer'))}")
        elif ev.kind == "warning":  # e.g. files skipped while caching, with where the full list is
            self.log_view.appendPlainText(f"Warning: {ev.message}")
        elif ev.kind == "done":
            self.log_view.appendPlainText(ev.message)
            self._show_progress(1, 1, "Done" if ev.model_path is None else
                                f"Done: {Path(ev.model_path).name} is in the Model menu")
            if ev.model_path is not None and Path(ev.model_path).is_file():
                self.new_model = Path(ev.model_path)
                self._window.refresh_model_menu()
                self.use_button.show()
        self.event_received.emit(ev)

    def _show_progress(self, value: int, maximum: int, text: str) -> None:
        self.progress.setRange(0, max(maximum, 1))
        self.progress.setValue(min(value, max(maximum, 1)))
        self.status_label.setText(text)

    # -- evaluation --------------------------------------------------------------------------------------
    def evaluate(self) -> bool:
        """Evaluate the active model on the checked data, on a worker thread; the report path is shown."""
        if self._job is not None:
            return False
        model = self._window.model
        problem = ("No active model: choose one in the Model menu." if model is None
                   else self._missing_data(self.sources()))
        if problem:
            self._fail("evaluate", problem)
            return False
        out_dir = paths.user_data_dir() / "reports" / f"{model.meta.name or model.path.stem}-{_stamp()}"
        task = partial(evaluate_model, model.path, self.sources(), out_dir,
                       frames_per_video=int(self.overrides.get("frames_per_video", 8)),
                       cache_dir=paths.user_data_dir() / "cache", device=self.device_combo.currentText())
        self.report_label.hide()
        self.open_report_button.hide()
        self._start(TaskWorker(task), "evaluate", out_dir, f"Evaluating {model.path.name}...")
        return True

    def _on_evaluated(self, metrics: dict[str, Any]) -> None:
        if self._job is None:
            return
        self.report_path = self._job.out_dir / "report.html"
        frame = metrics.get("frame", {})
        self._show_progress(1, 1, f"Evaluated: AUC {_fmt(frame.get('auc'))}, ACER {_fmt(frame.get('acer'))}")
        # Short enough for a narrow dock; the full path is in the tooltip and the log.
        self.report_label.setText(f"Report written to {self.report_path.parent.name}")
        self.report_label.setToolTip(str(self.report_path))
        self.log_view.appendPlainText(f"evaluation report: {self.report_path}")
        self.report_label.show()
        self.open_report_button.show()

    def open_report(self) -> None:
        if self.report_path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.report_path)))

    # -- jobs --------------------------------------------------------------------------------------------
    @property
    def is_busy(self) -> bool:
        return self._job is not None

    def _start(self, worker: TaskWorker, kind: str, out_dir: Path, text: str) -> None:
        # Connected before the thread starts, to bound methods: delivered queued, in the GUI thread.
        worker.yielded.connect(self._on_event)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._job = _Job(worker, start_in_thread(worker), kind, out_dir)
        self.progress.setRange(0, 0)  # busy until the first event
        self.status_label.setText(text)
        self._set_busy(kind)

    def _on_returned(self, result: Any) -> None:
        if self._job is not None and self._job.kind == "evaluate":
            self._on_evaluated(result)

    def _on_errored(self, message: str) -> None:
        if self._job is not None:
            self._job.failed = True
            self._fail(self._job.kind, message, failed=True)

    def _on_finished(self) -> None:
        job, self._job = self._job, None
        if job is None:  # already stopped at window close
            return
        job.thread.quit()
        job.thread.wait()  # run() has returned: this only lets the thread's event loop end
        outcome = job.outcome()
        if outcome == "cancelled":
            best = job.out_dir / "best.pt"
            self._show_progress(0, 1, f"Cancelled. The best model so far is kept: {best}" if best.is_file()
                                else "Cancelled before the first epoch ended; no model was saved.")
        self._set_busy(None)
        self.job_finished.emit(outcome)

    def _fail(self, kind: str, message: str, failed: bool = False) -> None:
        title = "Training" if kind == "train" else "Evaluation"
        text = f"{title} {'failed' if failed else 'cannot start'}: {message}"
        self.status_label.setText(text)
        self._window.status.showMessage(text, 15000)
        QMessageBox.warning(self, title, text)

    def _set_busy(self, kind: str | None) -> None:
        self.train_button.setEnabled(kind is None)
        self.evaluate_button.setEnabled(kind is None)
        self.cancel_button.setEnabled(kind == "train")
        for w in (self.name_edit, self.epochs_spin, self.device_combo, self.source_list, self.init_check,
                  *self.source_buttons):
            w.setEnabled(kind is None)
        new_model = kind is None and not self.init_check.isChecked()  # fine-tuning keeps the base's choices
        for w in (self.size_combo, self.arch_combo, self.lbp_check):
            w.setEnabled(new_model)
        if kind is None and self.progress.maximum() == 0:
            self.progress.setRange(0, 1)

    def shutdown(self) -> None:
        """Window closing: cancel and wait for the current step (a batch, a caching chunk) to end."""
        job, self._job = self._job, None
        if job is not None:
            self._window.status.showMessage("Stopping the training run...")
            stop_thread(job.worker, job.thread)

