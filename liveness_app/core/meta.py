"""What a model file says about its model, apart from the weights: read, checked, written. No torch.

Both kinds of model file carry the same metadata: a PyTorch checkpoint (:mod:`.model`) as plain entries
of its dict, an ONNX graph (:mod:`.onnx_backend`) as one JSON entry of its ``metadata_props``. Everything
here treats it as untrusted: every field is checked where it is read, and :class:`ModelLoadError` says
which one is bad. Importing this module does not import torch, so the lean (ONNX Runtime) app can use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .preprocess import PreprocessSpec
from .sessions import LIVE


class ModelLoadError(ValueError):
    """A model or weights file that cannot be used: unreadable, not ours, or not matching its metadata."""


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
            raise ModelLoadError(
                f"unsupported architecture {data.get('arch')!r}; supported: {', '.join(ARCHITECTURES)}"
            )
        try:
            spec = PreprocessSpec.from_dict(data["preprocessing"])
            threshold = _probability(data["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"bad preprocessing or threshold metadata: {exc}") from exc
        class_names = data.get("class_names", list(CLASS_NAMES))
        if (
            not isinstance(class_names, (list, tuple))
            or len(class_names) != 2
            or not all(isinstance(c, str) for c in class_names)
        ):
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


def data_summary(training: dict[str, Any], groups_shown: int = 3, limit: int = 400) -> str:
    """What a model says it was trained on, in one line: per split the samples, labels and groups (a few
    named), and the files skipped; never the per-group table or the skipped-file list (kilobytes).

    The metadata comes from a file: a summary not shaped as ``liveness-train`` writes it is shown as text,
    cut to ``limit`` characters.
    """
    data = training.get("data") if isinstance(training, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("train"), dict):
        text = "not recorded" if data in (None, "", {}) else str(data)
        return text if len(text) <= limit else text[: limit - 1] + "…"
    parts = []
    for split in ("train", "dev", "test"):
        part = _split_summary(split, data.get(split), data.get(f"{split}_groups"), groups_shown)
        if part:
            parts.append(part)
    skipped = data.get("skipped")
    if isinstance(skipped, int) and not isinstance(skipped, bool) and skipped:
        parts.append(f"{skipped:,} file(s) skipped")
    text = "; ".join(parts) or "not recorded"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _split_summary(split: str, info: Any, named: Any, groups_shown: int) -> str:
    """'dev: 8,074 samples (live 4,260, replay 3,233) from 8 groups (a, b, c and 5 more)', or ''."""
    if not isinstance(info, dict) or not _count(info.get("samples")):
        return ""
    labels = info.get("per_label")
    per_label = ", ".join(f"{k} {v:,}" for k, v in labels.items() if _count(v)) if isinstance(labels, dict) else ""
    groups = info.get("per_group")
    names = [str(g) for g in (named if isinstance(named, list) else groups if isinstance(groups, dict) else [])]
    n_groups = info.get("groups") if _count(info.get("groups")) else len(names)
    text = f"{split}: {info['samples']:,} samples" + (f" ({per_label})" if per_label else "")
    if n_groups:
        shown = ", ".join(names[:groups_shown]) + (
            f" and {len(names) - groups_shown} more" if len(names) > groups_shown else ""
        )
        text += f" from {n_groups} group{'s' if n_groups != 1 else ''}" + (f" ({shown})" if shown else "")
    return text


def _count(value: Any) -> bool:
    """A positive whole number (metadata counts; a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
