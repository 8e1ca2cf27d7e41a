"""A checkpoint as an ONNX graph that scores and explains: outputs ``score`` (P(live), N) and ``cam``
(Grad-CAM in [0, 1], N x h x w at feature resolution); inputs ``input`` (N x 3 x S x S, the model's
preprocessing) and ``threshold`` (1 value: which decision the map explains).

Grad-CAM needs the gradient of the logit with respect to the last feature map. The app takes it with
autograd through the classifier head only (:class:`.scorer.LivenessScorer`); that head is a global average
pool and a few Linear / Hardswish / Dropout layers, so the same gradient is written here as plain forward
operations (chain rule layer by layer, back to front), which ONNX Runtime runs with no autograd. A test
checks both against each other and against ONNX Runtime.

The model's metadata (:class:`.meta.ModelMeta`: preprocessing, threshold, class names, training and data
summary) travels as one JSON entry of the graph's ``metadata_props`` (:data:`META_KEY`), with the SHA-256
of the checkpoint it came from, so a converted copy can be matched to its source.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..files import atomic_write, file_sha256
from ..model import LivenessNet, _plain, load_checkpoint
from .onnx_scorer import INPUTS, META_KEY, OUTPUTS

OPSET = 18


class ExportError(RuntimeError):
    """The model could not be written as ONNX (an unsupported layer, the exporter failing)."""


def hardswish_slope(x: torch.Tensor) -> torch.Tensor:
    """d hardswish(x) / dx exactly as PyTorch's backward computes it: 0 below -3, x/3 + 1/2 up to 3, 1 above."""
    return torch.where(x < -3.0, torch.zeros_like(x), torch.where(x <= 3.0, x / 3.0 + 0.5, torch.ones_like(x)))


def head_input_gradient(classifier: nn.Sequential, z: torch.Tensor) -> torch.Tensor:
    """d logit / d z (N x D) for the classifier head, from forward operations only (eval mode: dropout is
    the identity). Raises ExportError for a layer whose derivative is not written here."""
    forward = {
        nn.Linear: lambda layer, h: layer(h),
        nn.Hardswish: lambda layer, h: F.hardswish(h),
        nn.ReLU: lambda layer, h: F.relu(h),
        nn.Dropout: lambda layer, h: h,
        nn.Identity: lambda layer, h: h,
    }
    inputs = []
    h = z
    for layer in classifier:
        if type(layer) not in forward:
            raise ExportError(f"no derivative written for a {type(layer).__name__} in the classifier head")
        inputs.append(h)
        h = forward[type(layer)](layer, h)  # not the layer itself: torchvision's Hardswish is in-place
    grad = torch.ones_like(h)  # d logit / d logit, N x 1
    for layer, x in zip(reversed(classifier), reversed(inputs)):
        if isinstance(layer, nn.Linear):
            grad = grad @ layer.weight
        elif isinstance(layer, nn.Hardswish):
            grad = grad * hardswish_slope(x)
        elif isinstance(layer, nn.ReLU):
            grad = grad * (x > 0).to(grad.dtype)
    return grad


def head_cam(
    model: LivenessNet,
    features: torch.Tensor,
    texture: torch.Tensor | None,
    logits: torch.Tensor,
    threshold: torch.Tensor,
) -> torch.Tensor:
    """Grad-CAM of the decision taken (the live logit when P(live) >= threshold, else its negative), from
    forward operations: the map :class:`.scorer.LivenessScorer` computes with autograd."""
    n, channels, height, width = features.shape
    grad_embed = head_input_gradient(model.classifier, model.embed(features, texture))
    # the pooled features are the first `channels` inputs of the head; pooling spreads each one's
    # gradient evenly over the map, so the spatial mean of d logit / d features is that / (h * w)
    weights = grad_embed[:, :channels] / float(height * width)
    sign = torch.where(torch.sigmoid(logits) >= threshold, 1.0, -1.0)
    cam = F.relu((weights[:, :, None, None] * sign[:, None, None, None] * features).sum(dim=1))
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-8)
    return cam / peak[:, None, None]


class ScoreAndCam(nn.Module):
    """What the ONNX graph computes: (P(live), Grad-CAM) from a batch and a threshold."""

    def __init__(self, model: LivenessNet) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, x: torch.Tensor, threshold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.features(x)
        texture = self.model.texture_features(x)
        logits = self.model.head(features, texture)
        return torch.sigmoid(logits), head_cam(self.model, features, texture, logits, threshold)


def export_onnx(checkpoint: Path, out: Path, source_sha256: str | None = None) -> dict:
    """Write ``checkpoint`` (a Liveness Studio ``.pt``) as ONNX at ``out``, atomically; returns the metadata
    written. ModelLoadError for an unusable checkpoint, ExportError if the graph cannot be written.
    ``source_sha256``: the checkpoint's hash when the caller has it already (else it is computed)."""
    checkpoint, out = Path(checkpoint), Path(out)
    model, meta = load_checkpoint(checkpoint, "cpu")
    if model.texture is not None:
        raise ExportError(
            f"{checkpoint.name}: models with colour-LBP fusion (lbp_grid > 0) cannot be "
            "exported: their histogram step has no ONNX equivalent"
        )
    size = meta.preprocessing.input_size
    example = (torch.zeros(2, 3, size, size), torch.tensor([meta.threshold], dtype=torch.float32))
    metadata = _plain(
        {
            **meta.to_dict(),
            "onnx": {
                "inputs": list(INPUTS),
                "outputs": list(OUTPUTS),
                "source": checkpoint.name,
                "source_sha256": source_sha256 or file_sha256(checkpoint),
            },
        }
    )
    batch = torch.export.Dim("batch", min=1, max=64)
    try:
        # the exporter prints its progress and warns about its own internals: neither is the user's business
        with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                ScoreAndCam(model),
                example,
                dynamo=True,
                opset_version=OPSET,
                input_names=list(INPUTS),
                output_names=list(OUTPUTS),
                dynamic_shapes=({0: batch}, None),
                external_data=False,
                verbose=False,
                optimize=True,
            )
    except Exception as exc:  # the exporter raises many types; all mean "this model cannot be exported"
        # torch's message runs to a page of advice; its first line and its summary say what broke
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        summary = [line for line in lines if line.startswith("<class ")]  # "<class 'X'>: what went wrong"
        why = " ... ".join(dict.fromkeys(lines[:1] + summary[-1:]))
        raise ExportError(f"{checkpoint.name}: the ONNX exporter failed: {type(exc).__name__}: {why}"[:600]) from exc
    assert program is not None  # None only from the old exporter (dynamo=False)
    proto = program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(metadata)
    proto.doc_string = f"Liveness Studio model {meta.name}: outputs P(live) and Grad-CAM"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, permissions=0o644) as handle:
        handle.write(proto.SerializeToString())
    return metadata
