"""The main window fits the screen it opens on: a first window is 1280x800, or all of the screen's free area
on a smaller screen, and a remembered layout from a larger screen is brought back inside it, title bar and
borders included.

The window manager says how thick its frame is only once the window is shown, so the first placement
assumes a frame, and :class:`ScreenFit` places the window again with the real one just after it appears.
The side panels scroll (:mod:`.docks`), so no panel content can make the window taller than this.
"""

from __future__ import annotations

from typing import Callable

from PyQt6.QtCore import QEvent, QMargins, QObject, QPoint, QRect, QSize, Qt, QTimer
from PyQt6.QtWidgets import QMainWindow

PREFERRED_SIZE = QSize(1280, 800)
ASSUMED_FRAME = QMargins(4, 32, 4, 4)  # a title bar and thin borders, until the window manager tells
SETTLE_MS = 300  # after the first show: the window manager has framed the window by then

AvailableArea = Callable[[], QRect]


def fitted(rect: QRect, available: QRect, frame: QMargins | None = None) -> QRect:
    """``rect`` (the window without its frame) shrunk and moved as little as needed so that, with ``frame``
    around it, it lies inside ``available``."""
    inner = available.marginsRemoved(frame or QMargins())
    width, height = min(rect.width(), inner.width()), min(rect.height(), inner.height())
    x = min(max(rect.x(), inner.x()), inner.x() + inner.width() - width)
    y = min(max(rect.y(), inner.y()), inner.y() + inner.height() - height)
    return QRect(x, y, width, height)


def first_rect(available: QRect, frame: QMargins | None = None) -> QRect:
    """A first window: :data:`PREFERRED_SIZE` centred on ``available``; on a screen smaller than that in
    either direction (a 1366x768 laptop), all of ``available``."""
    inner = available.marginsRemoved(frame or QMargins())
    if inner.width() < PREFERRED_SIZE.width() or inner.height() < PREFERRED_SIZE.height():
        return inner
    rect = QRect(QPoint(0, 0), PREFERRED_SIZE)
    rect.moveCenter(inner.center())
    return rect


def frame_of(window: QMainWindow) -> QMargins:
    """The frame the window manager drew around ``window`` (none before it is shown, or offscreen)."""
    outer, inner = window.frameGeometry(), window.geometry()
    return QMargins(
        inner.left() - outer.left(),
        inner.top() - outer.top(),
        outer.right() - inner.right(),
        outer.bottom() - inner.bottom(),
    )


class ScreenFit(QObject):
    """Keeps ``window`` inside the free area of its screen (``available``: tests give a 1366x768 one)."""

    def __init__(self, window: QMainWindow, available: AvailableArea | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.available: AvailableArea = available or self._screen_area
        self._first = True  # the window has not been placed by a remembered layout
        self._shown = False
        self.settled = False  # placed again with the real frame, after the first show
        window.installEventFilter(self)

    def _screen_area(self) -> QRect:
        screen = self.window.screen()
        return screen.availableGeometry() if screen is not None else QRect(QPoint(0, 0), PREFERRED_SIZE)

    def place(self, restored: bool) -> None:
        """Before the first show: a first window (``restored`` False) or a remembered one brought inside."""
        self._first = not restored
        if restored:
            self.fit()
        else:
            self.window.setGeometry(first_rect(self.available(), ASSUMED_FRAME))

    def fit(self) -> None:
        """Bring the window inside the free area with the frame it has (or is assumed to get); a first window
        takes the preferred size again with the real frame."""
        window = self.window
        if window.windowState() & (Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen):
            return  # the window manager sizes these
        frame = frame_of(window) if self._shown else ASSUMED_FRAME
        if self._first:
            rect = first_rect(self.available(), frame)
        else:
            rect = fitted(window.geometry(), self.available(), frame)
        if rect != window.geometry():
            window.setGeometry(rect)
        self.settled = self._shown

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.window and event is not None and event.type() == QEvent.Type.Show and not self._shown:
            self._shown = True
            QTimer.singleShot(SETTLE_MS, self.fit)
        return False
