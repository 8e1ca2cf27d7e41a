"""The ONNX Runtime backend: a graph written by :mod:`.onnx_export` scores and draws Grad-CAM with no torch.

The file is untrusted like any model: it is read into memory and checked before ONNX Runtime opens it in
this process (:mod:`.onnx_inspect`: no external data, only the operators a liveness network needs;
:mod:`.onnx_guard`: a trial run in a child process under time and memory limits), its metadata as :class:`.meta.ModelMeta` checks a
checkpoint's, its inputs and outputs by name and shape. Every score it gives later is checked to be a
probability. Any failure is a :class:`.meta.ModelLoadError` that names the file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..cpu import scoring_threads
from ..meta import ModelLoadError, ModelMeta
from ..scores import ScoreOutput
from .onnx_guard import trial_run
from .onnx_inspect import inspect_graph

META_KEY = "liveness_studio"  # where :mod:`.onnx_export` puts the metadata (the same name there)
INPUTS = ("input", "threshold")
OUTPUTS = ("score", "cam")
MAX_BYTES = 512 * 2**20  # the shipped models are 9-17 MB; a bigger "model" is refused unread
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


class ProviderUnavailable(ModelLoadError):
    """The graph is fine but the execution provider asked for does not run here (CUDA libraries missing):
    not a reason to distrust the file or to export it again."""


class OnnxScorer:
    """P(live) and Grad-CAM from one ONNX Runtime session (CPU, or CUDA where its provider runs it), built
    once, reused."""

    backend = "onnx"

    def __init__(self, session: Any) -> None:
        self.session = session
        self.threads = session.get_session_options().intra_op_num_threads
        # the provider that runs the graph, not the one asked for: ORT falls back to the CPU silently
        self.device_type = "cuda" if session.get_providers()[0] == CUDA else "cpu"

    def describe(self) -> str:
        if self.device_type == "cuda":
            return "cuda (ONNX Runtime)"
        return f"cpu x{self.threads} (ONNX Runtime)"

    def __call__(self, batch: np.ndarray, with_cam: bool = False, threshold: float = 0.5) -> ScoreOutput:
        """Score an NCHW float32 batch; the graph computes the map with the score (a few per cent of it)."""
        t0 = time.perf_counter()
        feed = {
            "input": np.ascontiguousarray(batch, dtype=np.float32),
            "threshold": np.asarray([threshold], dtype=np.float32),
        }
        wanted = list(OUTPUTS) if with_cam else ["score"]
        outputs = self.session.run(wanted, feed)
        ms = (time.perf_counter() - t0) * 1e3
        return ScoreOutput(outputs[0].astype(np.float32), outputs[1] if with_cam else None, {"model": ms})


def session_options(threads: int | None = None) -> Any:
    """One intra-op thread per :func:`.cpu.scoring_threads` (the capture thread needs the other core),
    full graph optimisation, and ONNX Runtime's own log kept to errors."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or scoring_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first line of an engine's error, for a one-line message (ORT's own errors run to many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


def cuda_listed() -> bool:
    """Whether this ONNX Runtime build lists its CUDA provider (``onnxruntime-gpu``); it may still fail to
    start one (CUDA or cuDNN libraries missing), which :func:`load_onnx_bytes` with ``gpu`` finds out."""
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return CUDA in ort.get_available_providers()


def load_onnx(
    path: Path, threads: int | None = None, reference: Path | None = None, gpu: bool = False
) -> tuple[OnnxScorer, ModelMeta, dict[str, Any]]:
    """Scorer, metadata and the graph's own export notes (``source_sha256``, ...) for a Liveness Studio
    ONNX file; :class:`ModelLoadError` for anything else. ``reference``: the checkpoint this file must be an
    export of (its outputs are compared with the checkpoint's in the trial run). ``gpu``: run it with ONNX
    Runtime's CUDA provider, or :class:`ProviderUnavailable` where that provider does not start."""
    path = Path(path)
    return load_onnx_bytes(read_model_bytes(path), path.name, threads, reference, gpu)


def read_onnx_meta(path: Path) -> tuple[ModelMeta, dict[str, Any]]:
    """Metadata and export notes (``source``, ``source_sha256``) of a Liveness Studio ONNX file, read and
    checked as :func:`load_onnx` reads them, without running the graph; :class:`ModelLoadError` otherwise."""
    path = Path(path)
    return _metadata(path, inspect_graph(read_model_bytes(path), path.name).metadata)


def read_model_bytes(path: Path) -> bytes:
    """The bytes of an ONNX file (read once: what is checked, hashed and run is the same);
    :class:`ModelLoadError` for a missing file or one over :data:`MAX_BYTES`."""
    if not path.is_file():
        raise ModelLoadError(f"{path.name}: no such file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ModelLoadError(f"{path.name}: {size / 2**20:.0f} MiB is too big for a liveness model")
    return path.read_bytes()


def load_onnx_bytes(
    data: bytes, name: str, threads: int | None = None, reference: Path | None = None, gpu: bool = False
) -> tuple[OnnxScorer, ModelMeta, dict[str, Any]]:
    """:func:`load_onnx` for a graph already read into memory; ``name`` is the file's, for messages. The
    checks (and the trial run) are the CPU's whatever ``gpu`` says: what is trusted does not depend on it."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelLoadError(f"{name}: ONNX Runtime is not installed (pip install onnxruntime)") from None
    meta, notes = _metadata(Path(name), inspect_graph(data, name).metadata)
    size, threads = meta.preprocessing.input_size, threads or scoring_threads()
    own = trial_run(data, name, size, threads, reference)  # a child process: a hostile graph is abandoned there
    if reference is not None and own is not None and _plain_meta(ModelMeta.from_dict(own)) != _plain_meta(meta):
        raise ModelLoadError(
            f"{name}: its metadata (threshold {meta.threshold:.3f}, model {meta.name!r}) is "
            f"not {reference.name}'s: it is not an export of that checkpoint"
        )
    try:
        session = ort.InferenceSession(data, session_options(threads), providers=[CUDA, CPU] if gpu else [CPU])
        check_io(session, size)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{name}: {exc}") from None
    except Exception as exc:  # ORT raises its own types (InvalidProtobuf, Fail, ...): all mean unusable
        first = first_line(exc)
        if gpu:  # the trial run on the CPU passed: it is the provider that failed, not the file
            raise ProviderUnavailable(f"{name}: ONNX Runtime's CUDA provider could not open it ({first})") from None
        raise ModelLoadError(f"{name}: not a readable ONNX model ({first})") from None
    if gpu and session.get_providers()[0] != CUDA:  # ORT falls back to the CPU without a word
        raise ProviderUnavailable(
            f"{name}: ONNX Runtime's CUDA provider did not start (CUDA or cuDNN libraries missing?); "
            f"it would run on {session.get_providers()[0]}"
        )
    return OnnxScorer(session), meta, notes


def _plain_meta(meta: ModelMeta) -> dict[str, Any]:
    """Metadata as JSON would carry it (tuples as lists), for comparing a checkpoint's with its export's; the
    display name aside (an unnamed model is named after its file)."""
    return {k: v for k, v in json.loads(json.dumps(meta.to_dict(), default=str)).items() if k != "name"}


def _metadata(path: Path, props: dict[str, str]) -> tuple[ModelMeta, dict[str, Any]]:
    if META_KEY not in props:
        raise ModelLoadError(
            f"{path.name}: an ONNX model, but not a Liveness Studio one (no '{META_KEY}' "
            "metadata); export checkpoints with liveness-export"
        )
    try:
        data = json.loads(props[META_KEY])
    except (ValueError, RecursionError) as exc:
        raise ModelLoadError(f"{path.name}: its metadata is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path.name}: its metadata is a {type(data).__name__}, not a mapping")
    try:
        meta = ModelMeta.from_dict(data)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{path.name}: {exc}") from None
    notes = data.get("onnx", {})
    if not isinstance(notes, dict):
        raise ModelLoadError(f"{path.name}: metadata 'onnx' must be a mapping")
    if not meta.name:
        meta = ModelMeta(**{**meta.__dict__, "name": path.stem})
    return meta, notes


def check_io(session: Any, size: int) -> None:
    """Inputs and outputs as :mod:`.onnx_export` writes them: a foreign graph with the right names fails here
    (and in the trial run of :mod:`.onnx_guard`), not in the middle of the stream."""
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    if set(inputs) != set(INPUTS) or set(outputs) != set(OUTPUTS):
        raise ModelLoadError(
            f"inputs {sorted(inputs)} and outputs {outputs} are not {list(INPUTS)} and {list(OUTPUTS)}"
        )
    if list(inputs["input"][1:]) != [3, size, size]:
        raise ModelLoadError(
            f"input shape {inputs['input']} does not match its preprocessing (N x 3 x {size} x {size})"
        )


def check_outputs(score: Any, cam: Any, n: int) -> None:
    """``n`` probabilities and ``n`` maps in [0, 1]; :class:`ModelLoadError` for anything else."""
    ok = (
        np.shape(score) == (n,)
        and np.ndim(cam) == 3
        and np.shape(cam)[0] == n
        and np.all(np.isfinite(score))
        and float(np.min(score)) >= 0.0
        and float(np.max(score)) <= 1.0
        and np.all(np.isfinite(cam))
        and float(np.min(cam)) >= 0.0
        and float(np.max(cam)) <= 1.0 + 1e-5
    )
    if not ok:
        raise ModelLoadError(
            f"on a trial input the graph gives score shape {np.shape(score)} and map shape "
            f"{np.shape(cam)}, not {n} probabilities and maps in [0, 1]"
        )
