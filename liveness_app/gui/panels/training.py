"""Training panel: retrain from recordings (or any folder/dataset), follow progress, cancel, evaluate.

``training.fit.loop.fit()`` is a generator of :class:`TrainEvent`; :class:`~.tasks.TaskRunner` runs it on a
QThread and turns each ``yield`` into a signal (superqt's ``thread_worker``). Cancel closes the generator at
the next event, which keeps the best checkpoint written so far. Evaluation (``training.eval.evaluate.evaluate_model``)
runs the same way. The panel never blocks the GUI thread except in :meth:`shutdown` (window closing), where
it waits for the running step to end so that no thread outlives the window.

The panel gets a ``model_provider`` (the active model, for fine-tuning and evaluation) and emits what the
window acts on: ``model_trained`` (list it in the Model menu), ``use_model`` (switch to it), ``message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

from PyQt6.QtCore import Qt, QTimer, QUrl, pyqtSignal
from PyQt6.QtGui import QDesktopServices
from PyQt6.QtWidgets import QLabel, QMessageBox, QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget

from training.config import TrainConfig
from training.eval.evaluate import evaluate_model
from training.fit.loop import TrainEvent, fit
from training.progress import StagedProgress, apply, fit_stages

from ... import paths
from ...core.pipeline import LoadedModel
from ..tasks import TaskRunner, error_text
from . import training_status as run_status
from .data_sources import DataSourceList
from .info import button_row
from .training_form import TrainingForm, stamp


@dataclass
class _Job:
    kind: str  # "train" | "evaluate"
    out_dir: Path


class TrainingPanel(QWidget):
    """Data sources, model name, epochs, input size, device; Train/Cancel with progress; Evaluate.

    ``overrides`` are extra :class:`TrainConfig` fields that win over the widgets (advanced settings, and
    tiny runs in tests: ``input_size=32, batch_size=8, frames_per_video=4``).
    """

    job_finished = pyqtSignal(str)  # "done", "cancelled", "failed", "evaluated"
    event_received = pyqtSignal(object)  # every TrainEvent, after the panel showed it
    model_trained = pyqtSignal(Path)  # a new model was installed in the user's model folder
    use_model = pyqtSignal(Path)  # the user asks to score with the new model
    message = pyqtSignal(str, int)  # status-bar text, milliseconds (0: until replaced)

    def __init__(
        self,
        model_provider: Callable[[], LoadedModel | None],
        overrides: Mapping[str, Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._active_model = model_provider
        self.overrides: dict[str, Any] = dict(overrides or {})
        self._job: _Job | None = None
        self._runner = TaskRunner(self)
        self._runner.yielded.connect(self._on_event)
        self._runner.returned.connect(self._on_returned)
        self._runner.errored.connect(self._on_errored)
        self._runner.finished.connect(self._on_finished)
        self.new_model: Path | None = None
        self.report_path: Path | None = None
        self.run_progress: StagedProgress | None = None  # the training run's stages and time left
        self._clock = QTimer(self)  # the time left moves between events too
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._show_run_progress)
        self._build()
        self.set_sources([str(paths.recordings_dir())])
        self._set_busy(None)

    # -- widgets -----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.data, self.form = DataSourceList(), TrainingForm()
        self.set_sources, self.sources = self.data.set_sources, self.data.sources
        self._build_outputs()
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Training data:"))
        layout.addWidget(self.data)
        layout.addWidget(self.form)
        layout.addLayout(button_row(self.train_button, self.cancel_button, self.evaluate_button))
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.log_view, 1)
        layout.addWidget(self.report_label)
        layout.addLayout(button_row(self.use_button, self.open_report_button))

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
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(200)
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

    # -- training ----------------------------------------------------------------------------------------
    def build_config(self) -> TrainConfig:
        """The run's configuration from the widgets and :attr:`overrides`; raises ValueError when invalid."""
        return self.form.config(self.sources(), self._active_model(), self.overrides)

    def train(self) -> bool:
        """Start a run on a worker thread; False (with a message) when it cannot start."""
        if self._job is not None:
            return False
        problem, cfg = self.data.missing_data(), None
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
        self.run_progress = StagedProgress(fit_stages(cfg))
        self._start(partial(fit, cfg), "train", Path(cfg.out_dir), "Preparing the data...")
        self._clock.start()
        return True

    def cancel(self) -> None:
        """Closes ``fit()`` at its next event; the best checkpoint so far stays in the run folder."""
        if self._job is not None and self._job.kind == "train":
            self._runner.cancel()
            self.cancel_button.setEnabled(False)
            self.status_label.setText("Cancelling after the current step...")

    def use_new_model(self) -> None:
        """Load the new model (off the GUI thread); the button goes once it scores."""
        if self.new_model is not None:
            self.use_model.emit(self.new_model)

    def on_model_changed(self, model: LoadedModel) -> None:
        """The window scores with ``model`` now: the Use button goes once it is the new one."""
        if self.new_model is not None and model.path == self.new_model:
            self.use_button.hide()
            self.status_label.setText(f"Scoring with {self.new_model.name}")

    def _on_event(self, ev: TrainEvent) -> None:
        if self._job is None:
            return
        if self.run_progress is not None and ev.kind != "done":
            apply(self.run_progress, ev)
            self._show_run_progress()
        if ev.kind == "epoch":  # its dev figures; the bar and the label show the stages
            self.log_view.appendPlainText(ev.message)
        elif ev.kind == "warning":  # e.g. files skipped while caching, with where the full list is
            self.log_view.appendPlainText(f"Warning: {ev.message}")
        elif ev.kind == "done":
            self.log_view.appendPlainText(ev.message)
            self._clock.stop()
            if self.run_progress is not None:
                self.run_progress.finish()
            self._show_progress(run_status.done_progress(ev))
            if ev.model_path is not None and Path(ev.model_path).is_file():
                self.new_model = Path(ev.model_path)
                self.model_trained.emit(self.new_model)
                self.use_button.show()
        self.event_received.emit(ev)

    def _show_run_progress(self) -> None:
        if self.run_progress is not None and self._job is not None and not self.run_progress.finished:
            self._show_progress(run_status.staged(self.run_progress))

    def _show_progress(self, shown: run_status.Progress) -> None:
        self.progress.setRange(0, max(shown.maximum, 1))
        self.progress.setValue(min(shown.value, max(shown.maximum, 1)))
        self.status_label.setText(shown.text)

    # -- evaluation --------------------------------------------------------------------------------------
    def evaluate(self) -> bool:
        """Evaluate the active model on the checked data, on a worker thread; the report path is shown."""
        if self._job is not None:
            return False
        model = self._active_model()
        problem = "No active model: choose one in the Model menu." if model is None else self.data.missing_data()
        if problem:
            self._fail("evaluate", problem)
            return False
        assert model is not None  # problem says so otherwise
        out_dir = paths.user_data_dir() / "reports" / f"{model.meta.name or model.path.stem}-{stamp()}"
        task = partial(
            evaluate_model,
            model.path,
            self.sources(),
            out_dir,
            frames_per_video=int(self.overrides.get("frames_per_video", 8)),
            cache_dir=paths.user_data_dir() / "cache",
            device=self.form.device_combo.currentText(),
        )
        self.report_label.hide()
        self.open_report_button.hide()
        self._start(task, "evaluate", out_dir, f"Evaluating {model.path.name}...")
        return True

    def _on_evaluated(self, metrics: dict[str, Any]) -> None:
        if self._job is None:
            return
        self.report_path = self._job.out_dir / "report.html"
        self._show_progress(run_status.evaluated_progress(metrics))
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

    def _start(self, task: Callable[[], Any], kind: str, out_dir: Path, text: str) -> None:
        self._job = _Job(kind, out_dir)
        self._runner.start(task)
        self.progress.setRange(0, 0)  # busy until the first event
        self.status_label.setText(text)
        self._set_busy(kind)

    def _on_returned(self, result: Any) -> None:
        if self._job is not None and self._job.kind == "evaluate":
            self._on_evaluated(result)

    def _on_errored(self, exc: BaseException) -> None:
        if self._job is not None:
            self._fail(self._job.kind, error_text(exc), failed=True)

    def _on_finished(self, outcome: str) -> None:
        self._clock.stop()
        job, self._job = self._job, None
        if job is None:  # already stopped at window close
            return
        if outcome == "done" and job.kind == "evaluate":
            outcome = "evaluated"
        if outcome == "cancelled":
            self._show_progress(run_status.cancelled_progress(job.out_dir))
        self._set_busy(None)
        self.job_finished.emit(outcome)

    def _fail(self, kind: str, message: str, failed: bool = False) -> None:
        title = "Training" if kind == "train" else "Evaluation"
        text = f"{title} {'failed' if failed else 'cannot start'}: {message}"
        self.status_label.setText(text)
        self.message.emit(text, 15000)
        QMessageBox.warning(self, title, text)

    def _set_busy(self, kind: str | None) -> None:
        self.train_button.setEnabled(kind is None)
        self.evaluate_button.setEnabled(kind is None)
        self.cancel_button.setEnabled(kind == "train")
        self.data.setEnabled(kind is None)
        self.form.set_idle(kind is None)
        if kind is None and self.progress.maximum() == 0:
            self.progress.setRange(0, 1)

    def shutdown(self) -> None:
        """Window closing: cancel and wait for the current step (a batch, a caching chunk) to end."""
        self._clock.stop()
        job, self._job = self._job, None
        if job is not None:
            self.message.emit("Stopping the training run...", 0)
            self._runner.shutdown()
