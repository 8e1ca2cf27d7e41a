"""The guided flow "Adapt to my camera": record yourself live and with the attacks you can show, then
calibrate and fine-tune the active model, and see before/after on sessions held out from both.

Each step records a take of about 30 s, counted down, as three sessions (:mod:`.adapt_takes`) through the
Recording panel's :class:`~.recorder_service.RecorderService`: the first two train (the second is the
fine-tune's dev split), the third is held out for the before/after check. A take of the bundled sample
video is held back until the user says it is a try-out. The work runs in
:func:`training.adapt.adapt_to_camera` on a worker thread, with cancel and staged progress whose time left
is measured on this machine (:mod:`training.progress`); the result is a small table and one sentence.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import paths
from .adapt_takes import TakeRecorder, take_samples
from .adapt_widgets import ResultTable, SampleWarning, progress_label, staged_bar
from .panels.info import button_row, wrapped_label
from .recorder_service import RecorderService
from .tasks import TaskRunner, error_text

# label, what to show, optional
STEPS = (
    ("live", "Yourself, live: look at the camera, turn your head a little, blink, talk.", False),
    ("replay-phone", "A photo or a video of yourself on a phone, held up to the camera.", True),
    ("print", "A printed photo of yourself, held up to the camera.", True),
    ("replay-screen", "A photo or a video of yourself on a tablet or monitor.", True),
)
TITLES = {"live": "Live", "replay-phone": "Phone", "print": "Print", "replay-screen": "Screen"}
PART_SECONDS = (16.0, 7.0, 7.0)  # train, the fine-tune's dev, held out for the before/after check
HELD_OUT = 2
TICK_MS = 1000  # the time left is refreshed this often between events
INTRO = (
    "About 30 s of each: yourself live, then each attack you can show. Then the current model is calibrated "
    "and fine-tuned to this camera and checked on the last part of each take. That takes minutes, more on a "
    "busy or slow computer: the time left is measured on this machine while it runs."
)


class AdaptDialog(QDialog):
    """Record -> adapt -> compare -> switch. ``model_ready(path)`` and ``threshold_ready(t, rule)`` ask
    the window to use the adapted model or the calibrated threshold."""

    model_ready = pyqtSignal(Path)
    threshold_ready = pyqtSignal(float, str)

    def __init__(
        self,
        recorder: RecorderService,
        base_model: Callable[[], Path | None],
        device: str = "auto",
        part_seconds: tuple[float, ...] = PART_SECONDS,
        recipe: dict[str, Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Adapt to my camera")
        self._recorder, self._base_model, self._device = recorder, base_model, device
        self._parts, self._recipe = part_seconds, recipe or {}
        self._step = 0
        self.take = TakeRecorder(recorder, part_seconds, self)
        self.take.countdown.connect(self._show_countdown)
        self.take.finished.connect(self._on_take)
        self.take.broke_off.connect(lambda _label: self._show_step())
        self.run_progress: Any = None  # training.progress.StagedProgress while adapting
        self._ticker = QTimer(self)
        self._ticker.setInterval(TICK_MS)
        self._ticker.timeout.connect(self._show_run_progress)
        self.recorded: dict[str, list[dict[str, Any]]] = {}  # label -> its sessions, in order
        self._runner = TaskRunner(self)
        self._runner.yielded.connect(self._on_event)
        self._runner.returned.connect(self.show_outcome)
        self._runner.errored.connect(lambda exc: self.progress_label.setText(f"Adapting failed: {error_text(exc)}"))
        self._runner.finished.connect(lambda _outcome: self._show_step())
        self.outcome: dict[str, Any] | None = None  # adapt_to_camera's result
        self._build()
        recorder.source_changed.connect(self._show_step)
        self._show_step()

    # -- widgets -----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.subject_edit = QLineEdit("me")
        self.steps = QListWidget()
        self.steps.setMaximumHeight(96)
        for label, text, optional in STEPS:
            self.steps.addItem(f"{TITLES[label]} — {text}" + (" (if you can)" if optional else ""))
        self.instruction = wrapped_label()
        self.record_button, self.skip_button = QPushButton(f"Record {sum(self._parts):.0f} s"), QPushButton("Skip")
        self.adapt_button, self.cancel_button = QPushButton("Adapt"), QPushButton("Cancel")
        self.use_model_button = QPushButton("Use the adapted model")
        self.use_threshold_button = QPushButton("Use the calibrated threshold only")
        self.keep_button = QPushButton("Keep my model")
        self.sample_warning, self.table = SampleWarning(), ResultTable()
        self.sample_warning.go_on.toggled.connect(self._show_step)
        self.progress, self.progress_label, self.result_label = staged_bar(), progress_label(), wrapped_label()
        for button, slot in (
            (self.record_button, self.record_step),
            (self.skip_button, self.skip_step),
            (self.adapt_button, self.adapt),
            (self.cancel_button, self.cancel),
            (self.use_model_button, self._use_model),
            (self.use_threshold_button, self._use_threshold),
            (self.keep_button, self.reject),
        ):
            button.clicked.connect(slot)
        form = QFormLayout()
        form.addRow("Your name (subject):", self.subject_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(wrapped_label(INTRO))
        layout.addLayout(form)
        layout.addWidget(self.steps)
        layout.addWidget(self.sample_warning)
        layout.addWidget(self.instruction)
        layout.addLayout(button_row(self.record_button, self.skip_button, self.adapt_button, self.cancel_button))
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.table)
        layout.addWidget(self.result_label)
        layout.addLayout(button_row(self.use_model_button, self.use_threshold_button, self.keep_button))
        self.resize(600, 520)

    @property
    def is_busy(self) -> bool:
        """Adapting (calibration and fine-tuning) is running."""
        return self._runner.busy

    def _show_step(self) -> None:
        busy = self._runner.busy or self._recorder.is_recording
        done = self._step >= len(STEPS)
        if self.take.active:
            self._show_countdown(self.take.seconds_left())
        elif not done:
            label, text, optional = STEPS[self._step]
            self.steps.setCurrentRow(self._step)
            self.instruction.setText(f"Step {self._step + 1} of {len(STEPS)} — {text}")
        else:
            self.instruction.setText(
                "All steps done: press Adapt."
                if self._can_adapt()
                else "Record yourself live and at least one attack to adapt."
            )
        held_back = self.sample_warning.blocks(self._recorder.source) and not self._recorder.is_recording
        self.record_button.setEnabled(not done and not busy and not held_back)
        self.skip_button.setEnabled(not done and not busy and STEPS[self._step][2])
        self.adapt_button.setEnabled(not busy and self._can_adapt())
        self.cancel_button.setEnabled(busy)
        self.subject_edit.setEnabled(not busy and not self.recorded)
        for button in (self.use_model_button, self.use_threshold_button, self.keep_button):
            button.setVisible(self.outcome is not None)

    def _can_adapt(self) -> bool:
        complete = [label for label, s in self.recorded.items() if len(s) == len(self._parts)]
        return "live" in complete and any(label != "live" for label in complete)

    # -- recording ---------------------------------------------------------------------------------------
    def record_step(self) -> None:
        """Record the current step's take as consecutive sessions (see ``PART_SECONDS``), counting down."""
        label = STEPS[self._step][0]
        self.recorded.pop(label, None)
        self.take.start(label, self.subject_edit.text().strip() or "me")
        self._show_step()

    def _on_take(self, label: str, sessions: list[dict[str, Any]]) -> None:
        self.recorded[label] = sessions
        self._step += 1
        self._show_step()

    def _show_countdown(self, left: int) -> None:
        """The take's seconds left, and the bar along the take."""
        if not self.take.active or self._step >= len(STEPS):
            return
        label, text, _ = STEPS[self._step]
        self.instruction.setText(f"<b>Recording {TITLES[label]}: {left} s left.</b> {text}")
        self.progress.setValue(round(1000 * min(1.0, self.take.elapsed() / max(self.take.seconds, 1e-6))))
        self.progress_label.setText("")

    def skip_step(self) -> None:
        self._step += 1
        self._show_step()

    # -- adapting ----------------------------------------------------------------------------------------
    def samples(self) -> tuple[list, list]:
        """(train, held out): the recorded sessions as training samples, the last part of each held out."""
        store = self._recorder.store
        assert store is not None  # the sessions were recorded into it
        return take_samples(store, self.recorded, len(self._parts), HELD_OUT)

    def adapt(self) -> None:
        """Calibrate and fine-tune on a worker thread, in stages with the time left (:mod:`training.progress`)."""
        from training.adapt import adapt_to_camera
        from training.config import FINETUNE
        from training.progress import StagedProgress, adapt_stages

        base = self._base_model()
        if base is None:
            QMessageBox.warning(self, "Adapt", "Load a model first (Model menu).")
            return
        train, held = self.samples()
        name = f"adapted-{datetime.now():%Y%m%d-%H%M%S}"
        out, recipe = paths.user_data_dir() / "runs" / name, self._recipe
        self.outcome = None
        self.table.hide()
        self.result_label.setText("")
        self.run_progress = StagedProgress(adapt_stages({**FINETUNE, **recipe}))
        self._runner.start(
            lambda: adapt_to_camera(
                base,
                train,
                held,
                out,
                name,
                device=self._device,
                cache_dir=paths.user_data_dir() / "cache",
                recipe=recipe,
            )
        )
        self._ticker.start()
        self._show_run_progress()
        self._show_step()

    def _show_run_progress(self) -> None:
        if self.run_progress is not None and not self.run_progress.finished and self._runner.busy:
            self.progress.setValue(round(1000 * self.run_progress.fraction))
            self.progress_label.setText(self.run_progress.text())

    def _on_event(self, ev: Any) -> None:
        from training.progress import apply

        if self.run_progress is not None:
            apply(self.run_progress, ev)
            self._show_run_progress()
        if ev.kind == "warning":  # e.g. sessions in which no face was found
            self.result_label.setText(f"Note: {ev.message}")

    def show_outcome(self, result: dict[str, Any]) -> None:
        """The result of :func:`training.adapt.adapt_to_camera`: the table, one sentence, the recommended button."""
        from training.progress import duration_text

        self.outcome = result
        if self.run_progress is not None:
            took = duration_text(self.run_progress.elapsed())
            self.run_progress.finish()
            self.progress_label.setText(f"Done in {took}. On your held-out sessions (the last part of each take):")
        self.progress.setValue(self.progress.maximum())
        self.table.show_result(result)
        self.result_label.setText(result["headline"])
        self.result_label.setToolTip(result["sentence"])  # the figures in words, at length
        recommended = {
            "adapted": self.use_model_button,
            "calibrated": self.use_threshold_button,
            "kept": self.keep_button,
        }[result["chosen"]]
        recommended.setDefault(True)
        recommended.setText(recommended.text().removesuffix(" (recommended)") + " (recommended)")
        self._show_step()

    def cancel(self) -> None:
        if self._runner.busy:
            self._runner.cancel()
            self.progress_label.setText("Cancelling after the current step...")
        elif self.take.active:
            self.take.cancel()
            self._show_step()

    def _use_model(self) -> None:
        if self.outcome is not None:
            self.model_ready.emit(Path(self.outcome["model_path"]))
            self.accept()

    def _use_threshold(self) -> None:
        if self.outcome is not None:
            self.threshold_ready.emit(float(self.outcome["calibrated_threshold"]), "EER on your sessions")
            self.accept()

    def done(self, code: int) -> None:  # noqa: D401 (Qt's name) - closing stops a recording or a job
        self.cancel()
        self._ticker.stop()
        self._runner.shutdown()
        self.take.shutdown()
        try:
            self._recorder.source_changed.disconnect(self._show_step)
        except TypeError:
            pass
        super().done(code)
