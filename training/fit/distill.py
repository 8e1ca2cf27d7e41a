"""ImageNet knowledge into a backbone that has none: feature distillation from an ImageNet teacher.

No ImageNet MobileNetV3-Large weights can be had here, but torchvision's ImageNet MobileNetV2 can
(``scripts/fetch_imagenet_weights.py``). Before the liveness training, :func:`distill_backbone` trains the
student's feature extractor to reproduce the teacher's features on the run's own training crops (labels
unused, the usual augmentation on): through a 1x1-convolution projection, the cosine distance between
student and teacher at every location of the last feature map, plus that of the pooled embeddings
(FitNets-style hint learning, Romero et al. 2015; embedding matching as in CRD's baselines). Only the
training split is seen, so a cross-validation fold never distils on its test groups.

:func:`kd_loss` is the other kind: during the liveness training, the student also learns the soft scores
of a trained liveness model (``--teacher``, e.g. the ImageNet MobileNetV2 trained on the same split).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from liveness_app.core.backends.factory import require_checkpoint
from liveness_app.core.model import LivenessNet, build_model, load_checkpoint
from liveness_app.core.weights import ModelLoadError
from training.config import TrainConfig
from training.fit.checkpoint import load_pretrained
from training.fit.distributed import SINGLE, Dist
from training.fit.events import TrainEvent

TEACHER_ARCH = "mobilenet_v2"


def load_teacher(path: Path, device: torch.device) -> LivenessNet:
    """The ImageNet MobileNetV2 backbone (frozen, eval mode); ModelLoadError for a file that is not one."""
    teacher = build_model(TEACHER_ARCH)
    load_pretrained(teacher, Path(path))
    teacher.eval().requires_grad_(False)
    return teacher.to(device).to(memory_format=torch.channels_last)


def _cosine_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """1 - cosine similarity along the channel axis (dim 1), averaged over everything else."""
    return (1.0 - F.cosine_similarity(student, teacher, dim=1)).mean()


def distillation_loss(student_map: torch.Tensor, teacher_map: torch.Tensor, proj: nn.Module) -> torch.Tensor:
    """Spatial hint loss plus pooled-embedding loss, the student's map projected to the teacher's width
    (and resized to its grid when the two differ)."""
    projected = proj(student_map)
    if projected.shape[-2:] != teacher_map.shape[-2:]:
        projected = F.interpolate(projected, size=teacher_map.shape[-2:], mode="bilinear", align_corners=False)
    spatial = _cosine_distance(projected, teacher_map)
    pooled = _cosine_distance(projected.mean(dim=(2, 3)), teacher_map.mean(dim=(2, 3)))
    return spatial + pooled


def distill_backbone(
    student: LivenessNet,
    teacher: LivenessNet,
    loaders: Sequence,
    cfg: TrainConfig,
    device: torch.device,
    dist: Dist = SINGLE,
) -> Iterator[TrainEvent]:
    """Train ``student.features`` (in place) to match ``teacher.features``; one loader per epoch. Under
    torchrun (``dist``) each rank's loader holds its part of the crops, and the ranks start from rank 0's
    weights and average their gradients, as DDP would (this stage runs before the model is wrapped).

    Yields "batch" events (``phase`` "distil"); the last one's metrics hold the epoch's mean loss.
    """
    proj = nn.Conv2d(student.embed_dim, teacher.embed_dim, kernel_size=1).to(device)
    params = list(student.features.parameters()) + list(proj.parameters())
    dist.broadcast_tensors(params)
    opt = torch.optim.AdamW(params, lr=cfg.distill_lr, weight_decay=cfg.weight_decay)
    student.train()
    epochs = len(loaders)
    for epoch, loader in enumerate(loaders, 1):
        total, count = 0.0, 0
        for step, (x, _, _) in enumerate(loader, 1):
            x = x.to(device, memory_format=torch.channels_last, non_blocking=True)
            with torch.no_grad():
                target = teacher.features(x).float()
            loss = distillation_loss(student.features(x).float(), target, proj)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            dist.average_gradients(params)
            opt.step()
            total, count = total + loss.item() * len(x), count + len(x)
            yield TrainEvent("batch", epoch, epochs, step, len(loader), metrics={"loss": total / count}, phase="distil")
        yield TrainEvent(
            "epoch",
            epoch,
            epochs,
            message=f"distillation epoch {epoch}/{epochs}: loss {total / max(count, 1):.4f} ({count} crops)",
            metrics={"distill_loss": total / max(count, 1)},
            phase="distil",
        )


# --- Knowledge distillation from a trained liveness model (Hinton et al. 2015, binary form) ---------------


def load_liveness_teacher(path: Path, spec, device: torch.device) -> LivenessNet:
    """A trained liveness model to learn soft scores from (frozen, eval mode). It must see faces exactly
    as the student does: a different preprocessing is refused (ModelLoadError for a bad file)."""
    teacher, meta = load_checkpoint(require_checkpoint(Path(path), "distilling from it (--teacher)"), device)
    if meta.preprocessing != spec:
        raise ModelLoadError(
            f"{Path(path).name}: the teacher's preprocessing ({meta.preprocessing}) is not the "
            f"run's ({spec}); train both at the same input size, margin and normalisation"
        )
    teacher.eval().requires_grad_(False)
    return teacher.to(device).to(memory_format=torch.channels_last)


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Binary cross-entropy of the student's softened score against the teacher's, times T^2 so that the
    term's gradient keeps its size whatever the temperature."""
    soft = torch.sigmoid(teacher_logits / temperature)
    return F.binary_cross_entropy_with_logits(student_logits / temperature, soft) * temperature**2
