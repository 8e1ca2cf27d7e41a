"""The recorder service without a window: (label, subject, notes) -> a session, its signals, its refusals, and
the adapt dialog recording through it with no Recording panel at all. The camera is the sample video, fed
by a thread of the test's own as the capture thread would; waits are on signals and conditions."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS, click  # noqa: E402
from PyQt6.QtCore import QObject, pyqtSignal  # noqa: E402

from liveness_app.core import recorder as recorder_module  # noqa: E402
from liveness_app.core.camera import VideoFileSource  # noqa: E402
from liveness_app.core.session_store import RecorderError, SessionStore  # noqa: E402
from liveness_app.gui import recorder_service  # noqa: E402
from liveness_app.gui.recorder_service import RecorderService  # noqa: E402

pytestmark = pytest.mark.gui
LABELS = ("live", "print")


class FakeStream(QObject):
    """Stands in for :class:`StreamController`: the sample video as the camera. While ``feeding``, a thread
    hands its frames to the frame sink, as the capture thread does."""

    state_changed = pyqtSignal()
    source_failed = pyqtSignal(str)

    def __init__(self, video: Path) -> None:
        super().__init__()
        self._camera = VideoFileSource(video)
        self.source: VideoFileSource | None = self._camera
        self.frame = self._camera.read()
        self.frame_size: tuple[int, int] | None = (self.frame.shape[1], self.frame.shape[0])
        self.sink: Callable[[np.ndarray], None] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self._thread.start()

    def set_frame_sink(self, sink: Callable[[np.ndarray], None] | None) -> bool:
        self.sink = sink
        return True

    def _feed(self) -> None:
        while not self._stop.wait(0.01):  # about 100 frames a second: the same frame, it is never changed
            if (sink := self.sink) is not None:
                sink(self.frame)

    def replace_source(self, source: VideoFileSource | None) -> None:
        self.source = source
        self.state_changed.emit()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._camera.close()


@pytest.fixture
def stream(sample_video: Path) -> Iterator[FakeStream]:
    fake = FakeStream(sample_video)
    yield fake
    fake.close()


@pytest.fixture
def service(qtbot, stream: FakeStream, tmp_path: Path) -> RecorderService:
    return RecorderService(stream, SessionStore(tmp_path / "rec"), LABELS)


def record(qtbot, service: RecorderService, *args: str, frames: int = 10) -> dict[str, Any]:
    with qtbot.waitSignal(service.started, timeout=TIMEOUT_MS) as started:
        assert service.start(*args)
    qtbot.waitUntil(lambda: service.recorder.session["frames"] >= frames, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(service.finished, timeout=TIMEOUT_MS) as finished:
        service.stop()
    assert finished.args[0]["id"] == started.args[0]
    return finished.args[0]


def test_a_session_is_recorded_from_label_subject_and_notes(
    qtbot, service: RecorderService, stream: FakeStream
) -> None:
    progress: list[tuple[float, int, int]] = []
    service.progress.connect(lambda *args: progress.append(args))
    session = record(qtbot, service, "print", " ann ", " far away ")
    assert (session["label"], session["attack_type"], session["subject"], session["notes"]) == (
        "print",
        "print",
        "ann",
        "far away",
    )
    assert session["status"] == "complete" and session["frames"] >= 10 and session["camera"] == "sample.mp4"
    assert [s["id"] for s in service.store.sessions()] == [session["id"]]
    assert (service.store.root / session["file"]).stat().st_size > 0
    assert not service.is_recording and stream.sink is None  # the capture thread no longer feeds it
    assert progress and all(frames >= 0 and dropped >= 0 for _s, frames, dropped in progress)
    assert service.stop() is None  # safe when idle


@pytest.mark.parametrize(
    "label, subject, setup, reason",
    [
        ("live", "ann", lambda svc, stream: setattr(stream, "frame_size", None), "no video source is running"),
        ("live", "ann", lambda svc, stream: setattr(svc, "store", None), "the recordings folder is not available"),
        ("live", "ann", lambda svc, stream: setattr(svc, "labels", ()), "no labels"),
        ("live", "  ", lambda svc, stream: None, "enter a subject id"),
        ("mask", "ann", lambda svc, stream: None, "the label 'mask' is not in assets/labels.json"),
    ],
)
def test_what_cannot_be_recorded_is_refused_with_the_reason(
    qtbot, service: RecorderService, stream: FakeStream, label: str, subject: str, setup: Callable, reason: str
) -> None:
    setup(service, stream)
    with qtbot.waitSignal(service.refused, timeout=TIMEOUT_MS) as refused:
        assert not service.start(label, subject)
    assert refused.args[0].startswith(reason)
    assert not service.is_recording and stream.sink is None


def test_the_owner_can_block_recording(qtbot, stream: FakeStream, tmp_path: Path) -> None:
    blocked = RecorderService(stream, SessionStore(tmp_path / "rec"), LABELS, lambda: "the list is unreadable")
    with qtbot.waitSignal(blocked.refused, timeout=TIMEOUT_MS) as refused:
        assert not blocked.start("live", "ann")
    assert refused.args == ["the list is unreadable"]


def test_a_recorder_that_cannot_start_is_a_failure_not_a_crash(
    qtbot, service: RecorderService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unwritable(*args: object, **kwargs: object) -> None:
        raise RecorderError("cannot open a video file for writing")

    monkeypatch.setattr(recorder_service, "Recorder", unwritable)
    with qtbot.waitSignal(service.failed, timeout=TIMEOUT_MS) as failed:
        assert not service.start("live", "ann")
    assert failed.args == ["Recording could not start: cannot open a video file for writing"]
    assert not service.is_recording


def test_a_recording_ends_with_its_source(
    qtbot, service: RecorderService, stream: FakeStream, sample_video: Path
) -> None:
    messages: list[str] = []
    service.message.connect(lambda text, _ms: messages.append(text))
    assert service.start("live", "ann")
    other = VideoFileSource(sample_video)
    try:
        with qtbot.waitSignal(service.finished, timeout=TIMEOUT_MS):
            stream.replace_source(other)
    finally:
        other.close()
    assert not service.is_recording and messages[-1].endswith("(the source changed)")
    assert service.start("live", "ann")
    with qtbot.waitSignal(service.finished, timeout=TIMEOUT_MS):
        stream.source_failed.emit("unplugged")
    assert messages[-1].endswith("(the source stopped)")


def test_a_full_disk_stops_the_recording_and_says_what_was_saved(
    qtbot, service: RecorderService, monkeypatch: pytest.MonkeyPatch
) -> None:
    with qtbot.waitSignal(service.started, timeout=TIMEOUT_MS):
        assert service.start("live", "ann")
    monkeypatch.setattr(recorder_module, "shutil", SimpleNamespace(disk_usage=lambda p: SimpleNamespace(free=0)))
    with qtbot.waitSignal(service.failed, timeout=TIMEOUT_MS) as failed:
        with qtbot.waitSignal(service.finished, timeout=TIMEOUT_MS) as finished:
            pass
    assert "disk is almost full" in finished.args[0]["notes"]
    assert failed.args[0].startswith("Recording stopped: the disk is almost full.")
    assert not service.is_recording


def test_the_adapt_dialog_records_through_the_service_alone(qtbot, service: RecorderService) -> None:
    from liveness_app.gui.adapt_dialog import AdaptDialog

    dialog = AdaptDialog(service, lambda: None, part_seconds=(0.3, 0.3, 0.3))
    qtbot.addWidget(dialog)
    dialog.subject_edit.setText("dora")
    dialog.sample_warning.go_on.setChecked(True)  # the camera here is the bundled sample: a try-out
    click(qtbot, dialog.record_button)  # live: three parts, one after the other
    qtbot.waitUntil(lambda: dialog._step == 1, timeout=TIMEOUT_MS)
    sessions = dialog.recorded["live"]
    assert [(s["label"], s["subject"], s["notes"]) for s in sessions] == [
        ("live", "dora", f"adapt to my camera, part {i} of 3") for i in (1, 2, 3)
    ]
    assert {s["id"] for s in service.store.sessions()} == {s["id"] for s in sessions}
    assert not service.is_recording and dialog.record_button.isEnabled()
    dialog.reject()  # closing the dialog
    assert service.receivers(service.finished) == 0  # the closed dialog no longer listens
