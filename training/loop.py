"""Training: ``fit()`` is a generator of progress events that the CLI (tqdm) and the app (progress bar
with cancel) both consume. Stopping the iteration (``close()``) cancels the run; the best checkpoint
written so far stays on disk.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from torchvision.ops import sigmoid_focal_loss

from liveness_app.core.device import select_device, use_training_threads
from liveness_app.core.model import ModelMeta, build_model, load_checkpoint, read_checkpoint

from . import metrics as M
from .augment import AugmentConfig
from .checkpoint import load_pretrained, load_state, restore_state, save_state
from .config import TrainConfig
from .distributed import SINGLE, Dist, balanced_share
from .distill import distill_backbone, kd_loss, load_liveness_teacher, load_teacher
from .events import TrainEvent
from .frames import CropDataset, Entry, balanced_weights, epoch_entries, eval_entries, limit_per_group
from .outputs import export_best, install, spec_of, summary
from .prepare import PreparedData, prepare_data
from .scoring import score_entries
from .sync_bn import BN_TYPES


DISTILL_SEED_OFFSET = 10_000  # the distillation's epochs draw other frames and augmentations than training's


def loss_fn(logits: torch.Tensor, targets: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    if cfg.label_smoothing:
        targets = targets * (1 - cfg.label_smoothing) + 0.5 * cfg.label_smoothing
    if cfg.loss == "focal":
        return sigmoid_focal_loss(logits, targets, alpha=cfg.focal_alpha, gamma=cfg.focal_gamma, reduction="mean")
    return F.binary_cross_entropy_with_logits(logits, targets)


def _loader(entries: Sequence[Entry], cfg: TrainConfig, train: bool, epoch: int, extra: float,
            dist: Dist = SINGLE) -> DataLoader:
    """Training: this rank's part of the epoch's balanced sample (all of it for one process); else all
    ``entries`` in order."""
    ds = CropDataset(entries, spec_of(cfg), extra, train=train, seed=cfg.seed, epoch=epoch,
                     augment_cfg=AugmentConfig.from_overrides(cfg.augment), synth_attacks=cfg.synth_attacks)
    sampler = None
    if train:
        n = cfg.epoch_size or len(entries)
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)  # the same on every rank
        sampler = balanced_share(balanced_weights(entries), n, gen, dist.rank, dist.world_size)
    pin = cfg.device != "cpu" and torch.cuda.is_available()  # page-locked batches: async copies to the GPU
    return DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, shuffle=False, num_workers=cfg.workers,
                      persistent_workers=False, drop_last=False, pin_memory=pin)


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


def train_one_epoch(model: torch.nn.Module, loader: DataLoader, opt: torch.optim.Optimizer, cfg: TrainConfig,
                    device: torch.device, epoch: int, ema: AveragedModel | None = None,
                    penalty: Callable[[], torch.Tensor] | None = None,
                    teacher: torch.nn.Module | None = None) -> Iterator[TrainEvent]:
    """Yields a "batch" event per step; the last event's metrics hold the mean loss (without ``penalty``,
    a regulariser added to each step's loss). With a ``teacher``, the loss mixes the labels' term with
    the distillation of its soft scores (``kd_weight``, ``kd_temperature``)."""
    model.train()
    total, count = 0.0, 0
    use_amp = cfg.amp and device.type == "cuda"
    for step, (x, y, _) in enumerate(loader, 1):
        x = x.to(device, memory_format=torch.channels_last, non_blocking=True)
        y = y.to(device, dtype=torch.float32, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            logits = model(x).squeeze(1)
        loss = loss_fn(logits.float(), y, cfg)
        if teacher is not None:
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                t_logits = teacher(x).squeeze(1)
            loss = (1 - cfg.kd_weight) * loss + cfg.kd_weight * kd_loss(logits.float(), t_logits.float(),
                                                                          cfg.kd_temperature)
        opt.zero_grad(set_to_none=True)
        (loss + penalty() if penalty is not None else loss).backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(model)
        total += loss.item() * len(y)
        count += len(y)
        yield TrainEvent("batch", epoch, cfg.epochs, step, len(loader), metrics={"loss": total / count})


@torch.no_grad()
def refresh_bn_stats(model: torch.nn.Module, entries: Sequence[Entry], cfg: TrainConfig, device: torch.device,
                     extra: float, max_images: int = 1024) -> None:
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
    for x, _, _ in _loader(subset, cfg, False, 0, extra):
        model(x.to(device, memory_format=torch.channels_last))
    for m, momentum in zip(bns, saved):
        m.momentum = momentum


def evaluate(model: torch.nn.Module, entries: Sequence[Entry], cfg: TrainConfig, device: torch.device,
             extra: float, threshold: float | None = None, dist: Dist = SINGLE) -> tuple[dict[str, Any], np.ndarray]:
    """Frame- and video-level metrics; with no threshold given, the dev EER threshold is used. Scored as
    the app scores (:mod:`.scoring`: fp32), so the exported threshold fits the app's numbers. Under
    torchrun each rank scores a part and every rank gets all the scores (and so the same metrics)."""
    scores = dist.gather_scores(lambda part: score_entries(model, spec_of(cfg), part, device, extra, cfg.batch_size,
                                                           workers=cfg.workers)[0], entries)
    labels = [e.label for e in entries]
    if threshold is None:
        threshold = M.calibrate(scores, labels)["eer_threshold"] or 0.5
    result = M.compute_all(scores, labels, threshold, video_ids=[e.video_id for e in entries])
    return result, scores


def adopt_base(cfg: TrainConfig) -> TrainConfig:
    """With ``init``: the base model's architecture, construction arguments and preprocessing replace the
    config's, so the fine-tuned model sees faces exactly as the base did (a bad file: ModelLoadError)."""
    if not cfg.init:
        return cfg
    meta = ModelMeta.from_dict(read_checkpoint(Path(cfg.init)))
    spec = meta.preprocessing
    return replace(cfg, arch=meta.arch, lbp_grid=int(meta.model_args.get("lbp_grid", 0)),
                   input_size=spec.input_size, crop_margin=spec.crop_margin, mean=tuple(spec.mean),
                   std=tuple(spec.std))


def l2sp_penalty(model: torch.nn.Module, weight: float) -> Callable[[], torch.Tensor]:
    """L2-SP: ``weight`` x the squared distance of the trainable weights from where they started, so a
    few minutes of one person's data move the model only as far as they must."""
    pairs = [(p, p.detach().clone()) for p in model.parameters() if p.requires_grad]
    return lambda: weight * sum(((p - p0) ** 2).sum() for p, p0 in pairs)


def build_run(cfg: TrainConfig, device: torch.device
              ) -> tuple[torch.nn.Module, AveragedModel | None, torch.optim.Optimizer, Any]:
    """The model (``init`` or ``--pretrained`` weights loaded, the first ``freeze_blocks`` frozen), its
    weight EMA, optimizer (over the trainable weights) and LR scheduler."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, lbp_grid=cfg.lbp_grid, spec=spec_of(cfg))
    if cfg.init:
        model.load_state_dict(load_checkpoint(Path(cfg.init))[0].state_dict())
    for block in list(model.features)[:cfg.freeze_blocks]:
        block.requires_grad_(False)
    model = model.to(device, memory_format=torch.channels_last)
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
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2)
    return model, ema, opt, sched


def fit(cfg: TrainConfig, data: PreparedData | None = None, *, dist: Dist = SINGLE) -> Iterator[TrainEvent]:
    """Train, calibrate and export a model; yields progress. See :class:`TrainEvent`.

    The model, ``--pretrained`` weights and a ``--resume`` state are set up (and a bad file refused)
    before the data is cached, so that such a mistake fails in seconds, not after the caching. Under
    torchrun every rank runs this with its ``dist`` (:mod:`.distributed`); rank 0 alone writes files.
    """
    cfg = adopt_base(cfg)
    run_dir = Path(cfg.out_dir)
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2, default=str))
    device, reason = select_device(cfg.device)
    device = dist.local_device(device)
    use_training_threads()
    model, ema, opt, sched = build_run(cfg, device)
    penalty = l2sp_penalty(model, cfg.l2sp) if cfg.l2sp else None
    state_path, best_path = run_dir / "last_state.pt", run_dir / "best.pt"
    start, best, stale = 1, (float("inf"),) * 3, 0
    if cfg.resume:  # rank 0 reads the state in its run folder, every rank continues from it
        state = dist.from_main(lambda: load_state(state_path) if state_path.is_file() else None)
        if state is not None:
            start, best, stale = restore_state(state_path, model, opt, sched, ema, state=state)
    teacher = load_teacher(Path(cfg.distill_from), device) if cfg.distill_from and start == 1 else None
    scorer_teacher = load_liveness_teacher(Path(cfg.teacher), spec_of(cfg), device) if cfg.teacher else None
    if data is None:
        data = yield from prepare_data(cfg, dist)
    dev_entries = limit_per_group(eval_entries(data.dev, cfg.eval_frames_per_video), cfg.dev_per_group)
    if teacher is not None:
        yield from _distill(model, teacher, ema, data, cfg, device, dist)
        del teacher
    net = dist.wrap(model, device, cfg.sync_bn)  # what trains: DDP around ``model`` under torchrun
    run_info = {"device": reason, **dist.describe(cfg.sync_bn, cfg.batch_size)}
    log = (run_dir / "log.jsonl").open("a") if dist.is_main else None
    t_start = time.perf_counter()
    try:
        for epoch in range(start, cfg.epochs + 1):
            t0 = time.perf_counter()
            entries = epoch_entries(data.train, cfg.train_frames_per_video, cfg.seed, epoch)
            loader = _loader(entries, cfg, True, epoch, data.cache_margin_extra, dist)
            ev = TrainEvent("batch")
            for ev in train_one_epoch(net, loader, opt, cfg, device, epoch, ema, penalty, scorer_teacher):
                yield ev
            t_train = time.perf_counter() - t0
            judged, dev, dev_scores, key = _judge(model, ema, entries, dev_entries, cfg, device, data, dist)
            sched.step(key[0] + key[1])
            improved = key < best
            if improved:
                best, stale = key, 0
                if dist.is_main:
                    export_best(best_path, judged, cfg, data, dev, dev_scores, dev_entries, epoch, run_info, t_start)
            else:
                stale += 1
            report = {"epoch": epoch, "train_loss": dist.mean(ev.metrics.get("loss")), "dev": dev,
                      "lr": opt.param_groups[0]["lr"], "seconds_train": round(t_train, 1),
                      "seconds_total": round(time.perf_counter() - t0, 1),
                      "images": len(loader.sampler) * dist.world_size, "improved": improved}
            if dist.active:
                report.update(world_size=dist.world_size, replicas_in_sync=dist.in_sync(model))
            if dist.is_main:
                log.write(json.dumps(report, default=float) + "\n"); log.flush()
                save_state(state_path, _state(model, opt, sched, ema, epoch, best, stale))
            if not report.get("replicas_in_sync", True):
                yield TrainEvent("warning", message=f"epoch {epoch}: the ranks' weights differ (a DDP fault)")
            yield TrainEvent("epoch", epoch, cfg.epochs, message=summary(report), metrics=report,
                             model_path=best_path if best_path.is_file() else None)
            if stale >= cfg.patience:  # every rank decides alike: the same gathered dev scores
                yield TrainEvent("epoch", epoch, cfg.epochs, message=f"early stop: no dev improvement in {stale} epochs")
                break
    finally:
        if log is not None:
            log.close()
    dist.barrier()  # rank 0's files are complete before any rank reports "done"
    installed = install(best_path, cfg) if dist.is_main and best_path.is_file() else None
    yield TrainEvent("done", message=f"best model: {installed or best_path}", model_path=installed or best_path)


def _judge(model: torch.nn.Module, ema: AveragedModel | None, entries: Sequence[Entry], dev_entries: Sequence[Entry],
           cfg: TrainConfig, device: torch.device, data: PreparedData, dist: Dist
           ) -> tuple[torch.nn.Module, dict[str, Any], np.ndarray, tuple[float, float, float]]:
    """The model that is evaluated and exported (the weight average when there is one) with its BN
    statistics recomputed, its dev metrics and scores, and its early-stopping key (dev EER, 1 - AUC, dev
    log-loss: on a dev set the model already separates, as a user's few sessions often are, the loss still
    tells a model whose scores sit far from the threshold from one that barely separates them).
    Every rank recomputes the statistics on the same crops (identical results, nothing to exchange)."""
    judged = ema.module if ema is not None else model
    if cfg.bn_refresh:
        refresh_bn_stats(judged, entries, cfg, device, data.cache_margin_extra)
    dev, dev_scores = evaluate(judged, dev_entries, cfg, device, data.cache_margin_extra, dist=dist)
    frame = dev["frame"]
    loss = M.log_loss_live(dev_scores, [e.label for e in dev_entries])
    return judged, dev, dev_scores, (frame["eer"] if frame["eer"] is not None else 1.0, 1.0 - (frame["auc"] or 0.0),
                                     loss)


def _state(model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, ema: AveragedModel | None, epoch: int,
           best: tuple[float, ...], stale: int) -> dict[str, Any]:
    """What ``last_state.pt`` holds (see checkpoint.STATE_TYPES): the plain model's weights, never DDP's."""
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
             "epoch": epoch, "best": list(best), "stale": stale}
    if ema is not None:
        state["ema"] = ema.state_dict()
    return state


def _distill(model: torch.nn.Module, teacher: torch.nn.Module, ema: AveragedModel | None, data: PreparedData,
             cfg: TrainConfig, device: torch.device, dist: Dist = SINGLE) -> Iterator[TrainEvent]:
    """The distillation stage on the training crops; the weight average then restarts from its result."""
    seeds = [DISTILL_SEED_OFFSET + epoch for epoch in range(1, cfg.distill_epochs + 1)]  # apart from training's
    loaders = [_loader(epoch_entries(data.train, cfg.train_frames_per_video, cfg.seed, e), cfg, True, e,
                       data.cache_margin_extra, dist) for e in seeds]
    yield from distill_backbone(model, teacher, loaders, cfg, device, dist)
    if ema is not None:
        ema.module.load_state_dict(model.state_dict())
        ema.n_averaged.zero_()
