"""Menus and toolbar: actions only; the main window decides what they do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import QMainWindow, QMenu, QMenuBar, QToolBar, QWidget

from .. import paths
from ..core import BACKEND_CHOICES, DEVICE_CHOICES

CAMERA_INDICES = range(10)
DEVICE_LABELS = {"auto": "Auto", "cpu": "CPU", "cuda": "CUDA"}
BACKEND_LABELS = {
    "auto": "Auto engine (the fastest here, measured at load)",
    "torch": "PyTorch",
    "onnx": "ONNX Runtime",
}


def model_files(folder: Path) -> list[Path]:
    """The models in ``folder``: ``*.pt`` checkpoints and ``*.onnx`` graphs, one entry per model: an
    ``.onnx`` beside a ``.pt`` of the same name is that checkpoint's exported copy, not another model."""
    if not folder.is_dir():
        return []
    checkpoints = list(folder.glob("*.pt"))
    stems = {p.stem for p in checkpoints}
    return sorted([*checkpoints, *(p for p in folder.glob("*.onnx") if p.stem not in stems)])


def list_models() -> list[tuple[str, list[Path]]]:
    """Models shipped with the app and the user's own (trained or copied), grouped."""
    groups = [("Bundled", paths.bundled_models_dir()), ("Your models", paths.user_models_dir())]
    return [(title, model_files(folder)) for title, folder in groups]


def _same(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


class ModelMenu(QMenu):
    """The model files as checkable, exclusive actions, plus Refresh and Open model...

    ``chosen`` fires when the user picks a model; :meth:`set_active` only moves the check mark.
    """

    chosen = pyqtSignal(Path)

    def __init__(self, parent: QWidget) -> None:
        super().__init__("&Model", parent)
        # Owned by the window, not the menu: QMenu.clear() deletes the actions the menu owns.
        self.refresh_action = QAction("&Refresh list", parent)
        self.open_action = QAction("&Open model...", parent)
        self.open_action.setShortcut(QKeySequence("Ctrl+M"))
        self.adapt_action = QAction("&Adapt to my camera...", parent)
        self.adapt_action.setStatusTip(
            "Record yourself live and with attacks for a few minutes, then calibrate "
            "and fine-tune the active model to this camera"
        )
        self._group = QActionGroup(self)
        self._group.setExclusive(True)
        self._model_actions: list[QAction] = []
        self.populate([], None)

    def action_for(self, path: Path) -> QAction | None:
        return next((a for a in self._model_actions if _same(a.data(), path)), None)

    def populate(self, groups: list[tuple[str, list[Path]]], active: Path | None) -> None:
        """Rebuild the list; ``active`` is listed (under "Other") even if it is in neither folder."""
        for action in self._model_actions:
            self._group.removeAction(action)
        self._model_actions = []
        self.clear()  # deletes the model actions and section headers (the menu owns them)
        listed = [p for _, files in groups for p in files]
        if active is not None and not any(_same(p, active) for p in listed):
            groups = [*groups, ("Other", [active])]
        for title, files in groups:
            self.addSection(title)
            if not files:
                self.addAction(_action(self, "(none)", enabled=False))
            for path in files:
                self._add_model(path)
        self.addSeparator()
        self.addAction(self.refresh_action)
        self.addAction(self.open_action)
        self.addSeparator()
        self.addAction(self.adapt_action)
        self.set_active(active)

    def _add_model(self, path: Path) -> None:
        action = _action(self, path.stem, checkable=True)
        action.setData(path)
        action.setToolTip(str(path))
        action.setStatusTip(str(path))
        action.triggered.connect(lambda _=False, p=path: self.chosen.emit(p))
        self._group.addAction(action)
        self.addAction(action)
        self._model_actions.append(action)

    def set_active(self, path: Path | None) -> None:
        """Check the action of ``path`` (uncheck all for None)."""
        for action in self._model_actions:
            action.setChecked(path is not None and _same(action.data(), path))


@dataclass
class Actions:
    """Every action of the window, so the window (and tests) can reach them by name."""

    open_video: QAction
    snapshot: QAction
    snapshot_dir: QAction
    quit: QAction
    box: QAction
    score: QAction
    heatmap: QAction
    about: QAction
    cameras: list[QAction] = field(default_factory=list)
    devices: dict[str, QAction] = field(default_factory=dict)
    backends: dict[str, QAction] = field(default_factory=dict)
    panels_menu: QMenu | None = None


def _action(
    parent: QWidget,
    text: str,
    shortcut: str | None = None,
    checkable: bool = False,
    tip: str = "",
    enabled: bool = True,
) -> QAction:
    action = QAction(text, parent)
    action.setCheckable(checkable)
    action.setEnabled(enabled)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    return action


def build_menus(
    window: QMainWindow, cuda_available: bool, engines: dict[str, bool] | None = None
) -> tuple[Actions, ModelMenu]:
    """File, Model, Device, View and Help menus on ``window``'s menu bar; ``engines``: which of torch and onnx
    are installed (all, when None)."""
    a = Actions(
        open_video=_action(window, "Open &video...", "Ctrl+O", tip="Play a video file as the camera"),
        snapshot=_action(window, "&Snapshot", "Ctrl+S", tip="Save the frame as shown to a PNG file"),
        snapshot_dir=_action(window, "Snapshot &folder...", tip="Choose where snapshots are saved"),
        quit=_action(window, "&Quit", "Ctrl+Q"),
        box=_action(window, "&Box", "B", checkable=True, tip="Draw face boxes"),
        score=_action(window, "S&core", "S", checkable=True, tip="Write verdict and score"),
        heatmap=_action(
            window, "&Heatmap", "H", checkable=True, tip="Grad-CAM: where the model looked (computed only while shown)"
        ),
        about=_action(window, "&About Liveness Studio", tip="Version, licences, where your data and the log are"),
    )
    bar = window.menuBar()
    assert bar is not None  # a QMainWindow makes its menu bar when first asked
    file_menu = _menu(bar, "&File")
    cameras = _menu(file_menu, "Open &camera")
    for index in CAMERA_INDICES:
        camera = _action(cameras, f"Camera {index}")
        camera.setData(index)
        cameras.addAction(camera)
        a.cameras.append(camera)
    file_menu.addActions([a.open_video])
    file_menu.addSeparator()
    file_menu.addActions([a.snapshot, a.snapshot_dir])
    file_menu.addSeparator()
    file_menu.addAction(a.quit)

    model_menu = ModelMenu(window)
    bar.addMenu(model_menu)

    device_menu = _menu(bar, "&Device")
    a.devices = _choices(window, device_menu, {choice: DEVICE_LABELS[choice] for choice in DEVICE_CHOICES})
    if not cuda_available:
        a.devices["cuda"].setEnabled(False)
        a.devices["cuda"].setToolTip("No CUDA GPU available (torch.cuda.is_available() is False)")
    _add_backends(window, device_menu, a, engines or {})
    device_menu.setToolTipsVisible(True)

    view_menu = _menu(bar, "&View")
    view_menu.addActions([a.box, a.score, a.heatmap])
    view_menu.addSeparator()
    a.panels_menu = _menu(view_menu, "&Panels")
    _menu(bar, "&Help").addAction(a.about)
    return a, model_menu


def _menu(parent: QMenuBar | QMenu, title: str) -> QMenu:
    """``parent.addMenu(title)`` in the two steps Qt takes, typed (PyQt6's stubs make its result optional)."""
    menu = QMenu(title, parent)
    parent.addMenu(menu)
    return menu


def _choices(window: QMainWindow, menu: QMenu, labels: dict[str, str]) -> dict[str, QAction]:
    """One checkable, exclusive action per choice (its data: the choice), added to ``menu``."""
    group = QActionGroup(window)
    actions = {}
    for choice, label in labels.items():
        action = _action(window, label, checkable=True)
        action.setData(choice)
        group.addAction(action)
        menu.addAction(action)
        actions[choice] = action
    return actions


def _add_backends(window: QMainWindow, menu: QMenu, a: Actions, engines: dict[str, bool]) -> None:
    """The engine choice, under the devices: an engine that is not installed is greyed out, saying so."""
    menu.addSection("Engine")
    a.backends = _choices(window, menu, {choice: BACKEND_LABELS[choice] for choice in BACKEND_CHOICES})
    for choice, action in a.backends.items():
        if not engines.get(choice, True):
            action.setEnabled(False)
            action.setToolTip(f"{BACKEND_LABELS[choice]} is not installed in this runtime")


def build_toolbar(window: QMainWindow, actions: Actions, extra: QWidget) -> QToolBar:
    """Overlay toggles and ``extra`` (the threshold control)."""
    toolbar = QToolBar("Overlay", window)
    toolbar.setObjectName("overlay-toolbar")
    toolbar.setMovable(False)
    toolbar.addActions([actions.box, actions.score, actions.heatmap])
    toolbar.addSeparator()
    toolbar.addWidget(extra)
    toolbar.addSeparator()
    toolbar.addAction(actions.snapshot)
    window.addToolBar(toolbar)
    return toolbar
