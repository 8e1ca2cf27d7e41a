"""Worker objects on their own QThreads: start one, tell whether Qt has deleted it, stop it and wait.

Pattern of superqt's ``new_worker_qthread``: ``worker.moveToThread(thread); thread.started.connect(worker.run)``.
Shutdown sets the worker's abort flag and wakes it (``worker.stop``), then ``quit()`` and ``wait()``. Workers
and threads delete themselves when finished. Used by the stream's workers (:mod:`.workers`), the task runner
and the model loader.
"""

from __future__ import annotations

from typing import Protocol

from PyQt6 import sip
from PyQt6.QtCore import QObject, Qt, QThread, pyqtBoundSignal


class Worker(Protocol):
    """What :func:`start_in_thread` needs: a blocking ``run`` that ends after ``stop`` and a ``finished``
    (and, being a QObject, ``moveToThread`` and ``deleteLater``)."""

    finished: pyqtBoundSignal

    def run(self) -> None: ...

    def stop(self) -> None: ...

    def moveToThread(self, thread: QThread | None) -> None: ...  # noqa: N802 (Qt's name)

    def deleteLater(self) -> None: ...  # noqa: N802 (Qt's name)


def start_in_thread(worker: Worker) -> QThread:
    """Move ``worker`` to a new QThread and run its ``run`` there; the thread ends when ``run`` returns.

    Both delete themselves when finished, on the calling (GUI) thread: callers that keep them check
    :func:`alive` (``stop_thread`` does). Reusable by any worker with ``run``/``stop``/``finished``.
    """
    thread = QThread()
    thread.setObjectName(type(worker).__name__)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    home = QThread.currentThread()
    # The worker goes home (direct: only its own thread may push it), then deleteLater is queued there. Deleted
    # on its own thread, Qt's signal lock and PyQt's need for the GIL there can deadlock with the GUI thread.
    # (PyQt's stubs leave out connect's connection-type argument.)
    worker.finished.connect(
        lambda: worker.moveToThread(home),  # type: ignore[call-arg]
        Qt.ConnectionType.DirectConnection,
    )
    worker.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    thread.start()
    return thread


def alive(obj: QObject | None) -> bool:
    """``obj`` exists and Qt has not deleted it yet (a finished worker or thread deletes itself)."""
    return obj is not None and not sip.isdeleted(obj)


def stop_thread(worker: Worker, thread: QThread) -> None:
    """Abort flag + wake-up (``worker.stop``: Python state only, safe on a deleted worker), then ``quit``
    and ``wait``: the thread is over on return (one that deleted itself has ended)."""
    worker.stop()
    if alive(thread):
        thread.quit()
        thread.wait()
