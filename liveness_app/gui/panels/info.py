"""Side panels and small controls: model summary, per-face list, threshold control."""
from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (QAbstractItemView, QDoubleSpinBox, QFormLayout, QHBoxLayout, QHeaderView,
                             QLabel, QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout, QWidget)

from ...core.overlay import VERDICT_RGB
from ...core.pipeline import FrameResult, LoadedModel

VERDICT_COLOURS = {verdict: QColor(*rgb) for verdict, rgb in VERDICT_RGB.items()}


class NotePanel(QWidget):
    """A panel that only explains (what the lean runtime shows where the Training panel would be); it has
    the side-panel interface (``message``, ``shutdown``) so the window wires it like the others."""

    message = pyqtSignal(str, int)

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(text, wordWrap=True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)

    def shutdown(self) -> None:
        """Nothing runs here."""


def summarise(value: Any, limit: int = 120) -> str:
    """Checkpoint metadata (str, number, dict, list) as one short line."""
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, dict):
        text = ", ".join(f"{k}: {summarise(v, limit)}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        text = ", ".join(summarise(v, limit) for v in value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def trained_on(training: dict[str, Any]) -> str:
    """What the checkpoint says about its training data, whichever key the trainer used.

    Metadata comes from a file: a summary that is not shaped as liveness-train writes it is shown raw.
    """
    data = training.get("data")
    if isinstance(data, dict) and isinstance(data.get("train"), dict):  # liveness-train's data summary
        train = data["train"]
        try:
            labels = ", ".join(f"{k} {v:,}" for k, v in train.get("per_label", {}).items())
            dev = [str(g) for g in data.get("dev_groups", [])]
            shown = ", ".join(dev[:3]) + (f" and {len(dev) - 3} more" if len(dev) > 3 else "")
            return (f"{train.get('samples', 0):,} samples from {train.get('groups', '?')} groups ({labels}); "
                    f"dev groups: {shown or 'none'}")
        except (TypeError, ValueError, AttributeError):
            return summarise(data)
    for key in ("data", "data_summary", "dataset", "datasets"):
        if training.get(key):
            return summarise(training[key])
    return "not recorded"


def metrics_line(metrics: dict[str, Any]) -> str:
    """'dev: AUC 0.973, EER 9.7 %, ACER 12.7 %' per evaluated split, else a generic summary."""
    parts = []
    for split, value in metrics.items():
        frame = value.get("frame") if isinstance(value, dict) else None
        numbers = isinstance(frame, dict) and all(isinstance(frame.get(k), (int, float)) and
                                                  not isinstance(frame.get(k), bool) for k in ("auc", "eer", "acer"))
        if numbers:
            parts.append(f"{split}: AUC {frame['auc']:.3f}, EER {100 * frame['eer']:.1f} %, "
                         f"ACER {100 * frame['acer']:.1f} %")
    return "; ".join(parts) if parts else summarise(metrics)


class ModelInfoPanel(QWidget):
    """Name, architecture, input size, calibrated threshold, training data and metrics of the model."""

    FIELDS = ("Name", "Architecture", "Input", "Threshold", "Trained on", "Metrics", "File")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(280)
        form = QFormLayout(self)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self._labels: dict[str, QLabel] = {}
        for name in self.FIELDS:
            label = QLabel("—")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{name}:", label)
            self._labels[name] = label

    def field(self, name: str) -> str:
        return self._labels[name].text()

    def set_model(self, model: LoadedModel | None) -> None:
        if model is None:
            for label in self._labels.values():
                label.setText("—")
            self._labels["Name"].setText("no model loaded")
            return
        meta, spec = model.meta, model.meta.preprocessing
        values = {
            "Name": meta.name or model.path.stem,
            "Architecture": meta.arch,
            "Input": f"{spec.input_size}×{spec.input_size} px, crop margin {spec.crop_margin:g}",
            "Threshold": f"{meta.threshold:.3f} (calibrated)",
            "Trained on": trained_on(meta.training),
            "Metrics": metrics_line(meta.metrics) if meta.metrics else "none recorded",
            "File": model.path.name,
        }
        for name, text in values.items():
            self._labels[name].setText(text)
        self._labels["File"].setToolTip(str(model.path))


class FacesPanel(QTableWidget):
    """One row per tracked face: track id, smoothed verdict, smoothed and current score."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self._result: FrameResult | None = None
        self._dirty = False
        self.setHorizontalHeaderLabels(["Track", "Verdict", "Smoothed", "Now"])
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # "UNCERTAIN" needs the room
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setMinimumWidth(280)  # four columns, "UNCERTAIN" included, without a scroll bar

    def set_result(self, result: FrameResult | None) -> None:
        """Keep the newest result; :meth:`refresh` shows it (results come faster than anyone reads)."""
        self._result, self._dirty = result, True

    def refresh(self) -> None:
        if self._dirty:
            self._dirty = False
            self.show_result(self._result)

    def show_result(self, result: FrameResult | None) -> None:
        faces = result.faces if result is not None else []
        self.setRowCount(len(faces))
        for row, face in enumerate(faces):
            cells = [str(face.track_id), face.verdict.value, f"{face.smoothed:.2f}", f"{face.score:.2f}"]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if col == 1:
                    item.setForeground(VERDICT_COLOURS[face.verdict])
                self.setItem(row, col, item)


class ThresholdControl(QWidget):
    """Decision threshold on P(live): defaults to the model's calibrated one, with a reset button.

    ``changed`` fires for user edits only; :meth:`set_threshold` (programmatic) stays silent.
    """

    changed = pyqtSignal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model_value = 0.5
        self.source = ""  # where the shown value comes from
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0, 1.0)
        self.spin.setSingleStep(0.01)
        self.spin.setDecimals(3)
        self.spin.setToolTip("Faces scoring at least this P(live) count as live")
        self.reset_button = QToolButton()
        self.reset_button.setText("Reset to model's")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Threshold"))
        layout.addWidget(self.spin)
        layout.addWidget(self.reset_button)
        self.spin.valueChanged.connect(self._on_spin)
        self.reset_button.clicked.connect(self.reset)

    @property
    def value(self) -> float:
        return self.spin.value()

    def set_threshold(self, value: float, model_value: float, source: str = "") -> None:
        """Show ``value`` (from ``source``, e.g. "calibrated to camera 0") for a model whose calibrated
        threshold is ``model_value``."""
        self._model_value = model_value
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        self.source = source
        self.spin.setToolTip("Faces scoring at least this P(live) count as live" +
                             (f"; this value: {source}" if source else ""))
        self._update_hint()

    def reset(self) -> None:
        """Back to the model's calibrated threshold (a user action: emits ``changed``)."""
        self.spin.setValue(self._model_value)

    def _on_spin(self, value: float) -> None:
        self._update_hint()
        self.changed.emit(value)

    def _update_hint(self) -> None:
        self.reset_button.setEnabled(abs(self.spin.value() - self._model_value) > 5e-4)
        self.reset_button.setToolTip(f"The model's calibrated threshold is {self._model_value:.3f}")


def button_row(*widgets: QWidget) -> QHBoxLayout:
    """Widgets side by side, left-aligned (the stretch takes the rest of the row)."""
    row = QHBoxLayout()
    for w in widgets:
        row.addWidget(w)
    row.addStretch(1)
    return row
