"""What an ONNX file declares, read before anything runs it: step 1 of the checks in :mod:`.onnx_guard`.

:func:`inspect_graph` reads the protobuf with protobuf's own parser, through the few message fields declared
here (the lean runtime ships no ``onnx`` package), and refuses a graph that names external data (ONNX
Runtime would open that path, relative to the folder the app was started from), calls an operator outside
:data:`ALLOWED_OPS` (no loops, conditionals, sequences or custom domains: a liveness network is a fixed
pipeline of tensor operations), or defines functions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

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
