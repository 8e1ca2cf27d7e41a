"""Which engine scores a model (PyTorch or ONNX Runtime) and the loaded model itself. No torch at import.

``auto`` opens the engines and keeps the one that scores fastest on this machine, measured at load
(:mod:`.race`: PyTorch on the chosen device against ONNX Runtime on the CPU and, where ``onnxruntime-gpu``
lists its CUDA provider and the device choice is not the CPU, ONNX Runtime on CUDA); ``torch`` and ``onnx``
force one (``onnx``: on the CPU). A ``.onnx`` file always runs in ONNX Runtime (on the CPU).
A ``.pt`` checkpoint runs in ONNX Runtime through an ONNX copy that computes what it does
(:mod:`.onnx_copies`): the ``.onnx`` beside it, else a copy exported once into the user's ONNX cache. Without torch (the lean bundle) only ``.onnx`` files can be used, and a checkpoint
is refused with a message that says how to export it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import BACKEND_CHOICES
from ..meta import ModelLoadError, ModelMeta
from ..scores import Scorer
from .onnx_copies import ExportUnavailable
from .onnx_scorer import cuda_listed

if TYPE_CHECKING:
    import torch


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (checked without importing it: torch takes seconds)."""
    return importlib.util.find_spec(module) is not None


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score: its file, metadata and scorer (on a device, in an engine), and why there."""

    path: Path
    meta: ModelMeta
    scorer: Scorer
    reason: str = ""

    @property
    def backend(self) -> str:
        return self.scorer.backend

    @property
    def device_type(self) -> str:
        return self.scorer.device_type

    def describe(self) -> str:
        return self.scorer.describe()

    @classmethod
    def load(cls, path: Path, device: torch.device | str = "cpu") -> "LoadedModel":
        """A checkpoint in PyTorch on ``device``; :class:`ModelLoadError` for an unusable file."""
        from ..model import load_checkpoint
        from .torch_scorer import LivenessScorer

        model, meta = load_checkpoint(path, device)
        return cls(Path(path), meta, LivenessScorer(model, device))

    @classmethod
    def open(
        cls, path: Path, device_preference: str = "auto", backend: str = "auto", cache_dir: Path | None = None
    ) -> "LoadedModel":
        """``path`` in the engine :func:`choose_backend` picks. Raises :class:`ModelLoadError` for an
        unusable file, including a load that fails on the device (out of GPU memory, ...)."""
        path = Path(path)
        engine, reason = choose_backend(path, backend, device_preference)
        if engine == "race":  # both engines can score it: the faster here, measured once and remembered
            return cls._open_fastest(path, device_preference, cache_dir)
        if engine == "onnx":
            try:
                return _open_onnx(path, reason, cache_dir)
            except ExportUnavailable as exc:
                if backend != "auto":
                    raise ModelLoadError(str(exc)) from None
                reason = f"PyTorch (auto: {exc})"  # the checkpoint itself is fine: score it in PyTorch
        return cls._open_torch(path, device_preference, reason)

    @classmethod
    def _open_fastest(cls, path: Path, device_preference: str, cache_dir: Path | None) -> "LoadedModel":
        from ... import paths
        from .race import ENGINES, RaceMemory, fastest

        openers = {
            ENGINES[0]: lambda: cls._open_torch(path, device_preference, ENGINES[0]),
            ENGINES[1]: lambda: _open_onnx(path, ENGINES[1], cache_dir),
        }
        if device_preference != "cpu" and cuda_listed():  # listed is not working: the opener finds out
            openers[ENGINES[2]] = lambda: _open_onnx(path, ENGINES[2], cache_dir, gpu=True)
        memory = RaceMemory(cache_dir or paths.onnx_cache_dir())
        key = memory.key(path, device_preference)
        model, remembered = None, memory.recall(key)
        if remembered is not None and remembered[0] in openers:  # not offered now (provider gone): measure
            name, why = remembered
            try:
                model = openers[name]()
            except (ModelLoadError, ExportUnavailable):
                model = None  # it opened before: measure them all again
        if model is None:
            model, name, why = fastest(list(openers.items()))
            memory.remember(key, name, why)
        return cls(model.path, model.meta, model.scorer, f"{why}; {model.reason}")

    @classmethod
    def _open_torch(cls, path: Path, device_preference: str, reason: str) -> "LoadedModel":
        from ..device import select_device

        device, why = select_device(device_preference)
        try:
            loaded = cls.load(path, device)
            if loaded.device_type == "cuda":  # the first frame must not pay for CUDA's lazy set-up
                from .race import warm_up

                warm_up(loaded)
        except (OSError, RuntimeError) as exc:  # ModelLoadError (a ValueError) passes through as it is
            raise ModelLoadError(f"could not load it on {device}: {type(exc).__name__}: {exc}") from exc
        return cls(loaded.path, loaded.meta, loaded.scorer, f"{reason}; {why}")


def choose_backend(path: Path, backend: str = "auto", device_preference: str = "auto") -> tuple[str, str]:
    """``(engine, reason)`` for scoring ``path``: "torch", "onnx", or "race" (both can: measure them at
    load, :mod:`.race`); :class:`ModelLoadError` when no installed engine can."""
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"backend must be one of {BACKEND_CHOICES}, got {backend!r}")
    has_torch, has_ort = installed("torch"), installed("onnxruntime")
    if Path(path).suffix.lower() == ".onnx":
        if not has_ort:
            raise ModelLoadError(f"{Path(path).name}: ONNX Runtime is not installed (pip install onnxruntime)")
        return "onnx", "ONNX Runtime (an ONNX file)" + (" although PyTorch was asked for" if backend == "torch" else "")
    if not has_torch:
        raise ModelLoadError(
            f"{Path(path).name} is a PyTorch checkpoint and this runtime has no PyTorch: it runs "
            "ONNX models only. Export it with `liveness-export --model FILE.pt --out FILE.onnx` "
            "in the full install, or use the full bundle"
        )
    if backend == "torch" or (backend == "onnx" and not has_ort):
        return "torch", "PyTorch" + (" (ONNX Runtime is not installed)" if backend == "onnx" else " (chosen)")
    if backend == "onnx":
        return "onnx", "ONNX Runtime (chosen)"
    if has_ort:
        return "race", "auto: the faster of PyTorch and ONNX Runtime here, measured at load"
    return "torch", "PyTorch (auto: ONNX Runtime is not installed)"


def require_checkpoint(path: Path, purpose: str) -> Path:
    """``path`` when it is a PyTorch checkpoint. An ONNX model scores but holds no weights to train from:
    for one, :class:`ModelLoadError` says so in one line and names the ``.pt`` to use instead (the one
    its export notes name, beside it). ``purpose``: what needs the weights, e.g. "fine-tuning (--init)"."""
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        return path
    raise ModelLoadError(
        f"{path} is an ONNX model: {purpose} needs PyTorch weights; use {_exported_from(path)} instead"
    )


def _exported_from(onnx_path: Path) -> str:
    """The checkpoint an ONNX export came from, as the user should name it."""
    from .onnx_scorer import read_onnx_meta

    try:
        source = read_onnx_meta(onnx_path)[1].get("source")
    except ModelLoadError:  # not one of ours: say what kind of file is wanted
        source = None
    # the notes are the file's word only: keep a plain .pt file name, beside the ONNX file
    name = Path(source).name if isinstance(source, str) and source.lower().endswith(".pt") else None
    candidate = onnx_path.parent / (name or onnx_path.with_suffix(".pt").name)
    if candidate.is_file():
        return f"{candidate} (the checkpoint it was exported from)" if name else f"{candidate}"
    if name:
        return f"the checkpoint it was exported from, {name} (not found beside it)"
    return "its .pt checkpoint (liveness-export writes an .onnx from a .pt)"


def cuda_available() -> bool:
    """A CUDA GPU PyTorch can use (False without torch: the lean runtime scores on the CPU)."""
    if not installed("torch"):
        return False
    import torch

    return torch.cuda.is_available()


def _open_onnx(path: Path, reason: str, cache_dir: Path | None, gpu: bool = False) -> LoadedModel:
    """``path`` in ONNX Runtime: an ``.onnx`` file itself; for a checkpoint, an ONNX copy of it that computes
    what it does (:mod:`.onnx_copies`: the ``.onnx`` beside it, else one exported into the cache). ``gpu``:
    on the CUDA provider, warmed up (:class:`.onnx_scorer.ProviderUnavailable` where it does not start)."""
    if path.suffix.lower() == ".onnx":
        from .onnx_scorer import load_onnx

        scorer, meta, _ = load_onnx(path, gpu=gpu)
        loaded = LoadedModel(path, meta, scorer, reason)
    else:
        from ... import paths
        from .onnx_copies import open_copy

        scorer, meta, source = open_copy(path, cache_dir or paths.onnx_cache_dir(), gpu=gpu)
        # the model is the checkpoint: settings (thresholds per camera, the last model) stay keyed to its path
        loaded = LoadedModel(path, meta, scorer, f"{reason}, {source.name}")
    if loaded.device_type == "cuda":  # as for PyTorch: cuDNN's algorithm search is paid at load, per shape
        from .onnx_scorer import ProviderUnavailable, first_line
        from .race import warm_up

        try:
            warm_up(loaded)
        except Exception as exc:  # ORT's own types (out of GPU memory, a cuDNN failure): the race passes over it
            raise ProviderUnavailable(
                f"{path.name}: ONNX Runtime on CUDA failed its first call ({first_line(exc)})"
            ) from None
    return loaded
