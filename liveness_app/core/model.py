"""MobileNetV3-Large liveness classifier and its self-describing checkpoint.

A checkpoint is a ``torch.save``'d dict of plain types and tensors only, so it loads with
``torch.load(weights_only=True)``: no arbitrary object is ever unpickled. It carries everything the app
needs to use the model the way it was trained (nanoGPT's ``model_args``, timm's data config):

``format``, ``arch``, ``model_args``, ``preprocessing`` (input size, crop margin, mean, std),
``threshold``, ``class_names``, ``score`` (what the score means), ``training`` (recipe and data summary),
``metrics``, ``state_dict``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import mobilenet_v2, mobilenet_v3_large

from .files import atomic_write
from .preprocess import IMAGENET_MEAN, IMAGENET_STD, PreprocessSpec
from .sessions import LIVE
from .texture import LBPHistograms
from .weights import ModelLoadError, describe_state_mismatch, read_weights_only

FORMAT = "liveness-studio/1"
ARCHITECTURES = ("mobilenet_v3_large", "mobilenet_v2")
CLASS_NAMES = ("spoof", LIVE)


@dataclass(frozen=True)
class ModelMeta:
    """Everything a checkpoint says about its model, apart from the weights."""

    arch: str
    preprocessing: PreprocessSpec
    threshold: float = 0.5
    model_args: dict[str, Any] = field(default_factory=dict)
    class_names: tuple[str, ...] = CLASS_NAMES
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "arch": self.arch,
            "model_args": dict(self.model_args),
            "preprocessing": self.preprocessing.to_dict(),
            "threshold": float(self.threshold),
            "class_names": list(self.class_names),
            "score": "probability that the face is live (sigmoid of the single logit)",
            "training": self.training,
            "metrics": self.metrics,
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelMeta":
        """Metadata read from a file (untrusted): every field is checked; ModelLoadError says which is bad."""
        if data.get("format") != FORMAT:
            raise ModelLoadError(f"not a Liveness Studio model (format {data.get('format')!r}, expected {FORMAT!r})")
        if data.get("arch") not in ARCHITECTURES:
            raise ModelLoadError(f"unsupported architecture {data.get('arch')!r}; supported: {', '.join(ARCHITECTURES)}")
        try:
            spec = PreprocessSpec.from_dict(data["preprocessing"])
            threshold = _probability(data["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"bad preprocessing or threshold metadata: {exc}") from exc
        class_names = data.get("class_names", list(CLASS_NAMES))
        if not isinstance(class_names, (list, tuple)) or len(class_names) != 2 or \
                not all(isinstance(c, str) for c in class_names):
            raise ModelLoadError(f"class_names must be two names, got {class_names!r}")
        if not isinstance(data.get("name", ""), str):
            raise ModelLoadError("the model's name must be text")
        return cls(
            arch=data["arch"],
            preprocessing=spec,
            threshold=threshold,
            model_args=check_model_args(data.get("model_args", {})),
            class_names=tuple(class_names),
            training=_mapping(data, "training"),
            metrics=_mapping(data, "metrics"),
            name=data.get("name", ""),
        )


# Construction arguments a checkpoint may carry: name -> (type, lowest, highest). Checked before the network
# is built, because a huge lbp_grid asks for gigabytes before anything else fails.
MODEL_ARGS: dict[str, tuple[type, float, float]] = {"dropout": (float, 0.0, 0.95), "lbp_grid": (int, 0, 8)}


def check_model_args(args: Any) -> dict[str, Any]:
    """``model_args`` of a checkpoint, each known, of its type and in its range; ModelLoadError otherwise."""
    if not isinstance(args, dict):
        raise ModelLoadError(f"model_args must be a mapping, got {type(args).__name__}")
    unknown = sorted(set(args) - set(MODEL_ARGS))
    if unknown:
        raise ModelLoadError(f"unknown model_args {unknown}; known: {', '.join(MODEL_ARGS)}")
    checked: dict[str, Any] = {}
    for name, value in args.items():
        kind, low, high = MODEL_ARGS[name]
        ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is int:
            ok_type = ok_type and float(value).is_integer()
        if not ok_type or not math.isfinite(value) or not low <= value <= high:
            raise ModelLoadError(f"model_args {name}={value!r} must be a {kind.__name__} in {low:g}..{high:g}")
        checked[name] = kind(value)
    return checked


def _probability(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"threshold must be a number, got {value!r}")
    if not 0.0 <= float(value) <= 1.0:  # NaN fails this too
        raise ValueError(f"threshold {value} is not a probability")
    return float(value)


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ModelLoadError(f"metadata {key!r} must be a mapping, got {type(value).__name__}")
    return dict(value)


def _backbone(arch: str, dropout: float) -> tuple[nn.Module, nn.Sequential]:
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

    def __init__(self, dropout: float = 0.2, lbp_grid: int = 0, mean: tuple[float, ...] = IMAGENET_MEAN,
                 std: tuple[float, ...] = IMAGENET_STD, arch: str = "mobilenet_v3_large") -> None:
        super().__init__()
        self.arch = arch
        self.model_args = {"dropout": dropout, "lbp_grid": lbp_grid}  # what a checkpoint stores to rebuild it
        self.features, self.classifier = _backbone(arch, dropout)
        # width of the pooled CNN features: 960 (MobileNetV3-Large), 1280 (MobileNetV2)
        self.embed_dim = next(m for m in self.classifier if isinstance(m, nn.Linear)).in_features
        self.texture: LBPHistograms | None = None
        if lbp_grid:
            self.texture = LBPHistograms(mean, std, lbp_grid)
            self.texture_proj = nn.Sequential(nn.LayerNorm(self.texture.out_dim),
                                              nn.Linear(self.texture.out_dim, self.TEXTURE_DIM), nn.Hardswish())
            index = next(i for i, m in enumerate(self.classifier) if isinstance(m, nn.Linear))
            first = self.classifier[index]
            self.classifier[index] = nn.Linear(first.in_features + self.TEXTURE_DIM, first.out_features)
            for layer in (self.texture_proj[1], self.classifier[index]):  # torchvision's MobileNetV3 init
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


def build_model(arch: str = "mobilenet_v3_large", dropout: float = 0.2, lbp_grid: int = 0,
                spec: PreprocessSpec | None = None) -> LivenessNet:
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
    with atomic_write(path, permissions=0o644) as handle:  # a model is meant to be shared
        torch.save(payload, handle)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The raw checkpoint dict, weights-only: a pickle with any object in it is refused."""
    data = read_weights_only(Path(path), f"{Path(path).name}: not a readable weights-only checkpoint")
    if not isinstance(data, dict) or "state_dict" not in data:
        raise ModelLoadError(f"{Path(path).name}: not a Liveness Studio model (no metadata/state_dict)")
    return data


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, ModelMeta]:
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
        raise ModelLoadError(f"{Path(path).name}: the weights are a {type(state).__name__}, not a mapping "
                             "of names to tensors")
    problem = describe_state_mismatch(model.state_dict(), state)
    if problem:
        raise ModelLoadError(f"{Path(path).name}: weights do not match {meta.arch}: {problem}")
    model.load_state_dict(state, strict=True)
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ModelLoadError(f"{Path(path).name}: {len(bad)} weight tensor(s) hold NaN or infinity "
                             f"(first: {bad[0]}); the file is damaged or the training diverged")
    return model.to(device).eval(), meta


def _plain(obj: Any) -> Any:
    """Metadata as plain JSON types (numpy scalars, paths and tuples converted), so that the file stays
    loadable with ``weights_only=True``."""
    def convert(value: Any) -> Any:
        if hasattr(value, "item"):  # numpy / torch scalar
            return value.item()
        return str(value)

    return json.loads(json.dumps(obj, default=convert))
