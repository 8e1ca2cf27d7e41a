"""MobileNetV3-Large liveness classifier and its self-describing checkpoint.

A checkpoint is a ``torch.save``'d dict of plain types and tensors only, so it loads with
``torch.load(weights_only=True)``: no arbitrary object is ever unpickled. It carries everything the app
needs to use the model the way it was trained (nanoGPT's ``model_args``, timm's data config):

``format``, ``arch``, ``model_args``, ``preprocessing`` (input size, crop margin, mean, std),
``threshold``, ``class_names``, ``score`` (what the score means), ``training`` (recipe and data summary),
``metrics``, ``state_dict``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import mobilenet_v2, mobilenet_v3_large

from .files import atomic_write
from .meta import ARCHITECTURES, CLASS_NAMES, FORMAT, MODEL_ARGS, ModelLoadError, ModelMeta, check_model_args
from .preprocess import IMAGENET_MEAN, IMAGENET_STD, PreprocessSpec
from .texture import LBPHistograms
from .weights import describe_state_mismatch, read_weights_only

# The metadata lives in .meta (no torch there, for the lean runtime); re-exported for existing callers.
__all__ = [
    "ARCHITECTURES",
    "CLASS_NAMES",
    "FORMAT",
    "MODEL_ARGS",
    "LivenessNet",
    "ModelLoadError",
    "ModelMeta",
    "build_model",
    "check_model_args",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]


def _backbone(arch: str, dropout: float) -> tuple[nn.Sequential, nn.Sequential]:
    """torchvision's features and classifier (one output) for ``arch``, randomly initialised."""
    if arch == "mobilenet_v3_large":
        base = mobilenet_v3_large(weights=None, num_classes=1, dropout=dropout)
    elif arch == "mobilenet_v2":
        base = mobilenet_v2(weights=None, num_classes=1, dropout=dropout)
    else:
        raise ValueError(f"unsupported architecture {arch!r}; supported: {', '.join(ARCHITECTURES)}")
    return base.features, base.classifier


class LivenessNet(nn.Module):
    """A MobileNet with one logit (live vs spoof), optionally fused with colour-LBP texture features.

    ``arch``: MobileNetV3-Large (the shipped model: pooled 960-d features into torchvision's two-layer
    classifier) or MobileNetV2 (pooled 1280-d features into one linear layer: the architecture whose
    ImageNet weights are to be had offline). With ``lbp_grid`` > 0 a 128-d projection of the LBP histograms
    of :mod:`.texture` joins the pooled features. Without LBP the parameter names are exactly torchvision's
    (``features.*``, ``classifier.*``), so ImageNet weights load by name.
    """

    TEXTURE_DIM = 128

    def __init__(
        self,
        dropout: float = 0.2,
        lbp_grid: int = 0,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
        arch: str = "mobilenet_v3_large",
    ) -> None:
        super().__init__()
        self.arch = arch
        self.model_args = {"dropout": dropout, "lbp_grid": lbp_grid}  # what a checkpoint stores to rebuild it
        self.features, self.classifier = _backbone(arch, dropout)
        # width of the pooled CNN features: 960 (MobileNetV3-Large), 1280 (MobileNetV2)
        self.embed_dim = next(m for m in self.classifier if isinstance(m, nn.Linear)).in_features
        self.texture: LBPHistograms | None = None
        if lbp_grid:
            self.texture = LBPHistograms(mean, std, lbp_grid)
            proj = nn.Linear(self.texture.out_dim, self.TEXTURE_DIM)
            self.texture_proj = nn.Sequential(nn.LayerNorm(self.texture.out_dim), proj, nn.Hardswish())
            index, first = next((i, m) for i, m in enumerate(self.classifier) if isinstance(m, nn.Linear))
            fused = nn.Linear(first.in_features + self.TEXTURE_DIM, first.out_features)
            self.classifier[index] = fused
            for layer in (proj, fused):  # torchvision's MobileNetV3 init
                nn.init.normal_(layer.weight, 0, 0.01)
                nn.init.zeros_(layer.bias)

    def texture_features(self, x: torch.Tensor) -> torch.Tensor | None:
        """The projected texture vector of an input batch, or None without LBP fusion."""
        if self.texture is None:
            return None
        return self.texture_proj(self.texture(x).sqrt())  # Hellinger (square-root) histogram mapping

    def embed(self, features: torch.Tensor, texture: torch.Tensor | None) -> torch.Tensor:
        """The vector the classifier sees: pooled CNN features (+ texture)."""
        pooled = F.adaptive_avg_pool2d(features, 1).flatten(1)
        return pooled if texture is None else torch.cat([pooled, texture.to(pooled.dtype)], dim=1)

    def head(self, features: torch.Tensor, texture: torch.Tensor | None) -> torch.Tensor:
        """Logits (N,) from the last feature map (and texture vector): what Grad-CAM differentiates."""
        return self.classifier(self.embed(features, texture)).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x), self.texture_features(x)).unsqueeze(1)


def build_model(
    arch: str = "mobilenet_v3_large", dropout: float = 0.2, lbp_grid: int = 0, spec: PreprocessSpec | None = None
) -> LivenessNet:
    """A randomly initialised liveness model; ``spec`` gives the input normalisation the LBP branch undoes."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unsupported architecture {arch!r}")
    check_model_args({"dropout": dropout, "lbp_grid": lbp_grid})
    norm = {"mean": tuple(spec.mean), "std": tuple(spec.std)} if spec is not None else {}
    return LivenessNet(dropout=dropout, lbp_grid=lbp_grid, arch=arch, **norm)


def save_checkpoint(path: Path, model: nn.Module, meta: ModelMeta) -> None:
    """Write a checkpoint atomically (:func:`.files.atomic_write`): a crash never leaves half a model."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = _plain(meta.to_dict())
    payload["state_dict"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_torch(path, payload, permissions=0o644)  # a model is meant to be shared


def save_torch(path: Path, payload: Any, permissions: int | None = None) -> None:
    """``torch.save`` through the atomic writer. Serialised in memory first: written straight to a full
    disk, torch fails with its own "enforce fail at inline_container.cc" error, where the writer says
    that the disk is full, and where (:class:`.files.DiskFullError`)."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_write(Path(path), permissions=permissions) as handle:
        handle.write(buffer.getbuffer())


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The raw checkpoint dict, weights-only: a pickle with any object in it is refused."""
    data = read_weights_only(Path(path), f"{Path(path).name}: not a readable weights-only checkpoint")
    if not isinstance(data, dict) or "state_dict" not in data:
        raise ModelLoadError(f"{Path(path).name}: not a Liveness Studio model (no metadata/state_dict)")
    return data


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[LivenessNet, ModelMeta]:
    """Model (eval mode, on ``device``) and its metadata; :class:`ModelLoadError` for any bad file.

    Everything is checked before use: the metadata (ranges included) before the network is built, then
    that the weights are tensors, match the network key by key and shape by shape, and are finite.
    """
    data = read_checkpoint(path)
    try:
        meta = ModelMeta.from_dict(data)
    except ModelLoadError as exc:  # say which file: the message box and the log show it
        raise ModelLoadError(f"{Path(path).name}: {exc}") from None
    if not meta.name:
        meta = ModelMeta(**{**meta.__dict__, "name": Path(path).stem})
    model = build_model(meta.arch, spec=meta.preprocessing, **meta.model_args)
    state = data["state_dict"]
    if not isinstance(state, dict):
        raise ModelLoadError(
            f"{Path(path).name}: the weights are a {type(state).__name__}, not a mapping of names to tensors"
        )
    problem = describe_state_mismatch(model.state_dict(), state)
    if problem:
        raise ModelLoadError(f"{Path(path).name}: weights do not match {meta.arch}: {problem}")
    model.load_state_dict(state, strict=True)
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ModelLoadError(
            f"{Path(path).name}: {len(bad)} weight tensor(s) hold NaN or infinity "
            f"(first: {bad[0]}); the file is damaged or the training diverged"
        )
    return model.to(device).eval(), meta


def _plain(obj: Any) -> Any:
    """Metadata as plain JSON types (numpy scalars, paths and tuples converted), so that the file stays
    loadable with ``weights_only=True``."""

    def convert(value: Any) -> Any:
        if hasattr(value, "item"):  # numpy / torch scalar
            return value.item()
        return str(value)

    return json.loads(json.dumps(obj, default=convert))
