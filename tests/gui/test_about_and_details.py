"""Small things a new user meets (issue 25, item 7): Help > About says the version, what ships under which
terms and where data and the log are; the Model panel's long lines and the training data's path are shown
whole or shortened with the whole text in their tooltip, never cut off."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS  # noqa: E402
from PyQt6.QtCore import QRect  # noqa: E402

from liveness_app import __version__, paths  # noqa: E402
from liveness_app.gui.about import AboutDialog, Places, about_html  # noqa: E402
from liveness_app.gui.panels.data_sources import DataSourceList  # noqa: E402
from liveness_app.gui.panels.info import FacesPanel, ModelInfoPanel  # noqa: E402

pytestmark = pytest.mark.gui


def test_help_about_says_version_licences_and_where_data_and_logs_are(qtbot, make_window) -> None:
    window = make_window()
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert window.menu_actions.about in help_menu.actions()
    window.menu_actions.about.trigger()
    qtbot.waitUntil(lambda: window.findChild(AboutDialog) is not None, timeout=TIMEOUT_MS)
    dialog = window.findChild(AboutDialog)
    qtbot.waitUntil(dialog.isVisible, timeout=TIMEOUT_MS)
    text = dialog.label.text()
    assert f"Liveness Studio {__version__}" in text
    assert "research and evaluation use only" in text  # the bundled models' terms
    assert "MediaPipe BlazeFace" in text and "Apache-2.0" in text
    for place in (paths.user_data_dir(), paths.recordings_dir(), paths.user_models_dir(), paths.log_file()):
        assert str(place) in text
    assert "LIVENESS_STUDIO_HOME" in text
    assert QRect(0, 0, 1366, 768).contains(QRect(0, 0, dialog.width(), dialog.height()))  # fits a small screen
    assert not window.isHidden()  # the video goes on behind it
    dialog.close()


def test_the_about_text_escapes_what_it_is_given(tmp_path: Path) -> None:
    odd = tmp_path / "<b>data & co"
    text = about_html(Places(odd, odd / "recordings", odd / "models", odd / "logs" / "x.log"), version="9<9")
    assert "&lt;b&gt;data &amp; co" in text and "<b>data" not in text and "9&lt;9" in text


def loaded(training: dict, path: Path) -> SimpleNamespace:
    """What the Model panel reads of a loaded model."""
    meta = SimpleNamespace(
        name="mine",
        arch="mobilenet_v3_large",
        preprocessing=SimpleNamespace(input_size=128, crop_margin=0.25),
        threshold=0.2,
        training=training,
        metrics={},
    )
    return SimpleNamespace(meta=meta, path=path)


def test_a_long_trained_on_line_is_shortened_with_the_whole_text_in_its_tooltip(qtbot, tmp_path: Path) -> None:
    panel = ModelInfoPanel()
    qtbot.addWidget(panel)
    long_data = "recordings at " + "/very/long/folder/name" * 12
    path = tmp_path / "a-model-folder-with-a-long-name" / "mine.pt"
    panel.set_model(loaded({"data": long_data}, path))  # type: ignore[arg-type]
    shown, label = panel.field("Trained on"), panel._labels["Trained on"]
    assert len(shown) <= ModelInfoPanel.SHOWN_CHARS and shown.endswith("…")
    assert label.toolTip() == long_data
    assert panel.field("File") == "mine.pt" and panel._labels["File"].toolTip() == str(path)
    panel.resize(300, 400)
    panel.show()
    assert label.wordWrap() and label.width() <= panel.width()  # wraps inside the panel, not past its edge
    panel.set_model(None)
    assert label.toolTip() == ""


def test_the_training_data_path_wraps_and_shows_home_as_a_tilde(qtbot) -> None:
    sources = DataSourceList()
    qtbot.addWidget(sources)
    folder = str(Path.home() / "datasets" / "my-own-recordings-of-the-office-webcam")
    sources.add_source(folder)
    item = sources.list.item(0)
    assert item.text() == "~/datasets/my-own-recordings-of-the-office-webcam" and item.toolTip() == folder
    assert sources.list.wordWrap()
    assert sources.sources() == [folder]  # what trains is the whole path


def test_the_faces_table_says_its_numbers_are_p_live(qtbot) -> None:
    panel = FacesPanel()
    qtbot.addWidget(panel)
    headers = [panel.horizontalHeaderItem(c).text() for c in range(panel.columnCount())]
    assert headers == ["Track", "Verdict", "P(live) mean", "P(live) now"]
    assert "threshold" in panel.horizontalHeaderItem(2).toolTip()
