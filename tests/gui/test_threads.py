"""Worker threads clean up after themselves (superqt's wiring: ``finished -> deleteLater``) and failures go out
as the exception itself; receivers word it. Offscreen, fake sources and tasks."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS  # noqa: E402
from PyQt6 import sip  # noqa: E402

from liveness_app.gui.qthreads import alive, start_in_thread, stop_thread  # noqa: E402
from liveness_app.gui.tasks import TaskRunner, TaskWorker, error_text  # noqa: E402
from liveness_app.gui.workers import StreamController  # noqa: E402

pytestmark = pytest.mark.gui


class Boom(Exception):
    """Not an expected failure: a bug, named by its type."""


def _raise(exc: BaseException):
    raise exc


def test_a_finished_worker_and_its_thread_delete_themselves(qtbot) -> None:
    # Connected before the thread starts, as the app does: the worker lives and dies on its own thread, so
    # the test must not connect to (or disconnect from) it while it may be being deleted.
    returned: list[object] = []
    deleted_on: list[int] = []
    worker = TaskWorker(lambda: 42)
    worker.returned.connect(returned.append)
    worker.destroyed.connect(lambda: deleted_on.append(threading.get_ident()))
    thread = start_in_thread(worker)
    qtbot.waitUntil(lambda: sip.isdeleted(worker) and sip.isdeleted(thread), timeout=TIMEOUT_MS)
    assert returned == [42]  # what it sent before it went is still delivered
    # Deleted on the GUI thread, never on its own: there, Qt's signal lock and the GIL can deadlock.
    assert deleted_on == [threading.get_ident()]
    assert not alive(thread) and not alive(None)
    stop_thread(worker, thread)  # an owner that stops it late finds it gone: no error


def test_errored_carries_the_exception_and_the_receiver_words_it(qtbot) -> None:
    runner = TaskRunner()
    failure = OSError("disk full")
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS) as finished:
        with qtbot.waitSignal(runner.errored, timeout=TIMEOUT_MS) as errored:
            runner.start(lambda: _raise(failure))
    assert errored.args[0] is failure and finished.args == ["failed"]
    assert error_text(failure) == "disk full"  # an expected failure: its message
    assert error_text(ValueError()) == "ValueError"  # ... or its type when it has none
    assert error_text(Boom("x is None")) == "Boom: x is None"  # anything else: a bug, with its type
    assert not runner.busy and runner.start(lambda: None)  # a new task may start
    qtbot.waitUntil(lambda: not runner.busy, timeout=TIMEOUT_MS)


class _FailingSource:
    """A source whose first read fails as a broken driver might."""

    paced, fps, name = True, 30.0, "camera 9"

    def read(self) -> np.ndarray:
        raise Boom("driver crashed")

    def close(self) -> None:
        pass


def test_a_capture_failure_is_worded_by_the_controller_and_leaves_no_thread(qtbot) -> None:
    controller = StreamController()
    with qtbot.waitSignal(controller.source_failed, timeout=TIMEOUT_MS) as failed:
        controller.start(_FailingSource(), None)
    assert failed.args == ["Capture from camera 9 failed: Boom: driver crashed"]
    # the finished thread's deleteLater runs
    qtbot.waitUntil(lambda: not controller.is_running and controller.threads() == [], timeout=TIMEOUT_MS)
    controller.stop()


class _Source:
    paced, fps, name = True, 30.0, "fake"

    def read(self) -> np.ndarray:
        return np.zeros((8, 8, 3), np.uint8)

    def close(self) -> None:
        pass


class _BrokenPipeline:
    """Scoring that fails on its first frame (as CUDA running out of memory would)."""

    model = None

    def reset_tracks(self) -> None:
        pass

    def process(self, image: np.ndarray, t_ms: int) -> None:
        raise RuntimeError("CUDA out of memory")


def test_a_scoring_failure_is_said_and_scoring_restarts_on_request(qtbot) -> None:
    controller = StreamController()
    pipeline = _BrokenPipeline()
    with qtbot.waitSignal(controller.scoring_failed, timeout=TIMEOUT_MS) as failed:
        controller.start(_Source(), pipeline)
    assert failed.args == ["Scoring stopped: RuntimeError: CUDA out of memory"]
    qtbot.waitUntil(lambda: not controller.is_scoring, timeout=TIMEOUT_MS)
    qtbot.wait(50)  # the scoring thread deletes itself; the controller still holds it
    assert controller.is_running
    with qtbot.waitSignal(controller.scoring_failed, timeout=TIMEOUT_MS):
        controller.set_pipeline(pipeline)  # what a model change does: scoring starts again
    controller.stop()
    assert controller.threads() == []
