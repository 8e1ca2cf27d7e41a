"""One external liveness model in ONNX Runtime: faces in, P(live) out.

The file is checked before ONNX Runtime opens it: its SHA-256 against the spec's (when the spec gives
one) and its graph by the app's own guard (:func:`liveness_app.core.backends.onnx_inspect.inspect_graph`:
standard operators only, no external data, no subgraphs). Its outputs are read the spec's way
(:func:`p_live`) and checked to be probabilities.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from liveness_app.core.backends.onnx_inspect import inspect_graph
from liveness_app.core.face import FaceBox
from liveness_app.core.meta import ModelLoadError
from training.teachers.crops import teacher_input
from training.teachers.spec import TeacherSpec

BATCH = 64


def p_live(output: np.ndarray, spec: TeacherSpec) -> np.ndarray:
    """P(live) per row of the model's raw output, read as ``spec.output`` says."""
    out = np.asarray(output, dtype=np.float64).reshape(len(output), -1)
    if spec.live_index >= out.shape[1]:
        raise ModelLoadError(f"{spec.name}: output has {out.shape[1]} column(s), live index is {spec.live_index}")
    if spec.output == "logit_pair":
        if out.shape[1] != 2:
            raise ModelLoadError(f"{spec.name}: a logit pair needs 2 output columns, got {out.shape[1]}")
        diff = out[:, spec.live_index] - out[:, 1 - spec.live_index]
        p = 1.0 / (1.0 + np.exp(-np.clip(diff, -60, 60)))
    else:  # "softmax" (one column of a probability row) or "probability" (P(live) itself)
        p = out[:, spec.live_index]
    if not np.all(np.isfinite(p)) or p.min(initial=0.0) < -1e-6 or p.max(initial=0.0) > 1 + 1e-6:
        raise ModelLoadError(
            f"{spec.name}: outputs are not probabilities (e.g. {float(p.flat[0]):.4g}); check the spec's output kind"
        )
    return np.clip(p, 0.0, 1.0)


class TeacherModel:
    """A spec and its ONNX graph, ready to score faces (``threads`` ONNX Runtime threads, CPU)."""

    def __init__(self, spec: TeacherSpec, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        self.spec = spec
        data = Path(path).read_bytes()
        self.sha256 = hashlib.sha256(data).hexdigest()
        if spec.sha256 and spec.sha256 != self.sha256:
            raise ModelLoadError(
                f"{spec.name}: {Path(path).name} is not the file the spec names "
                f"(SHA-256 {self.sha256[:12]}..., expected {spec.sha256[:12]}...)"
            )
        inspect_graph(data, Path(path).name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def score_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """P(live) for a stack of prepared inputs (N, 3, size, size)."""
        outs = [
            self.session.run(None, {self.input_name: inputs[i : i + BATCH]})[0] for i in range(0, len(inputs), BATCH)
        ]
        return p_live(np.concatenate(outs) if outs else np.zeros((0, 1)), self.spec)

    def score_faces(self, faces: Sequence[tuple[np.ndarray, FaceBox]]) -> np.ndarray:
        """P(live) of each (frame, face box), each cut with the model's own crop."""
        if not faces:
            return np.zeros(0)
        return self.score_inputs(np.stack([teacher_input(frame, box, self.spec) for frame, box in faces]))
