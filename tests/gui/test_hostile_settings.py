"""Settings that would run code: an old INI settings file holding a pickled Python object (``@Variant`` of
type ``PyQt_PyObject``, which ``QSettings.value()`` unpickles before any type check) is imported without
ever being unpickled, and the JSON store the app uses now cannot hold an object at all."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS, app_config  # noqa: E402
from PyQt6.QtCore import QByteArray, QSettings  # noqa: E402

from liveness_app import paths  # noqa: E402
from liveness_app.gui.settings import AppSettings  # noqa: E402
from liveness_app.gui.settings_store import SettingsFile, default_store, import_legacy_ini  # noqa: E402

pytestmark = pytest.mark.gui


class _RunsCode:
    """Pickled by PyQt as a PyQt_PyObject variant; unpickling it creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _hostile_ini(path: Path, marker: Path) -> Path:
    """An INI file as an old version (or an attacker) leaves it: text values beside a pickle."""
    store = QSettings(str(path), QSettings.Format.IniFormat)
    store.setValue("model/last", _RunsCode(marker))
    store.setValue("model/device", "cpu")
    store.setValue("window/geometry", QByteArray(b"\x01\x02layout"))
    store.sync()
    del store
    assert "PyQt_PyObject" in path.read_text(errors="replace")  # the pickle really is in the file
    return path


def test_an_old_settings_file_with_a_pickle_is_imported_without_running_it(tmp_path, caplog) -> None:
    marker = tmp_path / "code-ran"
    legacy = _hostile_ini(tmp_path / "settings.ini", marker)
    with caplog.at_level(logging.WARNING, logger="liveness_app"):
        store = SettingsFile(tmp_path / "settings.json", legacy=legacy)
    assert not marker.exists()
    assert store.value("model/device") == "cpu" and store.value("model/last") is None
    assert AppSettings(store).geometry() == QByteArray(b"\x01\x02layout")
    assert any("Python objects" in r.getMessage() for r in caplog.records)
    store.sync()
    assert json.loads((tmp_path / "settings.json").read_text())["model/device"] == "cpu"
    assert import_legacy_ini(legacy) and not marker.exists()  # importing twice changes nothing


def test_the_app_starts_on_a_hostile_settings_file_and_runs_nothing(
    qtbot, tmp_path, detector_path, sample_video, tiny_model
) -> None:
    from liveness_app.gui.main_window import MainWindow

    marker = tmp_path / "code-ran"
    _hostile_ini(paths.user_data_dir() / "settings.ini", marker)
    config = app_config(detector_path, source=str(sample_video), model=tiny_model)
    window = MainWindow(config)  # the default store: settings.json, importing the old settings.ini once
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.active_model.loading, timeout=TIMEOUT_MS)
    window.close()
    assert not marker.exists()
    saved = json.loads((paths.user_data_dir() / "settings.json").read_text())
    assert all(isinstance(v, (str, bool, int, float)) for v in saved.values())
    assert saved["model/last"] != "" and "PyQt_PyObject" not in json.dumps(saved)


def test_the_store_holds_plain_values_only_and_survives_a_damaged_file(tmp_path) -> None:
    store = SettingsFile(tmp_path / "settings.json")
    with pytest.raises(TypeError):
        store.setValue("model/last", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.setValue("model/thresholds", float("nan"))
    for damaged in ("{", "[1, 2]", "1" * 5000, "[" * 200_000, "\udcff"):
        (tmp_path / "bad.json").write_text(damaged, encoding="utf-8", errors="surrogateescape")
        assert SettingsFile(tmp_path / "bad.json").value("model/last") is None


def test_liveness_studio_home_holds_the_json_settings(_user_home: Path) -> None:
    assert Path(default_store().fileName()) == paths.user_data_dir() / "settings.json"
    assert os.environ["LIVENESS_STUDIO_HOME"]
