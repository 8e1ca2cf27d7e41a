"""Refit: once early stopping on dev has chosen how long to train, train again from the start on train and
dev together for that long, with the same learning rates, and give the result a threshold (below).

A user's dev sessions are the latest of their recordings, the closest in time to how the model will be
used; the early-stopped model (``best.pt``) never trains on them, the refit one (``refit.pt``) does. The
early-stopped model stays in the run folder: it is the refit's held-out twin, the one whose dev figures say
how the recipe does on sessions it did not see (:func:`training.adapt.pick` judges it).

The refit model's threshold (``refit_threshold``): "twin" takes the twin's, calibrated on dev it never saw
but for another model's scores; "blend" goes halfway, in logit space, between that and the refit model's
own EER threshold (centred) on train + dev, fitted to its scores but on sessions it trained on. Why
"blend" is the default: docs/adr/0010-adapt-to-my-camera-recipe.md (the study: experiments/README.md).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Generator, Sequence, cast

import torch

from liveness_app.core.model import LivenessNet, ModelMeta, read_checkpoint
from training.config import TrainConfig, spec_of
from training.data.frames import epoch_entries, eval_entries
from training.data.store import DecodedStore
from training.eval import thresholds as T
from training.eval.scoring import score_entries
from training.fit.checkpoint import save_model
from training.fit.distributed import SINGLE, Dist
from training.fit.events import TrainEvent
from training.fit.prepare import PreparedData
from training.fit.steps import build_run, l2sp_penalty, loader_for, refresh_bn_stats, train_feed, train_one_epoch

REFIT_NAME = "refit.pt"


def refit_all(
    cfg: TrainConfig, data: PreparedData, best: Path, lrs: Sequence[float], device: torch.device, dist: Dist = SINGLE
) -> Generator[TrainEvent, None, Path]:
    """Train ``cfg``'s model from its start on ``data.train`` + ``data.dev`` for as many epochs as ``best``
    trained (``lrs``: the learning rate of each of those epochs, ``cfg.lr`` where unknown), save it beside
    ``best`` with ``best``'s threshold and metadata (plus a ``refit`` entry); returns (StopIteration value)
    its path. ``best`` is read back from disk (a resumed run's may come from an earlier process)."""
    meta = ModelMeta.from_dict(read_checkpoint(best))
    epochs = meta.training.get("epoch")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or not 1 <= epochs <= cfg.epochs:
        raise ValueError(f"cannot refit: {best} does not say at which epoch (1..{cfg.epochs}) it was saved")
    model, ema, opt, _ = build_run(cfg, device)
    penalty = l2sp_penalty(model, cfg.l2sp) if cfg.l2sp else None
    net = dist.wrap(model, device, cfg.sync_bn)
    items = list(data.train) + list(data.dev)
    feed = train_feed(cfg, items, data.cache_margin_extra, device, data.store)
    try:
        for epoch in range(1, epochs + 1):
            for group in opt.param_groups:
                group["lr"] = lrs[epoch - 1] if epoch <= len(lrs) else cfg.lr
            entries = epoch_entries(items, cfg.train_frames_per_video, cfg.seed, epoch)
            loader = loader_for(entries, cfg, True, epoch, data.cache_margin_extra, dist, feed=feed)
            ev = TrainEvent("batch")
            for ev in train_one_epoch(net, loader, opt, cfg, device, epoch, ema, penalty):
                yield replace(ev, epochs=epochs, phase="refit")
            loss = dist.mean(ev.metrics.get("loss"))
            message = f"refit on train + dev, epoch {epoch} of {epochs}: loss {loss:.4f}"
            yield TrainEvent("epoch", epoch, epochs, message=message, phase="refit")
    finally:
        feed.close()
    final = cast(LivenessNet, ema.module) if ema is not None else model  # the average of a LivenessNet is one
    if cfg.bn_refresh:
        refresh_bn_stats(final, entries, cfg, device, data.cache_margin_extra, store=data.store)
    threshold = refit_threshold(final, items, meta.threshold, cfg, device, data.cache_margin_extra, dist, data.store)
    threshold["twin_from"] = f"{best.name}, calibrated on dev (held out from it)"
    path = Path(best).with_name(REFIT_NAME)
    if dist.is_main:
        training: dict[str, Any] = {
            **meta.training,
            "refit": {"epochs": epochs, "on": "train + dev", "items": len(items), "threshold": threshold},
        }
        save_model(
            path,
            final,
            spec_of(cfg),
            threshold["chosen"],
            name=cfg.name,
            training=training,
            metrics={**meta.metrics, "note": f"dev figures are {best.name}'s; this model trained on dev too"},
        )
    dist.barrier()
    return path


def refit_threshold(
    model: LivenessNet,
    items: Sequence,
    twin: float,
    cfg: TrainConfig,
    device: torch.device,
    extra: float,
    dist: Dist = SINGLE,
    store: DecodedStore | None = None,
) -> dict[str, Any]:
    """The refit model's threshold by ``cfg.refit_threshold`` (module docstring), with the ones it came
    from: ``twin``, ``own`` (on ``items``, the sessions it trained on) and ``chosen``."""
    entries = eval_entries(items, cfg.eval_frames_per_video)
    scores = dist.gather_scores(
        lambda part: score_entries(
            model, spec_of(cfg), part, device, extra, cfg.batch_size, workers=cfg.workers, store=store
        )[0],
        entries,
    )
    eer_threshold = T.calibrate(scores, [e.label for e in entries])["eer_threshold"]
    own = T.centred_threshold(scores, eer_threshold) if eer_threshold is not None else twin
    chosen = T.logit_mean(twin, own) if cfg.refit_threshold == "blend" else twin
    return {"rule": cfg.refit_threshold, "twin": float(twin), "own": float(own), "chosen": float(chosen)}
