"""The pieces one training step and one run are made of, shared by :func:`training.fit.loop.fit` and
:mod:`training.fit.refit`: the loss, the epoch's data loader, one epoch of steps, precise BN, the L2-SP pull
and the set-up of model, weight average, optimizer and schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from torchvision.ops import sigmoid_focal_loss

from liveness_app.core.model import LivenessNet, build_model, load_checkpoint
from training.config import TrainConfig, spec_of
from training.data.augment import AugmentConfig
from training.data.feed import EpochBatches, TrainFeed
from training.data.frames import CropDataset, Entry, balanced_weights
from training.data.store import DecodedStore
from training.fit.checkpoint import load_pretrained
from training.fit.distill import kd_loss
from training.fit.distributed import SINGLE, Dist, balanced_share
from training.fit.events import TrainEvent
from training.fit.sync_bn import BN_TYPES
from training.teachers.matching import Matched, MatchedDataset, Matcher


def loss_fn(logits: torch.Tensor, targets: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    if cfg.label_smoothing:
        targets = targets * (1 - cfg.label_smoothing) + 0.5 * cfg.label_smoothing
    if cfg.loss == "focal":
        return sigmoid_focal_loss(logits, targets, alpha=cfg.focal_alpha, gamma=cfg.focal_gamma, reduction="mean")
    return F.binary_cross_entropy_with_logits(logits, targets)


def loader_for(
    entries: Sequence[Entry],
    cfg: TrainConfig,
    train: bool,
    epoch: int,
    extra: float,
    dist: Dist = SINGLE,
    matched: Matched | None = None,
    feed: TrainFeed | None = None,
    store: DecodedStore | None = None,
) -> DataLoader | EpochBatches:
    """Training: this rank's part of the epoch's balanced sample (all of it for one process); else all
    ``entries`` in order. With ``matched`` (function matching: the face sources and the teachers' specs),
    training batches also carry each teacher's view of the same augmented frame (only the entries whose
    frame and box are known are drawn). Otherwise training batches come from the run's ``feed`` (its
    persistent workers; the input already on the device) when it has the entries' crops, and crops are
    read from the decoded ``store`` where it has them."""
    if train and matched is None and feed is not None and feed.covers(entries):
        return feed.epoch(entries, epoch, _balanced_sample(entries, cfg, epoch, dist))
    ds: CropDataset | MatchedDataset
    if train and matched is not None:
        sources, teachers = matched
        entries = [e for e in entries if e.crop_path in sources]
        augment_cfg = AugmentConfig.from_overrides(cfg.augment)
        ds = MatchedDataset(
            entries, sources, spec_of(cfg), teachers, cfg.frames_per_video, cfg.seed, epoch, augment_cfg
        )
    else:
        ds = CropDataset(
            entries,
            spec_of(cfg),
            extra,
            train=train,
            seed=cfg.seed,
            epoch=epoch,
            augment_cfg=AugmentConfig.from_overrides(cfg.augment),
            synth_attacks=cfg.synth_attacks,
            store=store,
        )
    sampler = _balanced_sample(entries, cfg, epoch, dist) if train else None
    pin = cfg.device != "cpu" and torch.cuda.is_available()  # page-locked batches: async copies to the GPU
    return DataLoader(
        ds,
        batch_size=cfg.batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=cfg.workers,
        persistent_workers=False,
        drop_last=False,
        pin_memory=pin,
    )


def _balanced_sample(entries: Sequence[Entry], cfg: TrainConfig, epoch: int, dist: Dist) -> list[int]:
    n = cfg.epoch_size or len(entries)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)  # the same on every rank
    return balanced_share(balanced_weights(entries), n, gen, dist.rank, dist.world_size)


def train_feed(
    cfg: TrainConfig,
    items: Sequence,
    extra: float,
    device: torch.device,
    store: DecodedStore | None,
    batched: bool | None = None,
) -> TrainFeed:
    """The training loader of a run over the crops of ``items`` (cached items): persistent workers;
    ``batched`` None: augmentation on batches on a GPU, per crop on a CPU (:class:`TrainFeed`)."""
    return TrainFeed(
        [p for item in items for p in item.crop_paths],
        store,
        spec_of(cfg),
        extra,
        AugmentConfig.from_overrides(cfg.augment),
        synth_attacks=cfg.synth_attacks,
        seed=cfg.seed,
        batch_size=cfg.batch_size,
        workers=cfg.workers,
        device=device,
        batched=batched,
    )


def ema_warmup_fn(decay: float):
    """EMA update whose decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates n (timm's
    ModelEmaV3 warmup), so that the average of a short run (a few hundred steps on a user's recordings)
    is not dominated by the first, untrained weights."""

    @torch.no_grad()
    def update(ema_params: list[torch.Tensor], params: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        n = float(num_averaged)
        weight = 1.0 - min(decay, (1.0 + n) / (10.0 + n))
        torch._foreach_lerp_(ema_params, params, weight)  # what torch's own EMA function uses

    return update


def train_one_epoch(
    model: torch.nn.Module,
    loader: DataLoader | EpochBatches,
    opt: torch.optim.Optimizer,
    cfg: TrainConfig,
    device: torch.device,
    epoch: int,
    ema: AveragedModel | None = None,
    penalty: Callable[[], torch.Tensor | float] | None = None,
    teacher: torch.nn.Module | None = None,
    matcher: Matcher | None = None,
) -> Iterator[TrainEvent]:
    """Yields a "batch" event per step; the last event's metrics hold the mean loss (without ``penalty``,
    a regulariser added to each step's loss). With a ``teacher``, the loss mixes the labels' term with
    the distillation of its soft scores (``kd_weight``, ``kd_temperature``); with a ``matcher`` (batches
    that carry the teachers' views), the external teachers score the very views the student sees, after
    the same mixup."""
    model.train()
    total, count = 0.0, 0
    use_amp = cfg.amp and device.type == "cuda"
    entries = getattr(loader.dataset, "entries", [])
    soft_on = any(e.soft >= 0 for e in entries)
    for step, batch in enumerate(loader, 1):
        x, y, index = batch[:3]
        matched_soft = None
        if matcher is not None and len(batch) > 3:
            x, y, views = matcher.mix(x, y.float(), batch[3])
            matched_soft = matcher.soft(views).to(device)
        x = x.to(device, memory_format=torch.channels_last, non_blocking=True)
        y = y.to(device, dtype=torch.float32, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            logits = model(x).squeeze(1)
        loss = loss_fn(logits.float(), y, cfg)
        if matched_soft is not None:
            t_logits = torch.logit(matched_soft.clamp(1e-4, 1 - 1e-4))
            loss = (1 - cfg.kd_weight) * loss + cfg.kd_weight * kd_loss(logits.float(), t_logits, cfg.kd_temperature)
        elif soft_on:
            loss = (1 - cfg.kd_weight) * loss + cfg.kd_weight * soft_target_loss(logits.float(), y, index, entries, cfg)
        if teacher is not None:
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                t_logits = teacher(x).squeeze(1)
            loss = (1 - cfg.kd_weight) * loss + cfg.kd_weight * kd_loss(
                logits.float(), t_logits.float(), cfg.kd_temperature
            )
        opt.zero_grad(set_to_none=True)
        (loss + penalty() if penalty is not None else loss).backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(model)
        total += loss.item() * len(y)
        count += len(y)
        yield TrainEvent("batch", epoch, cfg.epochs, step, len(loader), metrics={"loss": total / count})


def soft_target_loss(
    logits: torch.Tensor, y: torch.Tensor, index: torch.Tensor, entries: Sequence[Entry], cfg: TrainConfig
) -> torch.Tensor:
    """The distillation term against the external teachers' combined P(live) of each crop (``Entry.soft``),
    over the crops that have one and whose label the augmentation kept (a live crop turned into a
    simulated attack has no teacher score)."""
    soft = torch.tensor([entries[int(i)].soft for i in index], dtype=torch.float32, device=logits.device)
    kept = torch.tensor([entries[int(i)].target for i in index], device=logits.device) == y
    mask = (soft >= 0) & kept
    if not bool(mask.any()):
        return logits.sum() * 0.0
    t_logits = torch.logit(soft[mask].clamp(1e-4, 1 - 1e-4))
    return kd_loss(logits[mask], t_logits, cfg.kd_temperature)


@torch.no_grad()
def refresh_bn_stats(
    model: torch.nn.Module,
    entries: Sequence[Entry],
    cfg: TrainConfig,
    device: torch.device,
    extra: float,
    max_images: int = 1024,
    store: DecodedStore | None = None,
) -> None:
    """Precise BN (as in pycls): recompute BatchNorm running statistics as plain averages over a seeded
    sample of un-augmented training crops, so that eval-mode outputs match what was trained even after
    few steps (short runs on a user's own recordings)."""
    bns = [m for m in model.modules() if isinstance(m, BN_TYPES)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    rng = np.random.default_rng(cfg.seed)
    subset = [entries[i] for i in rng.permutation(len(entries))[:max_images]]
    model.train()
    for x, _, _ in loader_for(subset, cfg, False, 0, extra, store=store):
        model(x.to(device, memory_format=torch.channels_last))
    for m, momentum in zip(bns, saved):
        m.momentum = momentum


def l2sp_penalty(model: torch.nn.Module, weight: float) -> Callable[[], torch.Tensor | float]:
    """L2-SP: ``weight`` x the squared distance of the trainable weights from where they started, so a
    few minutes of one person's data move the model only as far as they must."""
    pairs = [(p, p.detach().clone()) for p in model.parameters() if p.requires_grad]
    return lambda: weight * sum(((p - p0) ** 2).sum() for p, p0 in pairs)


def build_run(
    cfg: TrainConfig, device: torch.device
) -> tuple[LivenessNet, AveragedModel | None, torch.optim.Optimizer, Any]:
    """The model (``init`` or ``--pretrained`` weights loaded, the first ``freeze_blocks`` frozen), its
    weight EMA, optimizer (over the trainable weights) and LR scheduler."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, lbp_grid=cfg.lbp_grid, spec=spec_of(cfg))
    if cfg.init:
        model.load_state_dict(load_checkpoint(Path(cfg.init))[0].state_dict())
    for block in list(model.features)[: cfg.freeze_blocks]:
        block.requires_grad_(False)
    model = model.to(device).to(memory_format=torch.channels_last)
    for m in model.modules():
        # torchvision's MobileNetV3 uses BN momentum 0.01 (tuned for long ImageNet schedules): after a few
        # hundred steps from scratch the running statistics are still near their init, and the model in
        # eval mode outputs an almost constant score. 0.1 tracks the batch statistics within ~50 steps.
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = cfg.bn_momentum
    if cfg.pretrained:
        load_pretrained(model, Path(cfg.pretrained))
    # Weight EMA (as in timm's ModelEmaV3): evaluated, calibrated and exported instead of the raw weights;
    # its BatchNorm statistics come from the precise-BN pass below, not from the averaged buffers.
    ema = None
    if cfg.ema_decay:
        avg = ema_warmup_fn(cfg.ema_decay) if cfg.ema_warmup else get_ema_multi_avg_fn(cfg.ema_decay)
        ema = AveragedModel(model, multi_avg_fn=avg)
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2)
    return model, ema, opt, sched
