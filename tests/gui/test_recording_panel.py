"""The recording panel as a new user meets it, offscreen: record labelled sessions of the sample video, fix
a label, delete a take, survive a failing disk, recover an interrupted session. Waits are on signals and
conditions, never on sleeps."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TAKES, TIMEOUT_MS, click, wait_result  # noqa: E402
from PyQt6.QtCore import Qt, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication, QComboBox, QLineEdit, QMessageBox  # noqa: E402

from liveness_app import paths  # noqa: E402
from liveness_app.core import recorder as recorder_module  # noqa: E402
from liveness_app.core.recorder import Recorder, load_labels  # noqa: E402
from liveness_app.core.session_store import RecorderError, SessionStore  # noqa: E402
from liveness_app.gui import recorder_service  # noqa: E402
from liveness_app.gui.panels import session_list  # noqa: E402
from liveness_app.gui.panels.recording import RecordingPanel  # noqa: E402
from liveness_app.gui.panels.session_rows import COLUMNS  # noqa: E402

pytestmark = pytest.mark.gui


def press_record(qtbot, panel: RecordingPanel) -> None:
    """Record is enabled once the running source has given a frame (a new source takes a moment)."""
    qtbot.waitUntil(panel.record_button.isEnabled, timeout=TIMEOUT_MS)
    click(qtbot, panel.record_button)


def record(qtbot, panel: RecordingPanel, label: str, subject: str, frames: int = 30) -> dict:
    """Pick label and subject, press Record, let about a second go by, press Stop."""
    panel.label_combo.setCurrentText(label)
    panel.subject_edit.setText(subject)
    with qtbot.waitSignal(panel.recording_started, timeout=TIMEOUT_MS):
        press_record(qtbot, panel)
    assert not panel.rec_label.isHidden() and panel.rec_label.text().startswith("● REC 00:0")
    assert panel.record_button.text() == "■ Stop" and not panel.subject_edit.isEnabled()
    qtbot.waitUntil(lambda: panel.recorder_service.recorder.session["frames"] >= frames, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: "frames so far" in panel.counts_label.text(), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(panel.recording_stopped, timeout=TIMEOUT_MS) as stopped:
        press_record(qtbot, panel)
    assert panel.rec_label.isHidden() and panel.record_button.text() == "● Record"
    session = stopped.args[0]
    # One number everywhere: the panel, the table and the status bar say the manifest's frame count, which
    # includes the frames still queued when Stop was pressed (after the last progress report).
    frames = session["frames"]
    assert panel.counts_label.text().startswith(f"Last session: {frames} frames (")
    assert _table_cell(panel, session["id"], "Frames") == str(frames)
    assert f"Recorded {frames} frames" in panel.window().statusBar().currentMessage()
    return session


def _table_cell(panel: RecordingPanel, session_id: str, column: str) -> str:
    t = panel.table
    row = next(r for r in range(t.rowCount()) if t.item(r, 0).data(Qt.ItemDataRole.UserRole) == session_id)
    return t.item(row, COLUMNS.index(column)).text()


def manifest() -> list[dict]:
    return json.loads((paths.recordings_dir() / "manifest.json").read_text())["sessions"]


def _row_texts(panel: RecordingPanel) -> list[tuple[str, ...]]:
    t = panel.table
    return [tuple(t.item(r, c).text() for c in range(t.columnCount())) for r in range(t.rowCount())]


# -- recording -------------------------------------------------------------------------------------------
def test_record_sessions_then_relabel_and_delete(qtbot, window, monkeypatch) -> None:
    panel = window.recording_panel
    labels = load_labels(paths.asset_path("labels.json"))
    assert [panel.label_combo.itemText(i) for i in range(panel.label_combo.count())] == [x["name"] for x in labels]
    assert panel.label_combo.itemData(1, Qt.ItemDataRole.ToolTipRole) == labels[1]["description"]

    takes = [record(qtbot, panel, label, subject) for label, subject in TAKES]

    assert {(r[1], r[2]) for r in _row_texts(panel)} == set(TAKES)
    assert all(r[5] == "complete" and int(r[4]) >= 30 for r in _row_texts(panel))
    saved = {s["id"]: s for s in manifest()}
    assert set(saved) == {t["id"] for t in takes}
    for s in saved.values():
        assert s["status"] == "complete" and s["frames"] >= 30 and (s["width"], s["height"]) == (640, 480)
        assert s["camera"] == "sample.mp4" and s["fps"] == 30.0
        assert (paths.recordings_dir() / s["file"]).stat().st_size > 0

    # bob's attack was a phone screen, not a print: relabel it
    bob_print = takes[3]["id"]
    panel.select_session(bob_print)
    monkeypatch.setattr(session_list, "ask_relabel", lambda parent, labels, label, subject: ("replay-phone", "bob"))
    click(qtbot, panel.relabel_button)
    s = next(s for s in manifest() if s["id"] == bob_print)
    assert (s["label"], s["attack_type"], s["subject"]) == ("replay-phone", "replay-phone", "bob")
    assert ("replay-phone", "bob") in {(r[1], r[2]) for r in _row_texts(panel)}

    # alice's print take was bad: delete it (after confirming)
    alice_print = takes[1]
    panel.select_session(alice_print["id"])
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    click(qtbot, panel.delete_button)
    assert alice_print["id"] not in {s["id"] for s in manifest()}
    assert not (paths.recordings_dir() / alice_print["file"]).exists()
    assert panel.table.rowCount() == 3


def test_relabel_dialog_offers_the_labels_and_the_subject(qtbot, window) -> None:
    offered: dict[str, object] = {}

    def answer() -> None:  # the user picks "mask", types a subject and presses OK
        dialog = QApplication.activeModalWidget()
        try:
            combo = dialog.findChild(QComboBox)
            offered.update(current=combo.currentText(), labels=[combo.itemText(i) for i in range(combo.count())])
            combo.setCurrentText("mask")
            dialog.findChild(QLineEdit).setText("dora")
        finally:
            dialog.accept()  # never leave a modal dialog open

    QTimer.singleShot(0, answer)
    assert session_list.ask_relabel(window, window.recording_panel.labels, "live", "bob") == ("mask", "dora")
    assert offered["current"] == "live" and "mask" in offered["labels"]


def test_recording_stops_when_the_source_changes_and_when_the_window_closes(qtbot, window, sample_video) -> None:
    panel = window.recording_panel
    panel.subject_edit.setText("carol")
    with qtbot.waitSignal(panel.recording_started, timeout=TIMEOUT_MS):
        press_record(qtbot, panel)
    with qtbot.waitSignal(panel.recording_stopped, timeout=TIMEOUT_MS) as stopped:
        window.open_source(str(sample_video))
    assert stopped.args[0]["status"] == "complete" and not panel.is_recording

    with qtbot.waitSignal(panel.recording_started, timeout=TIMEOUT_MS):
        press_record(qtbot, panel)
    window.close()
    assert not panel.is_recording
    assert [s["status"] for s in manifest()] == ["complete", "complete"]


def test_recorder_failures_are_shown_and_the_stream_goes_on(qtbot, window, warnings_shown, monkeypatch) -> None:
    panel = window.recording_panel
    panel.subject_edit.setText("alice")

    def unwritable(*args, **kwargs):
        raise RecorderError("cannot open a video file for writing in /recordings")

    monkeypatch.setattr(recorder_service, "Recorder", unwritable)
    press_record(qtbot, panel)
    qtbot.waitUntil(lambda: bool(warnings_shown), timeout=TIMEOUT_MS)
    assert "Recording could not start" in warnings_shown[0] and "cannot open a video file" in warnings_shown[0]
    assert not panel.is_recording and panel.record_button.text() == "● Record"
    wait_result(qtbot, window)  # still streaming and scoring

    # The disk fills up during a recording: the recorder stops itself, the panel stops it and says so.
    monkeypatch.setattr(recorder_service, "Recorder", Recorder)
    with qtbot.waitSignal(panel.recording_started, timeout=TIMEOUT_MS):
        press_record(qtbot, panel)
    monkeypatch.setattr(recorder_module, "shutil", SimpleNamespace(disk_usage=lambda p: SimpleNamespace(free=0)))
    with qtbot.waitSignal(panel.recording_stopped, timeout=TIMEOUT_MS) as stopped:
        pass
    assert "disk is almost full" in stopped.args[0]["notes"]
    assert "disk is almost full" in warnings_shown[-1] and not panel.is_recording
    wait_result(qtbot, window)


def test_recover_reports_interrupted_sessions_in_the_status_bar(qtbot, window, recordings) -> None:
    store = SessionStore(recordings)
    first = store.sessions()[0]
    shutil.copyfile(recordings / first["file"], recordings / "crashed.avi")  # a file belongs to one session only
    crashed = {**first, "id": "crashed", "file": "crashed.avi", "status": "recording"}
    store.upsert(crashed)
    panel = RecordingPanel(window.controller)
    panel.message.connect(window.status.showMessage)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.recovered, timeout=TIMEOUT_MS) as settled:  # off the GUI thread
        pass
    assert settled.args == [["crashed"]]
    assert "Recovered 1 recording" in window.status.currentMessage()
    assert next(s for s in manifest() if s["id"] == "crashed")["status"] == "complete"
    assert any(r[5] == "complete (recovered)" for r in _row_texts(panel))
