"""Docking a panel in a main window: a named dock (its position is saved with the window's layout), listed
in a menu so that a closed panel can be shown again. A panel scrolls inside its dock rather than growing it:
what a panel shows (a training result, a long session list) never makes the window taller than the screen."""

from __future__ import annotations

from PyQt6.QtCore import QSize, Qt, QTimer
from PyQt6.QtWidgets import QAbstractScrollArea, QDockWidget, QFrame, QMainWindow, QMenu, QScrollArea, QWidget


def add_dock(
    window: QMainWindow,
    menu: QMenu,
    widget: QWidget,
    title: str,
    object_name: str,
    area: Qt.DockWidgetArea,
    tabify: bool,
) -> QDockWidget:
    """Dock ``widget`` in ``area`` and list its toggle in ``menu``; ``tabify`` stacks it as a tab on the
    area's last dock."""
    dock = QDockWidget(title, window)
    dock.setObjectName(object_name)  # saveState/restoreState key
    dock.setWidget(scrolling(widget))
    same_area = [d for d in window.findChildren(QDockWidget) if d is not dock and window.dockWidgetArea(d) == area]
    window.addDockWidget(area, dock)
    if tabify and same_area:
        window.tabifyDockWidget(same_area[-1], dock)
    menu.addAction(dock.toggleViewAction())
    return dock


class VerticalScroll(QScrollArea):
    """Scrolls its widget up and down only: it is as wide as the widget needs (no scrolling sideways through
    a form), as short as a few lines."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidgetResizable(True)
        self.setWidget(widget)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        hint, widget, bar = super().minimumSizeHint(), self.widget(), self.verticalScrollBar()
        needed = max(widget.minimumWidth(), widget.minimumSizeHint().width()) if widget is not None else 0
        return QSize(max(hint.width(), needed + (bar.sizeHint().width() if bar is not None else 0)), hint.height())


def scrolling(widget: QWidget) -> QWidget:
    """``widget`` in a :class:`VerticalScroll`; a widget that scrolls by itself (a table) as it is."""
    return widget if isinstance(widget, QAbstractScrollArea) else VerticalScroll(widget)


def reveal(widget: QWidget) -> None:
    """Scroll the panel that holds ``widget`` so that it is in view (once it is laid out: the next turn of
    the event loop), e.g. a button that appears at the bottom of a panel taller than its dock."""

    def scroll() -> None:
        area = widget.parentWidget()
        while area is not None and not isinstance(area, QScrollArea):
            area = area.parentWidget()
        if area is not None:
            area.ensureWidgetVisible(widget)

    QTimer.singleShot(0, scroll)
