"""An ONNX file is checked before ONNX Runtime opens it in the app's process.

1. :func:`inspect_graph` reads the protobuf (with protobuf's own parser, through the few message fields
   declared here: the lean runtime ships no ``onnx`` package) and refuses a graph that names external
   data (ONNX Runtime would open that path, relative to the folder the app was started from), calls an
   operator outside :data:`ALLOWED_OPS` (no loops, conditionals, sequences or custom domains: a liveness
   network is a fixed pipeline of tensor operations), or defines functions.
2. :func:`trial_run` opens and runs the graph once in a child process under a time limit and, on Linux, a
   memory limit: a graph that never returns or swells to gigabytes is abandoned there, and the child
   killed. With ``reference`` (a ``.pt`` the graph claims to be an export of) the child also scores fixed
   inputs with the checkpoint in PyTorch and the outputs must agree: a derived file is trusted for what it
   computes, never for what it says about itself.
"""

from __future__ import annotations

import functools
import multiprocessing
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..meta import ModelLoadError

# Every operator in the graphs liveness-export writes (MobileNetV3-Large and V2, score and Grad-CAM), and
# the plain layers a compatible network may add. Nothing with a subgraph, a sequence or a loop.
ALLOWED_OPS = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Neg",
        "Abs",
        "Sqrt",
        "Pow",
        "Exp",
        "Log",
        "Reciprocal",
        "Min",
        "Max",
        "Relu",
        "LeakyRelu",
        "PRelu",
        "Clip",
        "Sigmoid",
        "HardSigmoid",
        "HardSwish",
        "Tanh",
        "Softmax",
        "Conv",
        "BatchNormalization",
        "Gemm",
        "MatMul",
        "GlobalAveragePool",
        "AveragePool",
        "MaxPool",
        "ReduceMax",
        "ReduceMean",
        "ReduceSum",
        "ReduceMin",
        "Reshape",
        "Flatten",
        "Squeeze",
        "Unsqueeze",
        "Transpose",
        "Concat",
        "Slice",
        "Gather",
        "Shape",
        "Expand",
        "Cast",
        "Identity",
        "Constant",
        "Where",
        "Less",
        "LessOrEqual",
        "Greater",
        "GreaterOrEqual",
        "Equal",
        "Not",
        "And",
        "Or",
        "Dropout",
        "Pad",
        "ConstantOfShape",  # a constant tensor of a given shape (HyperFAS's graph pads with one)
    }
)
TRIAL_TIMEOUT_S = 60.0  # the shipped graphs open and run in under a second; a busy CI machine is slower
REFERENCE_TIMEOUT_S = 240.0  # with the PyTorch comparison: importing torch alone takes seconds
TRIAL_MEMORY_BYTES = 4 * 2**30  # address space of the child while ONNX Runtime runs (about 0.4 GiB used)
# An export scores within 1e-6 of its checkpoint and draws its maps within 1e-5 (README, export); an
# untrained network's scores all sit near 0.5, so the maps are compared too.
SCORE_TOLERANCE, CAM_TOLERANCE = 1e-4, 1e-3
_aborts = [0]  # counted up by abort_trials(): a trial started before the latest count is abandoned
_aborts_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    """Message classes for the fields read here (numbers from onnx.proto3); unknown fields are skipped."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fields = {
        "Entry": [("key", 1, F.TYPE_STRING, False), ("value", 2, F.TYPE_STRING, False)],
        "Opset": [("domain", 1, F.TYPE_STRING, False)],
        "Tensor": [("external_data", 13, "Entry", True), ("data_location", 14, F.TYPE_INT32, False)],
        "Sparse": [("values", 1, "Tensor", False), ("indices", 2, "Tensor", False)],
        "Attribute": [
            ("t", 5, "Tensor", False),
            ("g", 6, "Graph", False),
            ("tensors", 10, "Tensor", True),
            ("graphs", 11, "Graph", True),
            ("sparse_tensor", 22, "Sparse", False),
            ("sparse_tensors", 23, "Sparse", True),
        ],
        "Node": [
            ("op_type", 4, F.TYPE_STRING, False),
            ("attribute", 5, "Attribute", True),
            ("domain", 7, F.TYPE_STRING, False),
        ],
        "Graph": [
            ("node", 1, "Node", True),
            ("initializer", 5, "Tensor", True),
            ("sparse_initializer", 15, "Sparse", True),
        ],
        "Function": [("name", 1, F.TYPE_STRING, False)],
        "Model": [
            ("graph", 7, "Graph", False),
            ("opset_import", 8, "Opset", True),
            ("metadata_props", 14, "Entry", True),
            ("functions", 25, "Function", True),
        ],
    }
    proto = descriptor_pb2.FileDescriptorProto(name="liveness_onnx_subset.proto", package="lsonnx", syntax="proto2")
    for name, specs in fields.items():
        message = proto.message_type.add(name=name)
        for field_name, number, kind, repeated in specs:
            f = message.field.add(
                name=field_name, number=number, label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
            )
            if isinstance(kind, str):
                f.type, f.type_name = F.TYPE_MESSAGE, f".lsonnx.{kind}"
            else:
                f.type = kind
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"lsonnx.{name}")) for name in fields}


@dataclass(frozen=True)
class GraphFacts:
    """What :func:`inspect_graph` read: the ``metadata_props`` entries."""

    metadata: dict[str, str]


def inspect_graph(data: bytes, name: str) -> GraphFacts:
    """The graph's metadata; :class:`ModelLoadError` for external data, an operator not allowed, a custom
    domain, functions, or bytes that are not an ONNX model."""
    from google.protobuf.message import DecodeError

    try:
        model = _schema()["Model"].FromString(data)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise ModelLoadError(f"{name}: not a readable ONNX model ({str(exc)[:120] or 'bad protobuf'})") from None
    if not model.HasField("graph"):
        raise ModelLoadError(f"{name}: not an ONNX model (no graph)")
    if model.functions:
        raise ModelLoadError(f"{name}: defines functions ({model.functions[0].name!r}); a liveness graph needs none")
    domains = {o.domain for o in model.opset_import} - {"", "ai.onnx"}
    if domains:
        raise ModelLoadError(
            f"{name}: uses operator domain(s) {sorted(domains)}; only the standard ONNX operators are allowed"
        )
    _check_graph(model.graph, name)
    return GraphFacts({e.key: e.value for e in model.metadata_props})


def _check_graph(graph: Any, name: str) -> None:
    for tensor in list(graph.initializer) + [t for s in graph.sparse_initializer for t in (s.values, s.indices)]:
        _check_tensor(tensor, name)
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in ALLOWED_OPS:
            op = f"{node.domain}.{node.op_type}" if node.domain else node.op_type
            raise ModelLoadError(
                f"{name}: uses the operator {op!r}, which a liveness graph does not need "
                "(loops, conditionals and custom operators are refused)"
            )
        for attr in node.attribute:
            if attr.HasField("g") or attr.graphs:
                raise ModelLoadError(f"{name}: the operator {node.op_type!r} carries a subgraph")
            tensors = [attr.t] if attr.HasField("t") else []
            tensors += list(attr.tensors) + [
                t for s in [attr.sparse_tensor, *attr.sparse_tensors] for t in (s.values, s.indices)
            ]
            for tensor in tensors:
                _check_tensor(tensor, name)


def _check_tensor(tensor: Any, name: str) -> None:
    if tensor.data_location == 1 or tensor.external_data:  # TensorProto.EXTERNAL
        where = next((e.value for e in tensor.external_data if e.key == "location"), "?")
        raise ModelLoadError(
            f"{name}: its weights point to external data ({where!r}); a model must be one "
            "self-contained file, so this one is refused unread"
        )


def trial_run(
    data: bytes, name: str, size: int, threads: int, reference: Path | None = None, timeout_s: float | None = None
) -> dict[str, Any] | None:
    """Open and run the graph in a child process (see the module docstring); :class:`ModelLoadError` when
    it fails, exceeds the limits, or (with ``reference``) does not compute what the checkpoint does.
    Returns the reference checkpoint's metadata (as a dict), or None without a reference."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or Qt state inherited
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_child,
        args=(send, data, size, threads, str(reference) if reference else None),
        name="onnx-trial",
        daemon=True,
    )
    limit = timeout_s or (REFERENCE_TIMEOUT_S if reference else TRIAL_TIMEOUT_S)
    started = _aborts[0]
    child.start()
    send.close()
    try:
        answer = _wait(receive, limit, started)
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if _aborts[0] != started:
        raise ModelLoadError(f"{name}: loading was cancelled (the app is closing)")
    if answer is None:
        raise ModelLoadError(f"{name}: the graph did not finish a trial run in {limit:.0f} s; refused")
    if answer[0] == "died":
        raise ModelLoadError(
            f"{name}: the trial run of the graph crashed or ran past "
            f"{TRIAL_MEMORY_BYTES / 2**30:.0f} GiB of memory (exit code {child.exitcode}); refused"
        )
    if answer[0] != "ok":
        raise ModelLoadError(f"{name}: {answer[1]}")
    return answer[1]


def _wait(receive: Any, limit: float, started: int) -> tuple[str, Any] | None:
    """The child's answer; None after ``limit`` seconds or once :func:`abort_trials` was called."""
    deadline = time.monotonic() + limit
    try:
        while _aborts[0] == started:
            if receive.poll(max(0.0, min(0.1, deadline - time.monotonic()))):
                return receive.recv()
            if time.monotonic() >= deadline:
                return None
    except EOFError:  # the child died without answering: killed by the memory limit, or crashed
        return ("died", None)
    return None


def abort_trials() -> None:
    """Abandon every trial run in flight (the app is closing): each raises :class:`ModelLoadError` within
    a tenth of a second and its child is killed. Trials started later run as usual."""
    with _aborts_lock:
        _aborts[0] += 1


def _limit_memory(soft: int | None) -> None:
    """Cap (or, with None, uncap) the address space of this process where the platform supports it."""
    if sys.platform != "linux":
        return  # macOS does not enforce RLIMIT_AS; Windows has no rlimit: the time limit still holds
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    target = hard if soft is None else (soft if hard == resource.RLIM_INFINITY else min(soft, hard))
    resource.setrlimit(resource.RLIMIT_AS, (target, hard))


def _child(conn: Any, data: bytes, size: int, threads: int, reference: str | None) -> None:
    """Child process: run the graph on a blank face and on fixed inputs, then compare with ``reference``."""
    try:
        _limit_memory(TRIAL_MEMORY_BYTES)
        outputs = _run_graph(data, size, threads)
        _limit_memory(None)  # the graph is gone; PyTorch maps several GiB of address space when imported
        conn.send(("ok", _compare(outputs, Path(reference), size) if reference is not None else None))
    except ModelLoadError as exc:
        conn.send(("refused", str(exc)))
    except MemoryError:
        conn.send(
            (
                "refused",
                f"the trial run of the graph needed more than {TRIAL_MEMORY_BYTES / 2**30:.0f} GiB of memory; refused",
            )
        )
    except Exception as exc:  # ORT's own error types: the graph cannot run
        conn.send(("refused", f"the graph fails on a trial input ({type(exc).__name__}: {str(exc)[:160]})"))
    finally:
        conn.close()


def fixed_inputs(size: int) -> np.ndarray:
    """A blank face and three seeded random ones in the normalised range: the same in every process."""
    noise = np.random.default_rng(20261204).uniform(-2.0, 2.0, (3, 3, size, size)).astype(np.float32)
    return np.concatenate([np.zeros((1, 3, size, size), np.float32), noise])


def _run_graph(data: bytes, size: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and maps of the fixed inputs, each checked to be probabilities and maps in [0, 1]."""
    import onnxruntime as ort

    from .onnx_scorer import check_io, check_outputs, session_options

    session = ort.InferenceSession(data, session_options(threads), providers=["CPUExecutionProvider"])
    check_io(session, size)
    scores, cams = [], []
    for x in fixed_inputs(size):  # one at a time: the batch dimension may be fixed at 1
        score, cam = session.run(["score", "cam"], {"input": x[None], "threshold": np.asarray([0.5], np.float32)})
        check_outputs(score, cam, 1)
        scores.append(np.asarray(score).reshape(-1)[0])
        cams.append(np.asarray(cam)[0])
    return np.asarray(scores), np.asarray(cams)


def _compare(outputs: tuple[np.ndarray, np.ndarray], reference: Path, size: int) -> dict[str, Any]:
    """The checkpoint's metadata, when the graph's outputs are the checkpoint's (else ModelLoadError)."""
    import torch

    from ..model import load_checkpoint
    from .onnx_export import ScoreAndCam

    model, meta = load_checkpoint(reference, "cpu")
    with torch.no_grad():
        scores, cams = ScoreAndCam(model)(torch.from_numpy(fixed_inputs(size)), torch.tensor([0.5]))
    worst = (
        float(np.max(np.abs(scores.numpy() - outputs[0]))),
        float(np.max(np.abs(cams.numpy() - outputs[1]))) if cams.shape == outputs[1].shape else float("inf"),
    )
    if not (worst[0] <= SCORE_TOLERANCE and worst[1] <= CAM_TOLERANCE):
        raise ModelLoadError(
            f"its scores and maps differ from {reference.name}'s (by up to {worst[0]:.2g} and "
            f"{worst[1]:.2g}) on fixed inputs: it is not an export of that checkpoint"
        )
    return meta.to_dict()
