"""The parts of "Adapt to my camera" (:mod:`.adapt_dialog`) that only show things: the warning when the video
is the bundled sample, the countdown of a take, and the before/after table of the result.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .. import paths
from ..core.camera import FrameSource
from .panels.info import wrapped_label

# result key, row title, and the "chosen" of the result that recommends that row
ROWS = (
    ("before", "Your model as it is", "kept"),
    ("calibrated", "Calibrated threshold", "calibrated"),
    ("adapted", "Adapted model", "adapted"),
)
COLUMNS = (
    ("bpcer", "BPCER", "live frames rejected"),
    ("apcer", "APCER", "attack frames accepted (the worst attack type)"),
    ("acer", "ACER", "the mean of the two"),
)


def is_bundled_sample(source: FrameSource | None) -> bool:
    """Whether ``source`` plays the sample video shipped with the app (not a camera, not the user's file)."""
    path = getattr(source, "path", None)
    if path is None:
        return False
    try:
        return Path(path).resolve() == paths.sample_video_path().resolve()
    except OSError:
        return False


def seconds_left(total: float, elapsed: float) -> int:
    """Whole seconds left of a take of ``total`` seconds, as a countdown shows them (30 at the start, never < 0)."""
    return max(0, math.ceil(total - elapsed - 1e-9))


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


class SampleWarning(QWidget):
    """Says that the video is the bundled sample and what recording it would do; the box lets the user go on."""

    TEXT = (
        "<b>The video is the bundled sample video, not your camera.</b> Recording it would label the faces "
        "in the sample as <i>you, live</i> and adapt the model to them. Open your camera (File &gt; Open "
        "camera) to adapt to it, or go on for a try-out only."
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = wrapped_label(self.TEXT)
        self.label.setStyleSheet("background: #fff3cd; color: #664d03; border: 1px solid #ffda6a; padding: 6px;")
        self.go_on = QCheckBox("Record the sample video anyway (a try-out)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.go_on)
        self.hide()

    def blocks(self, source: FrameSource | None) -> bool:
        """Show the warning when ``source`` is the sample; True while it holds recording back."""
        sample = is_bundled_sample(source)
        self.setVisible(sample)
        return sample and not self.go_on.isChecked()


class ResultTable(QTableWidget):
    """Before / calibrated / adapted x BPCER, APCER, ACER on the held-out sessions; the recommended row in bold."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(len(ROWS), len(COLUMNS), parent)
        self.setHorizontalHeaderLabels([title for _, title, _ in COLUMNS])
        for col, (_, title, meaning) in enumerate(COLUMNS):
            header_item = self.horizontalHeaderItem(col)
            if header_item is not None:
                header_item.setToolTip(f"{title}: {meaning}")
        self.setVerticalHeaderLabels([title for _, title, _ in ROWS])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.horizontalHeader()
        assert header is not None  # a table always has one
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(
            "On your held-out sessions (the last part of each take). BPCER: live frames rejected; APCER: "
            "attack frames accepted (the worst attack type); ACER: their mean. Lower is better."
        )
        self.setWordWrap(False)
        self.hide()

    def show_result(self, result: dict[str, Any]) -> None:
        """Fill the table from :func:`training.adapt.adapt_to_camera`'s result and show it."""
        for row, (key, _title, choice) in enumerate(ROWS):
            font = QFont()
            font.setBold(choice == result.get("chosen"))
            for col, (metric, _, _) in enumerate(COLUMNS):
                item = QTableWidgetItem(percent(result[key].get(metric)))
                item.setFont(font)
                self.setItem(row, col, item)
            header_item = self.verticalHeaderItem(row)
            if header_item is not None:
                header_item.setFont(font)
        self.resizeRowsToContents()
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()))
        header = self.horizontalHeader()
        self.setFixedHeight(rows + (header.height() if header is not None else 0) + 2 * self.frameWidth())
        self.show()

    def cell(self, row_key: str, metric: str) -> str:
        """The text shown for ``row_key`` ("before", ...) and ``metric`` ("acer", ...), for tests and readers."""
        row = next(i for i, (key, _, _) in enumerate(ROWS) if key == row_key)
        col = next(i for i, (key, _, _) in enumerate(COLUMNS) if key == metric)
        item = self.item(row, col)
        return item.text() if item is not None else ""


def progress_label() -> QLabel:
    """The label under the bar: the stage with its counts, and the time so far and left."""
    label = wrapped_label()
    label.setMinimumHeight(label.fontMetrics().lineSpacing() * 2)
    return label


def staged_bar() -> QProgressBar:
    """A bar in per mille (a take's time, or a run's staged fraction), shown as a percentage."""
    bar = QProgressBar()
    bar.setRange(0, 1000)
    bar.setValue(0)
    return bar
