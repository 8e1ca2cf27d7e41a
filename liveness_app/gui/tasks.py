"""A long task (training, evaluation) on a QThread, its progress as Qt signals, cancellable.

The task may return a generator (``training.fit.loop.fit()``): every item it yields becomes a ``yielded``
signal, and ``stop()`` closes it at the next item so its ``finally`` blocks run (superqt's
``thread_worker`` does the same). A failure goes out as the exception itself (``errored``); the receiver
words it, usually with :func:`error_text`.
"""

from __future__ import annotations

import logging
import threading
from types import GeneratorType
from typing import Any, Callable

from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from .qthreads import alive, start_in_thread, stop_thread

log = logging.getLogger(__name__)

EXPECTED_ERRORS = (ValueError, OSError, RuntimeError)  # bad data or config, disk, device (CUDA OOM, ...)


def error_text(exc: BaseException) -> str:
    """``exc`` as a line for the user: an expected failure (bad data, disk, device) by its message, anything
    else with its type too (it is a bug, and the type says where to look)."""
    if isinstance(exc, EXPECTED_ERRORS):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class TaskWorker(QObject):
    """Runs ``task()`` on a QThread; if it returns a generator, every item goes out by ``yielded``.

    ``stop()`` (any thread) makes ``run`` close the generator at the next item, so its ``finally`` blocks
    run; ``returned`` then does not fire and ``cancelled`` is True. Exceptions go out by ``errored``.
    """

    yielded = pyqtSignal(object)
    returned = pyqtSignal(object)
    errored = pyqtSignal(object)  # the exception the task raised
    finished = pyqtSignal()

    def __init__(self, task: Callable[[], Any]) -> None:
        super().__init__()
        self._task = task
        self._abort = threading.Event()
        self.cancelled = False

    @pyqtSlot()
    def run(self) -> None:
        try:
            result = self._task()
            if isinstance(result, GeneratorType):
                result = self._drain(result)
            if not self.cancelled:
                self.returned.emit(result)
        except EXPECTED_ERRORS as exc:
            log.warning("task failed: %s", exc, exc_info=True)
            self.errored.emit(exc)
        except Exception as exc:  # never a silent thread death: the panel shows it
            log.exception("task failed")
            self.errored.emit(exc)
        finally:
            self.finished.emit()

    def _drain(self, gen: GeneratorType) -> Any:
        while True:
            if self._abort.is_set():
                gen.close()
                self.cancelled = True
                return None
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            self.yielded.emit(item)

    def stop(self) -> None:
        """Thread-safe: the generator is closed before its next item is asked for."""
        self._abort.set()


class TaskRunner(QObject):
    """One :class:`TaskWorker` at a time on its own QThread: start, cancel, and a clean end.

    Relays the worker's ``yielded``/``returned``/``errored`` signals, then ``finished`` with the outcome
    ("done", "cancelled" or "failed") once the thread is over. ``shutdown`` (window or dialog closing)
    cancels and waits, so that no thread outlives its owner; no ``finished`` follows it.
    """

    yielded = pyqtSignal(object)
    returned = pyqtSignal(object)
    errored = pyqtSignal(object)  # the exception the task raised
    finished = pyqtSignal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job: tuple[TaskWorker, QThread] | None = None
        self._failed = False

    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def job_thread(self) -> QThread | None:
        """The running job's thread (not QObject.thread(), the runner's own)."""
        return self._job[1] if self._job else None

    def start(self, task: Callable[[], Any]) -> bool:
        """Run ``task`` on a new thread; False when one is still running."""
        if self._job is not None:
            return False
        worker = TaskWorker(task)
        # Connected before the thread starts, to bound methods: delivered queued, in the GUI thread.
        worker.yielded.connect(self.yielded)
        worker.returned.connect(self.returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._failed = False
        self._job = (worker, start_in_thread(worker))
        return True

    def cancel(self) -> None:
        """Closes a generator task at its next item (its ``finally`` blocks run)."""
        if self._job is not None:
            self._job[0].stop()

    def shutdown(self) -> None:
        """Cancel and wait for the running step to end."""
        job, self._job = self._job, None
        if job is not None:
            stop_thread(*job)

    def _on_errored(self, exc: BaseException) -> None:
        self._failed = True
        self.errored.emit(exc)

    def _on_finished(self) -> None:
        job, self._job = self._job, None
        if job is None:  # already shut down
            return
        if alive(job[1]):  # run() has returned: this only lets the thread's event loop end
            job[1].quit()
            job[1].wait()
        self.finished.emit("failed" if self._failed else "cancelled" if job[0].cancelled else "done")
