"""*Auto* takes the engine that is faster on this machine, measured when the model loads, not assumed.

Each candidate (PyTorch on the chosen device, ONNX Runtime on the CPU, and ONNX Runtime on CUDA where
``onnxruntime-gpu`` lists its provider and the device choice is not the CPU) is opened, called once to warm
up (first-call allocations, cuDNN's algorithm choice, ONNX Runtime's arena) and then timed over a few calls
on one face with Grad-CAM, as the live view calls it. The fastest is kept, the others released, and the
reason gives every figure, and why a candidate that could not open did not (ONNX Runtime falls back to the
CPU when CUDA's libraries are missing: that is refused, not timed as CUDA). The warm-up also means the
first real frame is not the slow one.

Measuring means importing PyTorch (seconds, and some 600 MB) even where ONNX Runtime wins, so the outcome
is remembered (:class:`RaceMemory`, ``engine-race.json`` in the ONNX cache folder) per model file (path,
size, modification time), device choice, CPU, thread count and engine versions: a later start opens the
winner directly, and any change measures again. The file is untrusted: only well-formed entries are used.
"""

from __future__ import annotations

import importlib.metadata
import json
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from ..cpu import cpu_model, scoring_threads
from ..files import atomic_write_text
from ..meta import ModelLoadError
from .onnx_copies import ExportUnavailable

if TYPE_CHECKING:
    from .factory import LoadedModel

CALLS = 5  # timed calls per engine, after one warm-up call
# the candidates' names, as the reason and the memory give them
ENGINES = ("PyTorch", "ONNX Runtime", "ONNX Runtime (CUDA)")
MEMORY_NAME = "engine-race.json"
MAX_ENTRIES = 64


def _face(model: LoadedModel) -> np.ndarray:
    size = int(model.meta.preprocessing.input_size)
    return np.zeros((1, 3, size, size), np.float32)


def warm_up(model: LoadedModel, faces: Sequence[int] = (1, 2)) -> None:
    """Calls the scorer as the live view will (one face and two, with the map), so that first-call costs
    (CUDA context and kernels, cuDNN's algorithm choice for the fixed input size) are paid at load."""
    for n in faces:
        model.scorer(np.repeat(_face(model), n, axis=0), with_cam=True)


def time_scorer(model: LoadedModel, calls: int = CALLS, clock: Callable[[], float] = time.perf_counter) -> float:
    """Median ms of one face scored with its Grad-CAM, after a warm-up call."""
    warm_up(model, faces=(1,))
    face = _face(model)
    times = []
    for _ in range(max(1, calls)):
        t0 = clock()
        model.scorer(face, with_cam=True)
        times.append((clock() - t0) * 1e3)
    return statistics.median(times)


def fastest(
    candidates: Sequence[tuple[str, Callable[[], LoadedModel]]],
    timer: Callable[[LoadedModel], float] = time_scorer,
) -> tuple[LoadedModel, str, str]:
    """The candidate (name, opener) whose model scores fastest, its name, and why. A candidate that cannot open is
    passed over (named in the reason); :class:`ModelLoadError` when none can, with the first one's error."""
    timed: list[tuple[float, str, LoadedModel]] = []
    failed: list[str] = []
    first_error: Exception | None = None
    for name, opener in candidates:
        try:
            model = opener()
        except (ModelLoadError, ExportUnavailable) as exc:
            first_error = first_error or exc
            failed.append(f"{name} could not open: {exc}")
            continue
        timed.append((timer(model), name, model))
    if not timed:
        if isinstance(first_error, ModelLoadError):
            raise first_error
        raise ModelLoadError(str(first_error))
    ms, name, model = min(timed, key=lambda t: t[0])
    others = ", ".join(f"{n} {t:.1f} ms" for t, n, _ in timed if n != name)
    reason = f"{name} (auto: fastest here, {ms:.1f} ms a face" + (f" against {others}" if others else "")
    reason += f", measured at load on {time.strftime('%Y-%m-%d')}" + ("; " + "; ".join(failed) if failed else "") + ")"
    return model, name, reason


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "-"


class RaceMemory:
    """Which engine won for a model on this machine (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / MEMORY_NAME

    @staticmethod
    def key(model_path: Path, device_preference: str) -> str | None:
        try:
            st = Path(model_path).resolve().stat()
        except OSError:
            return None
        versions = f"torch {_version('torch')}, onnxruntime {_version('onnxruntime')}"
        if _version("onnxruntime-gpu") != "-":  # the CUDA build installs under its own name
            versions += f", onnxruntime-gpu {_version('onnxruntime-gpu')}"
        machine = f"{cpu_model()} x{scoring_threads()}"
        return f"{Path(model_path).resolve()}|{st.st_size}|{st.st_mtime_ns}|{device_preference}|{machine}|{versions}"

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            k: v
            for k, v in data.items()
            if isinstance(k, str)
            and isinstance(v, dict)
            and v.get("engine") in ENGINES
            and isinstance(v.get("reason"), str)
            and len(v["reason"]) <= 400
        }

    def recall(self, key: str | None) -> tuple[str, str] | None:
        """(engine, reason) remembered for ``key``, or None."""
        entry = self._read().get(key) if key else None
        return (entry["engine"], entry["reason"]) if entry else None

    def remember(self, key: str | None, engine: str, reason: str) -> None:
        """Keeps the outcome (the newest MAX_ENTRIES); a folder that cannot be written is no error."""
        if not key or engine not in ENGINES:
            return
        entries = self._read()
        entries.pop(key, None)
        entries[key] = {"engine": engine, "reason": reason[:400]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(dict(list(entries.items())[-MAX_ENTRIES:]), indent=1))
        except OSError:
            pass
