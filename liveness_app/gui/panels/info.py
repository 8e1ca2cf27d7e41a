"""Side panels and small controls: model summary, per-face list, threshold control."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.overlay import VERDICT_RGB
from ...core.pipeline import FrameResult, LoadedModel
from ...core.threshold import Threshold

VERDICT_COLOURS = {verdict: QColor(*rgb) for verdict, rgb in VERDICT_RGB.items()}


class NotePanel(QWidget):
    """A panel that only explains (what the lean runtime shows where the Training panel would be); it has
    the side-panel interface (``message``, ``shutdown``) so the window wires it like the others."""

    message = pyqtSignal(str, int)

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = wrapped_label(text)
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


def trained_on(training: dict[str, Any], limit: int = 120) -> str:
    """What the checkpoint says about its training data, whichever key the trainer used.

    Metadata comes from a file: a summary that is not shaped as liveness-train writes it is shown raw, up to
    ``limit`` characters.
    """
    data = training.get("data")
    if isinstance(data, dict) and isinstance(data.get("train"), dict):  # liveness-train's data summary
        train = data["train"]
        try:
            labels = ", ".join(f"{k} {v:,}" for k, v in train.get("per_label", {}).items())
            dev = [str(g) for g in data.get("dev_groups", [])]
            shown = ", ".join(dev[:3]) + (f" and {len(dev) - 3} more" if len(dev) > 3 else "")
            return (
                f"{train.get('samples', 0):,} samples from {train.get('groups', '?')} groups ({labels}); "
                f"dev groups: {shown or 'none'}"
            )
        except (TypeError, ValueError, AttributeError):
            return summarise(data, limit)
    for key in ("data", "data_summary", "dataset", "datasets"):
        if training.get(key):
            return summarise(training[key], limit)
    return "not recorded"


def metrics_line(metrics: dict[str, Any]) -> str:
    """'dev: AUC 0.973, EER 9.7 %, ACER 12.7 %' per evaluated split, else a generic summary."""
    parts = []
    for split, value in metrics.items():
        frame = value.get("frame") if isinstance(value, dict) else None
        if isinstance(frame, dict) and all(
            isinstance(frame.get(k), (int, float)) and not isinstance(frame.get(k), bool)
            for k in ("auc", "eer", "acer")
        ):
            parts.append(
                f"{split}: AUC {frame['auc']:.3f}, EER {100 * frame['eer']:.1f} %, ACER {100 * frame['acer']:.1f} %"
            )
    return "; ".join(parts) if parts else summarise(metrics)


class ModelInfoPanel(QWidget):
    """Name, architecture, input size, calibrated threshold, training data and metrics of the model."""

    FIELDS = ("Name", "Architecture", "Input", "Threshold", "Trained on", "Metrics", "File")
    SHOWN_CHARS = 160  # about three lines of a narrow dock; long lines wrap, even inside a path
    TOOLTIP_CHARS = 2000  # the whole of any sensible summary; metadata comes from a file, so still bounded

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
                label.setToolTip("")
            self._labels["Name"].setText("no model loaded")
            return
        meta, spec = model.meta, model.meta.preprocessing
        values = {
            "Name": meta.name or model.path.stem,
            "Architecture": meta.arch,
            "Input": f"{spec.input_size}×{spec.input_size} px, crop margin {spec.crop_margin:g}",
            "Threshold": f"{meta.threshold:.3f} (calibrated)",
            "Trained on": trained_on(meta.training, limit=self.TOOLTIP_CHARS),
            "Metrics": metrics_line(meta.metrics) if meta.metrics else "none recorded",
            "File": model.path.name,
        }
        tips = {name: values[name] for name in ("Trained on", "Metrics")}
        values["Trained on"] = summarise(values["Trained on"], self.SHOWN_CHARS)  # the rest is in its tooltip
        for name, text in values.items():
            self._labels[name].setText(text)
        for name, full in (*tips.items(), ("File", str(model.path))):
            self._labels[name].setToolTip(full)


class FacesPanel(QTableWidget):
    """One row per tracked face: track id, smoothed verdict, smoothed and current score."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self._result: FrameResult | None = None
        self._dirty = False
        self.setHorizontalHeaderLabels(["Track", "Verdict", "P(live) mean", "P(live) now"])
        tips = ["", "", "P(live) averaged over the track's recent frames: what the verdict compares with the threshold",
                "P(live) of this frame alone"]  # fmt: skip
        for column, tip in enumerate(tips):
            item = self.horizontalHeaderItem(column)
            if item is not None and tip:
                item.setToolTip(tip)
        vertical, header = self.verticalHeader(), self.horizontalHeader()
        assert vertical is not None and header is not None  # a table always has both
        vertical.hide()
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
    """Decision threshold on P(live): shows the threshold in use and where it came from, with a button back
    to the model's calibrated one.

    ``changed`` fires for user edits only (Reset included); :meth:`set_threshold` (programmatic) stays silent.
    """

    changed = pyqtSignal(float)
    TIP = "Faces scoring at least this P(live) count as live"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model_value = 0.5
        self.threshold: Threshold | None = None  # the one shown, with its source
        self.spin = QDoubleSpinBox()
        self.spin.setRange(0.0, 1.0)
        self.spin.setSingleStep(0.01)
        self.spin.setDecimals(3)
        self.spin.setToolTip(self.TIP)
        self.reset_button = QToolButton()
        self.reset_button.setText("Reset to model's")
        self.reset_button.setEnabled(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Threshold"))
        layout.addWidget(self.spin)
        layout.addWidget(self.reset_button)
        self.spin.valueChanged.connect(self.changed)
        self.reset_button.clicked.connect(self.reset)

    @property
    def value(self) -> float:
        return self.spin.value()

    @property
    def source(self) -> str:
        """Where the shown value comes from, in words ("" before a model is loaded)."""
        return self.threshold.describe() if self.threshold is not None else ""

    def set_threshold(self, threshold: Threshold, model_value: float) -> None:
        """Show ``threshold`` for a model whose calibrated threshold is ``model_value``."""
        self._model_value, self.threshold = model_value, threshold
        if self.spin.value() != round(threshold.value, self.spin.decimals()):  # the same: leave the typing alone
            self.spin.blockSignals(True)
            self.spin.setValue(threshold.value)
            self.spin.blockSignals(False)
        self.spin.setToolTip(f"{self.TIP}; this value: {threshold.describe()}")
        self.reset_button.setEnabled(not threshold.is_models)
        self.reset_button.setToolTip(f"The model's calibrated threshold is {model_value:.3f}")

    def reset(self) -> None:
        """Back to the model's calibrated threshold (a user action: emits ``changed``)."""
        self.spin.blockSignals(True)
        self.spin.setValue(self._model_value)
        self.spin.blockSignals(False)
        self.changed.emit(self._model_value)


def wrapped_label(text: str = "") -> QLabel:
    """A label whose text wraps (``QLabel(text, wordWrap=True)``, a keyword PyQt's stubs do not know)."""
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def button_row(*widgets: QWidget) -> QHBoxLayout:
    """Widgets side by side, left-aligned (the stretch takes the rest of the row)."""
    row = QHBoxLayout()
    for w in widgets:
        row.addWidget(w)
    row.addStretch(1)
    return row
