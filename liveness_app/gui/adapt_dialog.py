"""The guided flow "Adapt to my camera": record yourself live and with the attacks you can show, then
calibrate and fine-tune the active model, and see before/after on sessions held out from both.

Each step records about 30 s as three sessions through the :class:`~.recorder_service.RecorderService` the
Recording panel owns (so they are listed, relabelled and deleted like any other, and the panel shows why a
take could not start): the first two train (the second is the fine-tune's dev split, which
chooses how long to train and the threshold; the final model then trains on both), the third is held out
for the before/after check. The work runs in :func:`training.adapt.adapt_to_camera` on a worker
thread, with progress and cancel. The Record and Train panels stay for experts.
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
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .. import paths
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


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


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
        self._part = 0
        self._token = 0
        self.recorded: dict[str, list[dict[str, Any]]] = {}  # label -> its sessions, in order
        self._runner = TaskRunner(self)
        self._runner.yielded.connect(self._on_event)
        self._runner.returned.connect(self._on_done)
        self._runner.errored.connect(lambda exc: self.result_label.setText(f"Adapting failed: {error_text(exc)}"))
        self._runner.finished.connect(lambda _outcome: self._show_step())
        self.outcome: dict[str, Any] | None = None  # adapt_to_camera's result
        self._build()
        recorder.finished.connect(self._on_stopped)
        self._show_step()

    # -- widgets -----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.subject_edit = QLineEdit("me")
        self.steps = QListWidget()
        self.steps.setMaximumHeight(96)
        for label, text, optional in STEPS:
            self.steps.addItem(f"{TITLES[label]} — {text}" + (" (if you can)" if optional else ""))
        self.instruction = wrapped_label()
        self.record_button, self.skip_button = QPushButton("Record 30 s"), QPushButton("Skip")
        self.adapt_button, self.cancel_button = QPushButton("Adapt"), QPushButton("Cancel")
        self.use_model_button = QPushButton("Use the adapted model")
        self.use_threshold_button = QPushButton("Use the calibrated threshold only")
        self.keep_button = QPushButton("Keep my model")
        self.progress, self.result_label = QProgressBar(), wrapped_label()
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
        layout.addWidget(
            wrapped_label(
                "About 30 s of each: yourself live, then each attack you can show. Then "
                "the current model is calibrated and fine-tuned to this camera (about a "
                "minute on a CPU) and checked on the last part of each take."
            )
        )
        layout.addLayout(form)
        layout.addWidget(self.steps)
        layout.addWidget(self.instruction)
        layout.addLayout(button_row(self.record_button, self.skip_button, self.adapt_button, self.cancel_button))
        layout.addWidget(self.progress)
        layout.addWidget(self.result_label)
        layout.addLayout(button_row(self.use_model_button, self.use_threshold_button, self.keep_button))
        self.resize(560, 460)

    @property
    def is_busy(self) -> bool:
        """Adapting (calibration and fine-tuning) is running."""
        return self._runner.busy

    def _show_step(self) -> None:
        busy = self._runner.busy or self._recorder.is_recording
        done = self._step >= len(STEPS)
        if not done:
            label, text, optional = STEPS[self._step]
            self.steps.setCurrentRow(self._step)
            self.instruction.setText(f"Step {self._step + 1} of {len(STEPS)} — {text}")
        else:
            self.instruction.setText(
                "All steps done: press Adapt."
                if self._can_adapt()
                else "Record yourself live and at least one attack to adapt."
            )
        self.record_button.setEnabled(not done and not busy)
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
        """Record the current step's take as consecutive sessions (see ``PART_SECONDS``)."""
        self._part = 0
        self.recorded[STEPS[self._step][0]] = []
        self._start_part()

    def _start_part(self) -> None:
        notes = f"adapt to my camera, part {self._part + 1} of {len(self._parts)}"
        if not self._recorder.start(STEPS[self._step][0], self.subject_edit.text().strip() or "me", notes):
            # the service said why (no source, unreadable session list, ...); the Recording panel shows it
            self.recorded.pop(STEPS[self._step][0], None)
            self._show_step()
            return
        self.instruction.setText(f"Recording {STEPS[self._step][0]}, part {self._part + 1} of {len(self._parts)}...")
        self._token += 1
        token = self._token  # a stop timer of a cancelled take must not end a later one
        QTimer.singleShot(int(self._parts[self._part] * 1000), lambda: token == self._token and self._recorder.stop())
        self._show_step()

    def _on_stopped(self, session: dict[str, Any]) -> None:
        label = STEPS[self._step][0] if self._step < len(STEPS) else None
        if label is None or label not in self.recorded or session.get("frames", 0) == 0:
            return
        self.recorded[label].append(session)
        self._part += 1
        if self._part < len(self._parts):
            self._start_part()
            return
        self._step += 1
        self._show_step()

    def skip_step(self) -> None:
        self._step += 1
        self._show_step()

    # -- adapting ----------------------------------------------------------------------------------------
    def samples(self) -> tuple[list, list]:
        """(train, held out): the recorded sessions as training samples, the last part of each held out."""
        from training.data.samples import Sample

        store = self._recorder.store
        assert store is not None  # the sessions were recorded into it
        train: list[Sample] = []
        held: list[Sample] = []
        for label, sessions in self.recorded.items():
            if len(sessions) != len(self._parts):
                continue
            for i, s in enumerate(sessions):
                sample = Sample(store.file_of(s), label, s["subject"] or "me", "video")
                (held if i == HELD_OUT else train).append(sample)
        return train, held

    def adapt(self) -> None:
        """Calibrate and fine-tune on a worker thread."""
        from training.adapt import adapt_to_camera

        base = self._base_model()
        if base is None:
            QMessageBox.warning(self, "Adapt", "Load a model first (Model menu).")
            return
        train, held = self.samples()
        name = f"adapted-{datetime.now():%Y%m%d-%H%M%S}"
        out = paths.user_data_dir() / "runs" / name
        self.outcome = None
        self.result_label.setText("Calibrating and fine-tuning...")
        self._runner.start(
            lambda: adapt_to_camera(
                base,
                train,
                held,
                out,
                name,
                device=self._device,
                cache_dir=paths.user_data_dir() / "cache",
                recipe=self._recipe,
            )
        )
        self._show_step()

    def _on_event(self, ev: Any) -> None:
        if ev.kind == "batch":
            self.progress.setRange(0, max(ev.epochs * ev.steps, 1))
            self.progress.setValue((ev.epoch - 1) * ev.steps + ev.step)
        elif ev.message:
            self.result_label.setText(ev.message)

    def _on_done(self, result: dict[str, Any]) -> None:
        self.outcome = result
        rows = [
            ("the model you had", result["before"]),
            ("calibrated only", result["calibrated"]),
            ("adapted", result["adapted"]),
        ]
        table = "<br>".join(
            f"<b>{name}</b>: BPCER {_pct(r['bpcer'])}, APCER {_pct(r['apcer'])}, ACER {_pct(r['acer'])}"
            for name, r in rows
        )
        self.result_label.setText(
            f"On your held-out sessions:<br>{table}<br>{result['sentence']} ({result['seconds']:.0f} s)"
        )
        self.progress.setValue(self.progress.maximum())
        recommended = {
            "adapted": self.use_model_button,
            "calibrated": self.use_threshold_button,
            "kept": self.keep_button,
        }[result["chosen"]]
        recommended.setDefault(True)
        recommended.setText(recommended.text().removesuffix(" (recommended)") + " (recommended)")

    def cancel(self) -> None:
        if self._runner.busy:
            self._runner.cancel()
            self.result_label.setText("Cancelling after the current step...")
        elif self._recorder.is_recording:
            self.recorded.pop(STEPS[self._step][0], None)
            self._token += 1
            self._recorder.stop("cancelled")

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
        self._runner.shutdown()
        try:
            self._recorder.finished.disconnect(self._on_stopped)
        except TypeError:
            pass
        super().done(code)
