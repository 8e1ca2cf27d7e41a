"""Fakes the test layers share: a small untrained model in the real checkpoint format, a tiny labelled
image set, a CI-sized training configuration. Imported by test modules as ``studio_fakes`` (the tests
folder is on the path through its conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch

from liveness_app.core.model import ModelMeta, build_model, save_checkpoint
from liveness_app.core.preprocess import PreprocessSpec

if TYPE_CHECKING:
    from training.config import TrainConfig


def make_checkpoint(path: Path, input_size: int = 64, threshold: float = 0.5, seed: int = 0, name: str = "") -> Path:
    """A small untrained model in the real checkpoint format (64 px input keeps tests fast)."""
    torch.manual_seed(seed)
    spec = PreprocessSpec(input_size, 0.25, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    meta = ModelMeta(
        arch="mobilenet_v3_large",
        preprocessing=spec,
        threshold=threshold,
        name=name,
        training={"data": "none: untrained test model"},
    )
    save_checkpoint(path, build_model(), meta)
    return path


def tiny_dataset(root: Path, per_class: int = 12, groups: int = 4) -> Path:
    """Pre-cropped faces stand-ins: live = smooth warm gradient, print = the same with a halftone grid."""
    rng = np.random.default_rng(0)
    for g in range(groups):
        for label in ("live", "print"):
            folder = root / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                img = np.zeros((80, 80, 3), np.float32)
                img[..., 2] = np.linspace(120, 220, 80)[None, :] + rng.normal(0, 4, (80, 80))
                img[..., 1] = 110 + 20 * g
                img[..., 0] = 90
                if label == "print":
                    img[::4, :] *= 0.4
                    img[:, ::4] *= 0.4
                cv2.imwrite(str(folder / f"subj{g}_{i}.png"), np.clip(img, 0, 255).astype(np.uint8))
    (root / "print" / "subj0_broken.png").write_bytes(b"not an image")
    return root


def tiny_train_config(tmp_path: Path, data: Path, **kw) -> "TrainConfig":
    """A CI-sized run on :func:`tiny_dataset` (32 px, 3 epochs, no DataLoader processes)."""
    from training.config import TrainConfig

    base = dict(
        data=(f"cropped:{data}",),
        out_dir=str(tmp_path / "run"),
        name="tiny-run",
        input_size=32,
        epochs=3,
        batch_size=16,
        lr=3e-3,
        workers=0,
        dev_groups=("subj3",),
        patience=5,
        cache_dir=str(tmp_path / "cache"),
        loss="bce",
    )
    return TrainConfig(**{**base, **kw})


TINY_TEACHER_SPEC = {
    "name": "tiny",
    "file": "tiny.onnx",
    "crop": {"rule": "reflect_square", "scale": 1.5},
    "size": 32,
    "colour": "rgb",
    "scaling": {"offset": 0.0, "divisor": 255.0},
    "output": {"kind": "logit_pair", "live_index": 0},
    "threshold": 0.5,
}


def tiny_teacher(folder: Path) -> Path:
    """An external-model stand-in: ``folder/tiny.onnx``, (N, 3, 32, 32) -> (N, 2) logits [live, attack] =
    [mean red - 0.5, 0] (a face with more red is more live), and its spec ``folder/tiny.json`` (returned)."""
    import json

    from onnx import TensorProto, helper

    weights = helper.make_tensor("w", TensorProto.FLOAT, [3, 2], [1, 0, 0, 0, 0, 0])
    bias = helper.make_tensor("b", TensorProto.FLOAT, [2], [-0.5, 0])
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Gemm", ["flat", "w", "b"], ["output"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, 32, 32])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 2])],
        [weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.onnx").write_bytes(model.SerializeToString())
    (folder / "tiny.json").write_text(json.dumps(TINY_TEACHER_SPEC))
    return folder / "tiny.json"


def session_entry(sid: str, file: str, **extra: Any) -> dict[str, Any]:
    """A valid complete live session of ``ann`` in a recordings manifest, whose video is ``file``; ``extra``
    overrides any field."""
    fields = {"id": sid, "file": file, "label": "live", "subject": "ann", "fps": 30.0, "frames": 3}
    return {**fields, "duration_s": 0.1, "date": "2026-01-01T00:00:00+00:00", "status": "complete", **extra}
