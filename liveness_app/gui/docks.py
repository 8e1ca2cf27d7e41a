"""Docking a panel in a main window: a named dock (its position is saved with the window's layout), listed
in a menu so that a closed panel can be shown again."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QDockWidget, QMainWindow, QMenu, QWidget


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
    dock.setWidget(widget)
    same_area = [d for d in window.findChildren(QDockWidget) if d is not dock and window.dockWidgetArea(d) == area]
    window.addDockWidget(area, dock)
    if tabify and same_area:
        window.tabifyDockWidget(same_area[-1], dock)
    menu.addAction(dock.toggleViewAction())
    return dock
