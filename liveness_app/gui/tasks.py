"""A long task (training, evaluation) on a QThread, its progress as Qt signals, cancellable.

The task may return a generator (``training.loop.fit()``): every item it yields becomes a ``yielded``
signal, and ``stop()`` closes it at the next item so its ``finally`` blocks run (superqt's
``thread_worker`` does the same).
"""
from __future__ import annotations

import logging
import threading
from types import GeneratorType
from typing import Any, Callable

from PyQt6.QtCore import QObject, pyqtSignal, pyqtSlot

log = logging.getLogger(__name__)

EXPECTED_ERRORS = (ValueError, OSError, RuntimeError)  # bad data or config, disk, device (CUDA OOM, ...)


class TaskWorker(QObject):
    """Runs ``task()`` on a QThread; if it returns a generator, every item goes out by ``yielded``.

    ``stop()`` (any thread) makes ``run`` close the generator at the next item, so its ``finally`` blocks
    run; ``returned`` then does not fire and ``cancelled`` is True. Exceptions go out by ``errored``.
    """

    yielded = pyqtSignal(object)
    returned = pyqtSignal(object)
    errored = pyqtSignal(str)
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
            self.errored.emit(str(exc) or type(exc).__name__)
        except Exception as exc:  # never a silent thread death: the panel shows it
            log.exception("task failed")
            self.errored.emit(f"{type(exc).__name__}: {exc}")
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
