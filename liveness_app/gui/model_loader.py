"""Model files are read and checked on a worker thread, so the window never freezes on a big or hostile file.

The newest request wins: a result that arrives after a newer request was made is dropped, never installed.
A start-up request carries fallbacks (the last model used, then the bundled default) tried in order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from ..core.pipeline import LoadedModel
from .qthreads import start_in_thread, stop_thread
from .tasks import TaskWorker, error_text

log = logging.getLogger(__name__)

Load = Callable[[Path, str | None, str | None], LoadedModel]  # (path, device, backend); None: the preference


@dataclass(frozen=True)
class LoadRequest:
    """Load ``path`` (on ``device`` in ``backend``, None: the current preference) and install it with
    ``threshold`` (None: the one saved for it)."""

    path: Path
    device: str | None = None  # set when the request is a device switch
    backend: str | None = None  # set when the request is a backend switch
    threshold: float | None = None
    quiet: bool = False  # refusal as a status-bar note instead of a message box
    fallbacks: tuple[Path, ...] = field(default_factory=tuple)

    def next_fallback(self) -> LoadRequest | None:
        if not self.fallbacks:
            return None
        return replace(self, path=self.fallbacks[0], fallbacks=self.fallbacks[1:], quiet=True)


@dataclass(frozen=True)
class LoadFailure:
    """A model file that could not be used: the request, the exception, and the fallback loaded instead
    (None: none; the model in use, if any, stays)."""

    request: LoadRequest
    error: BaseException
    instead: Path | None = None

    @property
    def path(self) -> Path:
        return self.request.path

    @property
    def message(self) -> str:
        """Why, in words for the user."""
        return error_text(self.error)


class ModelLoader(QObject):
    """Runs ``load(path, device, backend)`` on a QThread per request; ``loaded``/``failed`` arrive on the GUI
    thread. Each worker and thread deletes itself when it has finished (:func:`.qthreads.start_in_thread`)."""

    loaded = pyqtSignal(object, object)  # LoadedModel, LoadRequest
    failed = pyqtSignal(object, object)  # LoadRequest, the exception

    def __init__(self, load: Load, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._load = load
        self._generation = 0
        self._jobs: dict[int, tuple[TaskWorker, QThread, LoadRequest]] = {}

    @property
    def busy(self) -> bool:
        """A request is being loaded whose result will be used."""
        return self._generation in self._jobs

    def request(self, req: LoadRequest) -> None:
        """Start loading; any request still in flight is superseded (its result will be dropped)."""
        self._generation += 1
        gen = self._generation
        worker = TaskWorker(lambda: self._load(req.path, req.device, req.backend))
        worker.returned.connect(lambda model, g=gen: self._on_returned(g, model))
        worker.errored.connect(lambda exc, g=gen: self._on_errored(g, exc))
        worker.finished.connect(lambda g=gen: self._forget(g))
        self._jobs[gen] = (worker, start_in_thread(worker), req)

    def _on_returned(self, gen: int, model: LoadedModel) -> None:
        if gen == self._generation and gen in self._jobs:
            self.loaded.emit(model, self._jobs[gen][2])

    def _on_errored(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation and gen in self._jobs:
            self.failed.emit(self._jobs[gen][2], exc)

    def _forget(self, gen: int) -> None:
        job = self._jobs.pop(gen, None)
        if job is not None:
            stop_thread(job[0], job[1])  # run() has returned: this only waits for the thread to end

    def shutdown(self) -> None:
        """Abandon the trial runs of ONNX graphs in flight (:mod:`..core.backends.onnx_guard`: a hostile graph
        could run for minutes), wait for the loads (a file read cannot be interrupted), drop their results."""
        from ..core.backends.onnx_guard import abort_trials

        abort_trials()
        self._generation += 1
        for worker, thread, _ in list(self._jobs.values()):
            stop_thread(worker, thread)
        self._jobs.clear()
