"""The Recording panel on a hostile recordings folder, second round: a manifest the JSON decoder cannot take
(the app still starts), a session whose file is a FIFO or a folder (Delete removes nothing and says so), a
recovery still counting when the window closes (it stops between videos), and a list too long to show
whole (the newest rows, with a note). Waits are on events and signals, never on sleeps."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS, click  # noqa: E402
from PyQt6.QtCore import Qt  # noqa: E402
from PyQt6.QtWidgets import QMessageBox  # noqa: E402

from liveness_app import paths  # noqa: E402
from liveness_app.core import session_store as store_module  # noqa: E402
from liveness_app.core.session_store import SessionStore  # noqa: E402
from liveness_app.gui.panels import recording as recording_panel  # noqa: E402
from liveness_app.gui.panels import session_list  # noqa: E402
from liveness_app.gui.panels.recording import RecordingPanel  # noqa: E402
from liveness_app.gui.panels.session_list import SessionList  # noqa: E402
from liveness_app.gui.workers import StreamController  # noqa: E402
from studio_fakes import session_entry  # noqa: E402

pytestmark = pytest.mark.gui
LABELS = [{"name": "live"}, {"name": "print"}]


def _entry(sid: str, **extra: Any) -> dict[str, Any]:
    return session_entry(sid, f"{sid}.avi", **extra)


def _manifest(root: Path, sessions: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"version": 1, "sessions": sessions}))
    return root


@pytest.mark.parametrize(
    "text",
    ['{"version": 1, "sessions": [{"frames": ' + "9" * 5000 + "}]}", "[" * 200_000 + "]" * 200_000],
    ids=["5000 digits", "200000 deep"],
)
def test_the_app_starts_on_a_manifest_the_decoder_refuses(make_window, text: str) -> None:
    paths.recordings_dir().mkdir(parents=True, exist_ok=True)
    (paths.recordings_dir() / "manifest.json").write_text(text)
    window = make_window()
    panel = window.recording_panel.session_list
    assert window.isVisible() and "cannot be read" in panel.problem_label.text()
    assert not panel.set_aside_button.isHidden() and panel.table.rowCount() == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("what", ["a FIFO", "a folder"])
def test_delete_of_a_session_whose_file_is_no_regular_file_removes_nothing_and_says_so(
    qtbot, tmp_path: Path, warnings_shown: list[str], monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    root = _manifest(tmp_path / "rec", [_entry("odd")])
    if what == "a FIFO":
        os.mkfifo(root / "odd.avi")
    else:
        (root / "odd.avi").mkdir()
    sessions = SessionList(SessionStore(root), LABELS)
    qtbot.addWidget(sessions)
    sessions.refresh()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    sessions.select_session("odd")
    with qtbot.waitSignal(sessions.message, timeout=TIMEOUT_MS) as said:
        click(qtbot, sessions.delete_button)
    assert "nothing was deleted" in said.args[0] and f"is {what}" in said.args[0]
    assert warnings_shown == [said.args[0]]  # a box, not only the status bar
    assert (root / "odd.avi").exists() and [s["id"] for s in sessions.sessions()] == ["odd"]


def test_delete_of_a_session_whose_video_is_gone_says_it_was_gone(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = SessionList(SessionStore(_manifest(tmp_path / "rec", [_entry("gone")])), LABELS)
    qtbot.addWidget(sessions)
    sessions.refresh()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    sessions.select_session("gone")
    with qtbot.waitSignal(sessions.message, timeout=TIMEOUT_MS) as said:
        click(qtbot, sessions.delete_button)
    assert "was already gone" in said.args[0] and sessions.sessions() == []


def test_closing_the_window_stops_a_recovery_between_videos(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _manifest(tmp_path / "rec", [_entry(f"r{i}", status="recording") for i in range(3)])
    for i in range(3):
        (root / f"r{i}.avi").write_bytes(b"video")
    counting = threading.Event()
    counted: list[str] = []

    def slow_count(path: Path, abort: threading.Event | None = None) -> int:
        """A long video: counting lasts until the window closes (or 30 s, so a regression cannot hang)."""
        counted.append(Path(path).name)
        counting.set()
        if abort is not None:
            abort.wait(30)
        return 5

    monkeypatch.setattr(store_module, "count_frames", slow_count)
    panel = RecordingPanel(StreamController(), store=SessionStore(root))
    qtbot.addWidget(panel)
    assert counting.wait(300)  # bounds a hang, not a speed
    panel.shutdown()  # what the window's closing does
    assert counted == ["r0.avi"]  # the other two were never opened
    status = {s["id"]: s["status"] for s in SessionStore(root).sessions()}
    assert status == {"r0": "complete", "r1": "recording", "r2": "recording"}  # recovered at the next start


def test_no_recovery_runs_when_no_session_was_interrupted(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(recording_panel, "TaskWorker", lambda task: started.append(task))
    panel = RecordingPanel(StreamController(), store=SessionStore(_manifest(tmp_path / "rec", [_entry("done")])))
    qtbot.addWidget(panel)
    assert started == [] and [s["id"] for s in panel.sessions()] == ["done"]


def test_a_long_list_shows_the_newest_rows_and_says_how_many_there_are(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_list, "MAX_ROWS", 3)
    monkeypatch.setattr(session_list, "MAX_INVALID_ROWS", 1)
    entries = [_entry(f"s{i}", date=f"2026-01-0{i + 1}T12:00:00+00:00") for i in range(5)]
    root = _manifest(tmp_path / "rec", entries + [{"id": "bad1"}, {"id": "bad2"}])
    sessions = SessionList(SessionStore(root), LABELS)
    qtbot.addWidget(sessions)
    sessions.refresh()
    shown = [sessions.table.item(row, 0).data(Qt.ItemDataRole.UserRole) for row in range(sessions.table.rowCount())]
    assert shown == ["s4", "s3", "s2", None]  # the newest three, then one refused entry
    assert len(sessions.sessions()) == 5  # all of them stay available (the adapt dialog reads them)
    assert sessions.note_label.text() == "Showing the newest 3 of 5 sessions and the first 1 of 2 refused entries."
    assert not sessions.note_label.isHidden()
