"""The window streaming, offscreen: the bundled sample video stands in for the camera and a tiny model runs
on the CPU; verdicts, the view, the Grad-CAM toggle and the device menu; a missing, replaced or unplugged
source; threads that stop cleanly. Waits are on signals and conditions, never on sleeps."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS, wait_result  # noqa: E402

from liveness_app import paths  # noqa: E402
from liveness_app.core.camera import CameraUnavailableError, VideoFileSource, open_source  # noqa: E402
from liveness_app.core.smoothing import Verdict  # noqa: E402
from studio_fakes import make_checkpoint  # noqa: E402

pytestmark = pytest.mark.gui


# -- streaming -------------------------------------------------------------------------------------------
def test_sample_video_gives_verdicts_and_shows_frames(qtbot, make_window) -> None:
    window = make_window()
    result = wait_result(qtbot, window)
    assert result.model_name == "tiny"
    assert result.faces[0].verdict in set(Verdict)
    assert 0.0 <= result.faces[0].smoothed <= 1.0
    qtbot.waitUntil(lambda: window.view.painted > 0, timeout=TIMEOUT_MS)
    assert window.view.message == ""
    qtbot.waitUntil(lambda: window.faces_panel.rowCount() >= 1, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: "fps" in window.status.stats_label.text(), timeout=TIMEOUT_MS)
    assert "verdicts/s" in window.status.stats_label.text()
    assert window.status.source_label.text() == "Source: sample.mp4"
    assert window.model_panel.field("Name") == "tiny"
    assert window.model_panel.field("Input").startswith("64×64")


def test_model_switch_from_menu_keeps_stream_running(qtbot, make_window) -> None:
    second = make_checkpoint(paths.user_models_dir() / "second.pt", name="second", seed=1)
    window = make_window()
    wait_result(qtbot, window)
    capture_thread = window.controller.threads()[0]
    window.model_views.refresh_menu()
    action = window.model_menu.action_for(second)
    assert action is not None and not action.isChecked()

    with qtbot.waitSignal(window.active_model.model_changed, timeout=TIMEOUT_MS):  # loaded off the GUI thread
        action.trigger()

    assert window.active_model.pipeline.model.meta.name == "second"
    assert action.isChecked()
    assert window.model_panel.field("Name") == "second"
    result = wait_result(qtbot, window, lambda r: r.model_name == "second" and bool(r.faces))
    assert result.faces
    assert window.controller.threads()[0] is capture_thread and capture_thread.isRunning()


def test_heatmap_toggle_computes_gradcam_only_when_shown(qtbot, make_window) -> None:
    window = make_window()
    assert wait_result(qtbot, window).faces[0].heatmap is None
    window.menu_actions.heatmap.trigger()
    assert window.view.options.heatmap
    result = wait_result(qtbot, window, lambda r: bool(r.faces) and r.faces[0].heatmap is not None)
    assert result.faces[0].heatmap.min() >= 0.0 and result.faces[0].heatmap.max() <= 1.0
    window.menu_actions.heatmap.trigger()
    wait_result(qtbot, window, lambda r: bool(r.faces) and r.faces[0].heatmap is None)


def test_device_menu(qtbot, make_window) -> None:
    window = make_window()
    cuda = window.menu_actions.devices["cuda"]
    if not torch.cuda.is_available():
        assert not cuda.isEnabled() and "CUDA" in cuda.toolTip()
    with qtbot.waitSignal(window.active_model.model_changed, timeout=TIMEOUT_MS):
        assert window.active_model.set_device("cpu")
    assert window.menu_actions.devices["cpu"].isChecked()
    assert window.active_model.model.device_type == "cpu"
    assert "cpu" in window.status.device_label.text()


# -- missing or failing sources --------------------------------------------------------------------------
def _no_cameras(spec: str):
    if spec.strip().isdigit():
        raise CameraUnavailableError(f"No camera found at index {spec}.")
    return open_source(spec)


def test_missing_camera_shows_message_and_window_stays_usable(qtbot, make_window, sample_video) -> None:
    window = make_window(opener=_no_cameras, source="7")
    assert "No camera found at index 7" in window.view.message
    assert "File > Open video" in window.view.message
    assert "No camera found at index 7" in window.status.source_label.text()
    assert not window.controller.is_running
    assert not window.recording_panel.record_button.isEnabled()  # nothing to record: greyed, as Qt apps do
    assert window.open_source(str(sample_video))  # what File > Open video... does after its dialog
    wait_result(qtbot, window)
    qtbot.waitUntil(lambda: window.view.message == "", timeout=TIMEOUT_MS)
    qtbot.waitUntil(window.recording_panel.record_button.isEnabled, timeout=TIMEOUT_MS)


def test_the_recorder_is_fed_on_the_capture_thread_not_the_gui_thread(qtbot, make_window) -> None:
    window = make_window()
    qtbot.waitUntil(lambda: window.controller.frame_size is not None, timeout=TIMEOUT_MS)
    assert window.controller.frame_size == (640, 480)
    threads: list[int] = []
    assert window.controller.set_frame_sink(lambda image: threads.append(threading.get_ident()))
    qtbot.waitUntil(lambda: len(threads) >= 3, timeout=TIMEOUT_MS)
    window.controller.set_frame_sink(None)
    assert threading.get_ident() not in threads
    window.controller.stop()
    assert window.controller.frame_size is None and not window.controller.set_frame_sink(print)


def test_no_source_given_and_no_camera_plays_the_sample_video(qtbot, make_window) -> None:
    window = make_window(opener=_no_cameras, source=None)
    assert window.status.source_label.text() == "No camera found — playing the bundled sample video"
    wait_result(qtbot, window)


def test_no_source_given_reopens_the_last_camera(qtbot, make_window, settings_store, sample_video) -> None:
    opened: list[str] = []

    def opener(spec: str):
        opened.append(spec)
        return open_source(str(sample_video))  # any camera index "works": the sample video stands in

    make_window(opener=opener, source="2").close()
    make_window(opener=opener, source=None)
    assert opened == ["2", "2"]


class _UnpluggedCamera:
    """Delivers a few frames of the sample video, then fails as an unplugged camera does."""

    paced, fps, name = True, 30.0, "camera 0"

    def __init__(self, path: Path, frames: int = 5) -> None:
        self._video, self._left = VideoFileSource(path), frames

    def read(self) -> np.ndarray:
        self._left -= 1
        if self._left < 0:
            raise CameraUnavailableError("camera 0 stopped delivering frames (unplugged?).")
        return self._video.read()

    def close(self) -> None:
        self._video.close()


def test_unplugged_camera_is_reported_not_fatal(qtbot, make_window, sample_video) -> None:
    failures: list[str] = []
    window = make_window(
        opener=lambda spec: _UnpluggedCamera(sample_video),
        source="0",
        on_window=lambda w: w.controller.source_failed.connect(failures.append),
    )
    qtbot.waitUntil(lambda: bool(failures), timeout=TIMEOUT_MS)  # it may fail while the model still loads
    assert "unplugged" in failures[0]
    assert "unplugged" in window.view.message and "unplugged" in window.status.source_label.text()
    assert not window.controller.is_running and window.controller.threads() == []


# -- lifecycle -----------------------------------------------------------------------------------------
def test_close_stops_threads_cleanly(qtbot, qtlog, make_window) -> None:
    window = make_window()
    wait_result(qtbot, window)
    threads = window.controller.threads()
    assert len(threads) == 2 and all(t.isRunning() for t in threads)
    window.close()
    assert all(t.isFinished() for t in threads)
    assert not window.controller.is_running and window.controller.threads() == []
    assert not [r for r in qtlog.records if "QThread" in r.message]


def test_switching_sources_does_not_leak_threads(qtbot, make_window, sample_video) -> None:
    window = make_window()
    wait_result(qtbot, window)
    old = window.controller.threads()
    assert window.open_source(str(sample_video))
    assert all(t.isFinished() for t in old)
    assert len(window.controller.threads()) == 2
    wait_result(qtbot, window)


def test_a_signal_still_queued_from_a_replaced_source_is_ignored(qtbot, make_window, sample_video) -> None:
    window = make_window()
    wait_result(qtbot, window)
    old_capture = window.controller._capture[0]
    # A frame in flight at the switch: emitted on the capture thread's side, queued, delivered after the
    # switch (by then the old worker has finished and deleted itself; its queued signals still arrive).
    emitter = threading.Thread(target=old_capture.frame_ready.emit, args=("stale",))
    emitter.start()
    emitter.join()
    assert window.open_source(str(sample_video))
    received: list = []
    window.controller.frame_ready.connect(received.append)
    qtbot.wait(50)
    assert "stale" not in received
