"""Stream statistics (measured, smoothed) and the status bar that shows them.

Rates are measured from arrivals (frames at the view, results from scoring), not taken from the source's
nominal fps: a slow model shows up as a low verdict rate next to a steady video rate.
"""

from __future__ import annotations

import time
from collections import deque

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QPainter, QPaintEvent, QResizeEvent, QShowEvent
from PyQt6.QtWidgets import QLabel, QStatusBar, QWidget

from ..core.pipeline import FrameResult

STAGES = ("detect", "crop", "model", "gradcam")


class RateMeter:
    """Events per second over a sliding window."""

    def __init__(self, window_s: float = 2.0) -> None:
        self._window = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        self._times.append(time.perf_counter() if now is None else now)

    def rate(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        while self._times and now - self._times[0] > self._window:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        self._times.clear()


class Ema:
    """Exponential moving average; the first value is taken as is."""

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha
        self.value: float | None = None

    def update(self, x: float) -> float:
        self.value = x if self.value is None else self.value + self.alpha * (x - self.value)
        return self.value


class StreamStats:
    """Frame rate, verdict rate, per-stage and end-to-end latency of the running stream."""

    def __init__(self) -> None:
        self.frames = RateMeter()
        self.results = RateMeter()
        self.stages = {name: Ema() for name in STAGES}
        self.latency = Ema()

    def on_frame(self, frame: object = None) -> None:
        """Count a frame arrival (the frame itself is not needed)."""
        self.frames.tick()

    def on_result(self, result: FrameResult) -> None:
        self.results.tick()
        for name, ema in self.stages.items():
            ema.update(float(result.timings.get(name, 0.0)))
        self.latency.update(result.latency_ms)

    def reset(self) -> None:
        """A new source or model: old measurements no longer apply."""
        self.frames.reset()
        self.results.reset()
        for ema in (*self.stages.values(), self.latency):
            ema.value = None

    def summary(self, dropped: int) -> str:
        """One line for the status bar."""
        parts = [f"{self.frames.rate():.1f} fps", f"{self.results.rate():.1f} verdicts/s"]
        if self.latency.value is not None:
            # every stage has a value once the latency has; gradcam's is shown only while it is computed
            stages = " · ".join(
                f"{name} {ema.value:.1f}"
                for name, ema in self.stages.items()
                if ema.value is not None and (name != "gradcam" or ema.value >= 0.05)
            )
            parts += [f"{stages} ms", f"latency {self.latency.value:.0f} ms"]
        parts.append(f"dropped {dropped}")
        return "   ".join(parts)


class ElidedLabel(QLabel):
    """One line that ends in "…" when there is not room for all of it (the whole text is in the tooltip), so
    that a long line never makes the window wider."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(0, super().minimumSizeHint().height())

    def setText(self, text: str | None) -> None:  # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 (Qt's name)
        room = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, room.width())
        QPainter(self).drawText(room, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)


class StatusBar(QStatusBar):
    """Left: what the source is doing (persistent). Right: live statistics and the device.

    Transient notes (snapshot saved, ...) use ``showMessage`` and cover the left part for a while; the
    statistics give up their room to them (shortened with "…") so that the note is read whole.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pending: tuple[str | None, int] | None = None
        self.source_label = ElidedLabel()
        self.stats_label = ElidedLabel()
        self.device_label = QLabel()
        self.addWidget(self.source_label, 1)
        self.addPermanentWidget(self.stats_label)
        self.addPermanentWidget(self.device_label)
        self.messageChanged.connect(self._make_room)

    def _make_room(self, message: str | None = None) -> None:
        """While a note is shown, the statistics keep only the width the note leaves."""
        text = self.currentMessage() if message is None else message
        if not text:
            self.stats_label.setMaximumWidth(16777215)  # QWIDGETSIZE_MAX
            return
        note = self.fontMetrics().horizontalAdvance(text) + 3 * self.fontMetrics().averageCharWidth()
        self.stats_label.setMaximumWidth(max(0, self.width() - note - self.device_label.sizeHint().width()))

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self.currentMessage():
            self._make_room()

    def showMessage(self, text: str | None, msecs: int = 0) -> None:  # noqa: N802 (Qt's name)
        """As QStatusBar's, but a message given before the window is shown waits for the show: Qt
        hides the left-hand widgets only if they are visible already, else both would overlap."""
        if self.isVisible():
            super().showMessage(text, msecs)
        else:
            self._pending = (text, msecs)

    def showEvent(self, event: QShowEvent | None) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._pending is not None:
            text, msecs = self._pending
            self._pending = None
            super().showMessage(text, msecs)

    def set_source_text(self, text: str) -> None:
        self.source_label.setText(text)

    def set_device(self, text: str, reason: str) -> None:
        self.device_label.setText(text)
        self.device_label.setToolTip(reason)

    def set_stats(self, text: str) -> None:
        self.stats_label.setText(text)

    def show_stats(self, stats: StreamStats, dropped: int, streaming: bool, scoring: bool) -> None:
        """The statistics line: nothing without a stream, the frame rate alone without a model."""
        if not streaming:
            self.set_stats("")
        elif not scoring:
            self.set_stats(f"{stats.frames.rate():.1f} fps   no model: choose one in the Model menu")
        else:
            self.set_stats(stats.summary(dropped))
