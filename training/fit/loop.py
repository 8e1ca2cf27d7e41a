"""Training: ``fit()`` is a generator of progress events that the CLI (tqdm) and the app (progress bar
with cancel) both consume. Stopping the iteration (``close()``) cancels the run; the best checkpoint
written so far stays on disk.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Generator, Iterator, Sequence, Sized, cast

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel

from liveness_app.core.backends.factory import require_checkpoint
from liveness_app.core.device import select_device, use_training_threads
from liveness_app.core.files import atomic_write_text
from liveness_app.core.model import LivenessNet, ModelMeta, read_checkpoint
from training.config import TrainConfig, spec_of
from training.data.frames import Entry, epoch_entries, eval_entries, limit_per_group
from training.data.store import DecodedStore
from training.eval import metrics as M
from training.eval import thresholds as T
from training.eval.scoring import score_entries
from training.eval.table import number, small_data_warning
from training.fit.checkpoint import install, save_best
from training.fit.distill import distill_backbone, load_liveness_teacher, load_teacher
from training.fit.distributed import SINGLE, Dist
from training.fit.events import TrainEvent
from training.fit.prepare import PreparedData, prepare_data
from training.fit.refit import refit_all
from training.fit.resume import load_state, restore_state, save_state
from training.fit.steps import build_run, l2sp_penalty, loader_for, refresh_bn_stats, train_feed, train_one_epoch
from training.teachers.matching import Matcher

DISTILL_SEED_OFFSET = 10_000  # the distillation's epochs draw other frames and augmentations than training's


def summary(r: dict[str, Any]) -> str:
    """The line the CLI prints after an epoch."""
    f, v = r["dev"]["frame"], r["dev"].get("video", {})
    return (
        f"epoch {r['epoch']}: loss {r['train_loss']:.4f}, dev AUC {number(f['auc'], 'auc')}, "
        f"EER {number(f['eer'])}, ACER {number(f['acer'])} (video ACER {number(v.get('acer'))}), "
        f"{r['images']} img in {r['seconds_train']} s"
    )


def dev_metrics(
    model: LivenessNet,
    entries: Sequence[Entry],
    cfg: TrainConfig,
    device: torch.device,
    extra: float,
    threshold: float | None = None,
    dist: Dist = SINGLE,
    store: DecodedStore | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """Frame- and video-level metrics; with no threshold given, the dev EER threshold is used. Scored as
    the app scores (:mod:`.scoring`: fp32), so the saved threshold fits the app's numbers. Under
    torchrun each rank scores a part and every rank gets all the scores (and so the same metrics)."""
    scores = dist.gather_scores(
        lambda part: score_entries(
            model, spec_of(cfg), part, device, extra, cfg.batch_size, workers=cfg.workers, store=store
        )[0],
        entries,
    )
    labels = [e.label for e in entries]
    if threshold is None:
        threshold = T.calibrate(scores, labels)["eer_threshold"] or 0.5
    result = M.compute_all(scores, labels, threshold, video_ids=[e.video_id for e in entries])
    return result, scores


def adopt_base(cfg: TrainConfig) -> TrainConfig:
    """With ``init``: the base model's architecture, construction arguments and preprocessing replace the
    config's, so the fine-tuned model sees faces exactly as the base did (a bad file: ModelLoadError)."""
    if not cfg.init:
        return cfg
    meta = ModelMeta.from_dict(read_checkpoint(require_checkpoint(Path(cfg.init), "fine-tuning (--init)")))
    spec = meta.preprocessing
    return replace(
        cfg,
        arch=meta.arch,
        lbp_grid=int(meta.model_args.get("lbp_grid", 0)),
        input_size=spec.input_size,
        crop_margin=spec.crop_margin,
        mean=tuple(spec.mean),
        std=tuple(spec.std),
    )


def fit(
    cfg: TrainConfig, data: PreparedData | None = None, *, dist: Dist = SINGLE
) -> Generator[TrainEvent, None, None]:
    """Train, calibrate and save a model; yields progress. See :class:`TrainEvent`.

    The model, ``--pretrained`` weights and a ``--resume`` state are set up (and a bad file refused)
    before the data is cached, so that such a mistake fails in seconds, not after the caching. Under
    torchrun every rank runs this with its ``dist`` (:mod:`.distributed`); rank 0 alone writes files.
    """
    cfg = adopt_base(cfg)
    run_dir = Path(cfg.out_dir)
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2, default=str))
    device, reason = select_device(cfg.device)
    device = dist.local_device(device)
    use_training_threads()
    model, ema, opt, sched = build_run(cfg, device)
    penalty = l2sp_penalty(model, cfg.l2sp) if cfg.l2sp else None
    state_path, best_path = run_dir / "last_state.pt", run_dir / "best.pt"
    start, stale = 1, 0
    best: tuple[float, ...] = (float("inf"),) * 3
    lrs: list[float] = []  # each epoch's learning rate, for the refit
    if cfg.resume:  # rank 0 reads the state in its run folder, every rank continues from it
        state = dist.from_main(lambda: load_state(state_path) if state_path.is_file() else None)
        if state is None:  # every rank sees the same None: all stop, none waits for the others
            raise ValueError(
                f"--resume: there is no {state_path.name} in {run_dir} to continue from; "
                "run without --resume to start this run again from epoch 1"
            )
        start, best, stale = restore_state(state_path, model, opt, sched, ema, state=state)
        lrs = list(state.get("lrs", [cfg.lr] * (start - 1)))  # a state from before the refit: the start lr
    teacher = load_teacher(Path(cfg.distill_from), device) if cfg.distill_from and start == 1 else None
    scorer_teacher = load_liveness_teacher(Path(cfg.teacher), spec_of(cfg), device) if cfg.teacher else None
    if data is None:
        data = yield from prepare_data(cfg, dist)
    dev_entries = limit_per_group(eval_entries(data.dev, cfg.eval_frames_per_video), cfg.dev_per_group)
    small_dev = small_data_warning([e.label for e in dev_entries], [e.group for e in dev_entries], "the dev split")
    if small_dev:
        yield TrainEvent("warning", message=small_dev)
    if teacher is not None:
        yield from _distill(model, teacher, ema, data, cfg, device, dist)
        del teacher
    matcher = matched = None
    if data.sources and data.targets is not None:  # function matching: the teachers score each view
        matcher = Matcher(data.targets.teachers, data.targets.combiner, cfg.mixup, cfg.seed)
        matched = (data.sources, matcher.specs)
    net = dist.wrap(model, device, cfg.sync_bn)  # what trains: DDP around ``model`` under torchrun
    run_info = {"device": reason, **dist.describe(cfg.sync_bn, cfg.batch_size)}
    feed = train_feed(cfg, data.train, data.cache_margin_extra, device, data.store)  # its workers live for the run
    log = (run_dir / "log.jsonl").open("a") if dist.is_main else None
    t_start = time.perf_counter()
    try:
        for epoch in range(start, cfg.epochs + 1):
            t0 = time.perf_counter()
            lrs.append(opt.param_groups[0]["lr"])
            entries = epoch_entries(data.train, cfg.train_frames_per_video, cfg.seed, epoch, data.soft)
            loader = loader_for(entries, cfg, True, epoch, data.cache_margin_extra, dist, matched, feed, data.store)
            ev = TrainEvent("batch")
            for ev in train_one_epoch(net, loader, opt, cfg, device, epoch, ema, penalty, scorer_teacher, matcher):
                yield ev
            t_train = time.perf_counter() - t0
            yield TrainEvent("stage", epoch, cfg.epochs, ev.step, ev.steps, f"checking epoch {epoch} on the dev split")
            judged, dev, dev_scores, key = _judge(model, ema, entries, dev_entries, cfg, device, data, dist)
            sched.step(key[0] + key[1])
            improved = key < best
            if improved:
                best, stale = key, 0
                if dist.is_main:
                    save_best(best_path, judged, cfg, data, dev, dev_scores, dev_entries, epoch, run_info, t_start)
            else:
                stale += 1
            report = {
                "epoch": epoch,
                "train_loss": dist.mean(ev.metrics.get("loss")),
                "dev": dev,
                "lr": opt.param_groups[0]["lr"],
                "seconds_train": round(t_train, 1),
                "seconds_total": round(time.perf_counter() - t0, 1),
                "images": len(cast(Sized, loader.sampler)) * dist.world_size,
                "improved": improved,
            }
            if dist.active:
                report.update(world_size=dist.world_size, replicas_in_sync=dist.in_sync(model))
            if dist.is_main and log is not None:  # the log is open on rank 0
                log.write(json.dumps(report, default=float) + "\n")
                log.flush()
                save_state(state_path, _state(model, opt, sched, ema, epoch, best, stale, lrs))
            if not report.get("replicas_in_sync", True):
                yield TrainEvent("warning", message=f"epoch {epoch}: the ranks' weights differ (a DDP fault)")
            yield TrainEvent(
                "epoch",
                epoch,
                cfg.epochs,
                message=summary(report),
                metrics=report,
                model_path=best_path if best_path.is_file() else None,
            )
            if stale >= cfg.patience:  # every rank decides alike: the same gathered dev scores
                yield TrainEvent(
                    "epoch", epoch, cfg.epochs, message=f"early stop: no dev improvement in {stale} epochs"
                )
                break
    finally:
        feed.close()
        if log is not None:
            log.close()
    dist.barrier()  # rank 0's files are complete before any rank reports "done"
    final = best_path
    if cfg.refit and best_path.is_file():
        final = yield from refit_all(cfg, data, best_path, lrs, device, dist)
    installed = install(final, cfg) if dist.is_main and final.is_file() else None
    note = " (see the warning above on what its dev figures are worth)" if small_dev else ""
    yield TrainEvent("done", message=f"best model: {installed or final}{note}", model_path=installed or final)


def _judge(
    model: LivenessNet,
    ema: AveragedModel | None,
    entries: Sequence[Entry],
    dev_entries: Sequence[Entry],
    cfg: TrainConfig,
    device: torch.device,
    data: PreparedData,
    dist: Dist,
) -> tuple[LivenessNet, dict[str, Any], np.ndarray, tuple[float, float, float]]:
    """The model that is evaluated and saved (the weight average when there is one) with its BN
    statistics recomputed, its dev metrics and scores, and its early-stopping key (dev EER, 1 - AUC, dev
    log-loss: on a dev set the model already separates, as a user's few sessions often are, the loss still
    tells a model whose scores sit far from the threshold from one that barely separates them).
    Every rank recomputes the statistics on the same crops (identical results, nothing to exchange)."""
    judged = cast(LivenessNet, ema.module) if ema is not None else model  # the average of a LivenessNet is one
    if cfg.bn_refresh:
        refresh_bn_stats(judged, entries, cfg, device, data.cache_margin_extra, store=data.store)
    dev, dev_scores = dev_metrics(
        judged, dev_entries, cfg, device, data.cache_margin_extra, dist=dist, store=data.store
    )
    frame = dev["frame"]
    loss = M.log_loss_live(dev_scores, [e.label for e in dev_entries])
    return (
        judged,
        dev,
        dev_scores,
        (frame["eer"] if frame["eer"] is not None else 1.0, 1.0 - (frame["auc"] or 0.0), loss),
    )


def _state(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: Any,
    ema: AveragedModel | None,
    epoch: int,
    best: tuple[float, ...],
    stale: int,
    lrs: Sequence[float],
) -> dict[str, Any]:
    """What ``last_state.pt`` holds (see resume.STATE_TYPES): the plain model's weights, never DDP's."""
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": epoch,
        "best": list(best),
        "stale": stale,
        "lrs": list(lrs),
    }
    if ema is not None:
        state["ema"] = ema.state_dict()
    return state


def _distill(
    model: LivenessNet,
    teacher: LivenessNet,
    ema: AveragedModel | None,
    data: PreparedData,
    cfg: TrainConfig,
    device: torch.device,
    dist: Dist = SINGLE,
) -> Iterator[TrainEvent]:
    """The distillation stage on the training crops; the weight average then restarts from its result."""
    seeds = [DISTILL_SEED_OFFSET + epoch for epoch in range(1, cfg.distill_epochs + 1)]  # apart from training's
    loaders = [
        loader_for(
            epoch_entries(data.train, cfg.train_frames_per_video, cfg.seed, e),
            cfg,
            True,
            e,
            data.cache_margin_extra,
            dist,
            store=data.store,
        )
        for e in seeds
    ]
    yield from distill_backbone(model, teacher, loaders, cfg, device, dist)
    if ema is not None:
        ema.module.load_state_dict(model.state_dict())
        ema.n_averaged.zero_()
