"""The resolved configuration of a training run (defaults <- optional JSON file <- command line)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from liveness_app import paths
from liveness_app.core.meta import ARCHITECTURES
from liveness_app.core.preprocess import IMAGENET_MEAN, IMAGENET_STD, PreprocessSpec
from training.data.augment import AugmentConfig
from training.teachers.combine import RULES as TEACHER_RULES

REFIT_THRESHOLDS = ("twin", "blend")  # how training.fit.refit sets the refit model's threshold


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; written to ``<run>/config.json``."""

    data: tuple[str, ...] = ()  # specs for training.data.importers.load_any (folder, manifest.csv, NAME:PATH)
    out_dir: str = ""  # "" = <user data>/runs/<name> (run_dir_for), never the folder the command runs in
    name: str = "liveness-model"
    arch: str = "mobilenet_v3_large"  # or "mobilenet_v2" (its ImageNet weights can be had offline)
    input_size: int = 128  # every shipped model's; 224 costs several times the CPU time per face
    crop_margin: float = 0.25
    mean: tuple[float, ...] = IMAGENET_MEAN  # three values each (PreprocessSpec checks)
    std: tuple[float, ...] = IMAGENET_STD
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    bn_momentum: float = 0.1  # BatchNorm running-statistics momentum (see loop.fit)
    loss: str = "bce"  # "bce" (label-smoothed: the shipped model's recipe, see models/default.md) or "focal"
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    label_smoothing: float = 0.05
    frames_per_video: int = 16  # cached per video
    train_frames_per_video: int = 4  # drawn at random per video, each epoch
    eval_frames_per_video: int = 8
    dev_per_group: int = 0  # dev crops per (group, label) scored each epoch for early stopping (0 = all)
    epoch_size: int = 0  # images per epoch with balanced sampling; 0 = one pass over the epoch's frames
    patience: int = 6  # epochs without dev improvement before stopping
    dev_fraction: float = 0.25
    dev_groups: tuple[str, ...] = ()
    test_groups: tuple[str, ...] = ()
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA
    seed: int = 4
    workers: int = -1  # loader processes per training process; -1 (or "auto"): auto_workers(), resolved here
    pretrained: str = ""  # local ImageNet weights file; empty = from scratch
    cache_dir: str = ""  # empty = <user data>/cache
    detector: str = ""  # empty = the bundled BlazeFace short range
    install: bool = True  # copy the best model into the user's model folder (the app's Model menu)
    resume: bool = False
    lbp_grid: int = 0  # fuse colour-LBP histograms on a grid x grid of cells with the CNN (0 = off)
    ema_decay: float = 0.995  # exponential moving average of the weights, evaluated and exported (0 = off)
    ema_warmup: bool = True  # ramp the decay up over the first updates (short runs); off = constant decay
    augment: dict[str, Any] = field(default_factory=dict)  # AugmentConfig fields to override
    synth_attacks: float = 0.0  # probability that a live training crop becomes a simulated replay/print
    distill_from: str = ""  # ImageNet MobileNetV2 weights: distil its features into the backbone first
    distill_epochs: int = 2
    distill_lr: float = 1e-3
    init: str = ""  # a model file to fine-tune (its architecture and preprocessing are kept); "" = scratch
    freeze_blocks: int = 0  # the first N feature blocks keep their (init) weights
    l2sp: float = 0.0  # weight of an L2 pull toward the init weights (L2-SP, Li et al. 2018)
    teacher: str = ""  # a trained liveness model whose soft scores the student also learns ("" = off)
    kd_weight: float = 0.5  # share of the distillation term in the loss (the rest: the labels)
    kd_temperature: float = 2.0  # softening of both logits in the distillation term
    teachers: tuple[
        str, ...
    ] = ()  # external liveness models (spec names or files) whose combined soft scores are learnt
    teachers_dir: str = ""  # folder with their ONNX files ("" = $LIVENESS_TEACHERS_DIR, or beside a spec file)
    teacher_rule: str = "stack"  # how their scores combine (training.teachers.combine.RULES), fitted on dev
    teacher_views: str = "stored"  # "stored": scores of the stored crops; "matched": of each augmented view
    mixup: float = 0.0  # with matched views: Beta(a, a) mixup between faces (0 = off)
    holdout_locked: bool = True  # leave out the locked test split's groups (training/locked_split.json)
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over all ranks' batches (else per rank)
    refit: bool = False  # after early stopping: train again on train + dev for the chosen epochs (training.fit.refit)
    refit_threshold: str = "blend"  # the refit model's threshold: "twin" (best.pt's) or "blend" (see refit.py)
    bn_refresh: bool = True  # precise BN: recompute BatchNorm statistics on training crops before each dev evaluation

    def __post_init__(self) -> None:
        if not self.out_dir:  # resolved here, so config.json names the folder and every rank agrees on it
            object.__setattr__(self, "out_dir", str(run_dir_for(self.name)))
        if self.workers in (-1, "auto"):  # resolved here too: config.json says how many this run had
            object.__setattr__(self, "workers", auto_workers())
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            raise ValueError(f"workers must be a number >= 0, or -1 / auto, got {self.workers!r}")
        if self.loss not in ("focal", "bce"):
            raise ValueError(f"loss must be 'focal' or 'bce', got {self.loss!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError("label_smoothing must be in [0, 0.5)")
        if not 0 <= self.lbp_grid <= 8:
            raise ValueError("lbp_grid must be in 0..8")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError("ema_decay must be in [0, 1)")
        AugmentConfig.from_overrides(self.augment)  # unknown options fail here, not mid-run
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {self.arch!r}")
        if self.distill_epochs < 1 or self.distill_lr <= 0:
            raise ValueError("distill_epochs must be >= 1 and distill_lr > 0")
        if not 0.0 <= self.synth_attacks <= 0.9:
            raise ValueError("synth_attacks must be in [0, 0.9]")
        if self.refit_threshold not in REFIT_THRESHOLDS:
            raise ValueError(
                f"refit_threshold must be one of {', '.join(REFIT_THRESHOLDS)}, got {self.refit_threshold!r}"
            )
        if self.teachers and self.teacher:
            raise ValueError("teacher (a trained model of ours) and teachers (external ONNX models) exclude each other")
        if self.teacher_rule not in TEACHER_RULES:
            raise ValueError(f"teacher_rule must be one of {', '.join(TEACHER_RULES)}, got {self.teacher_rule!r}")
        if self.refit and (self.distill_from or self.teacher or self.teachers):
            raise ValueError(
                "refit repeats the training epochs only: it cannot be combined with distill_from or teacher(s)"
            )
        if self.teacher_views not in ("stored", "matched"):
            raise ValueError(f"teacher_views must be 'stored' or 'matched', got {self.teacher_views!r}")
        if (self.teacher_views == "matched" or self.mixup) and not self.teachers:
            raise ValueError("teacher_views 'matched' and mixup need external teachers (teachers)")
        if not 0.0 <= self.mixup <= 10.0 or (self.mixup and self.teacher_views != "matched"):
            raise ValueError("mixup must be in [0, 10], and is used with teacher_views 'matched' only")
        if self.freeze_blocks < 0 or self.l2sp < 0:
            raise ValueError("freeze_blocks and l2sp must be >= 0")
        if not 0.0 <= self.kd_weight <= 1.0 or self.kd_temperature <= 0:
            raise ValueError("kd_weight must be in [0, 1] and kd_temperature > 0")
        if (self.freeze_blocks or self.l2sp) and not self.init:
            raise ValueError("freeze_blocks and l2sp need a model to start from (init)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        tuples = {f.name for f in fields(cls) if str(f.type).startswith("tuple")}
        values: dict[str, Any] = {k: tuple(v) if k in tuples and v is not None else v for k, v in data.items()}
        return cls(**values)

    @classmethod
    def from_file(cls, path: Path, **overrides: Any) -> "TrainConfig":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, a huge number, nesting too deep
            raise ValueError(f"{path}: not a readable JSON config ({str(exc)[:160]})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a config must be a JSON object, got {type(data).__name__}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)


# The short schedule of "adapt to my camera": a few hundred crops of one person's recordings on top of a
# trained model. Why each value is what it is: docs/adr/0010-adapt-to-my-camera-recipe.md (measurements in
# experiments/README.md).
FINETUNE: dict[str, Any] = {
    "epochs": 5,
    "epoch_size": 384,
    "batch_size": 32,
    "lr": 3e-4,
    "patience": 5,
    "freeze_blocks": 0,
    "l2sp": 0.01,
    "ema_decay": 0.0,
    "dev_fraction": 0.34,
    "frames_per_video": 16,
    "train_frames_per_video": 8,
    "eval_frames_per_video": 8,
    "label_smoothing": 0.05,
    # the base's BatchNorm statistics are kept: recomputed from one room's few crops, they fit that room only
    "bn_refresh": False,
    # refit on train + dev (training.fit.refit): the dev sessions are the latest recorded, the closest to later use
    "refit": True,
    # simulated replays/prints (training.data.attacks): later use shows attack instruments the user never recorded
    "synth_attacks": 0.15,
    # a user's own recordings are never left out, whatever their subject is called: the locked split guards
    # the shipped models, and an adapted model is the user's own
    "holdout_locked": False,
}


# One help line per option of ``liveness-train`` (the parser is generated from TrainConfig's fields).
HELP: dict[str, str] = {
    "out_dir": "run folder: config.json, log.jsonl, best.pt, last_state.pt, skipped.csv (default: runs/NAME "
    "in the user data folder, never the current folder)",
    "name": "model name (the installed file is NAME.pt)",
    "arch": "mobilenet_v3_large (shipped) or mobilenet_v2 (pair it with --pretrained ImageNet weights)",
    "input_size": "model input side in pixels (the shipped models' 128; 224 is several times slower on a CPU)",
    "crop_margin": "margin around the detected face box, as a fraction of its size",
    "mean": "input normalisation mean (R G B)",
    "std": "input normalisation std (R G B)",
    "epochs": "most epochs to train",
    "batch_size": "images per step (per process under torchrun)",
    "lr": "AdamW learning rate",
    "weight_decay": "AdamW weight decay",
    "bn_momentum": "BatchNorm running-statistics momentum",
    "loss": "bce (label-smoothed) or focal",
    "focal_gamma": "focal loss gamma",
    "focal_alpha": "focal loss alpha",
    "label_smoothing": "BCE label smoothing (0..0.5)",
    "frames_per_video": "frames cached per video",
    "train_frames_per_video": "frames drawn per video each epoch",
    "eval_frames_per_video": "frames scored per video in evaluation",
    "dev_per_group": "dev crops per (group, label) scored each epoch for early stopping (0 = all)",
    "epoch_size": "images per epoch, sampled balanced over labels and groups (0 = one pass); shared by the "
    "processes under torchrun",
    "patience": "epochs without dev improvement before stopping",
    "dev_fraction": "share of the groups (or, for one person, of the sessions) held out as dev",
    "dev_groups": "groups to use as dev (default: drawn at random)",
    "test_groups": "groups held out as test (never trained or calibrated on)",
    "device": "auto, cpu or cuda",
    "amp": "bf16 autocast on CUDA",
    "seed": "random seed",
    "workers": "loader worker processes per training process; 0 = in the training process, -1 or auto = the "
    "cores this process may use, less one for it, shared among torchrun's processes on this machine, at most 16",
    "pretrained": "ImageNet weights file for the backbone (default: none: from scratch)",
    "cache_dir": "face-crop cache folder (default: the user data folder's cache/)",
    "detector": "face detector .tflite (default: the bundled BlazeFace)",
    "lbp_grid": "fuse colour-LBP histograms on an N x N grid with the CNN (0 = off, 1..8)",
    "ema_decay": "weight moving average decay, evaluated and exported (0 = off)",
    "ema_warmup": "ramp the EMA decay up over the first updates",
    "augment": "augmentation options over the defaults, as JSON",
    "synth_attacks": "probability that a live training crop becomes a simulated replay or print (0..0.9)",
    "distill_from": "ImageNet MobileNetV2 weights to distil into the backbone before training",
    "distill_epochs": "distillation epochs",
    "distill_lr": "distillation learning rate",
    "init": "a .pt checkpoint to fine-tune (keeps its architecture and preprocessing; an .onnx export has no "
    "weights to train: name the .pt it came from)",
    "freeze_blocks": "with --init: keep the first N feature blocks as they are",
    "l2sp": "with --init: weight of the L2 pull toward the initial weights",
    "teacher": "a trained liveness model, .pt (same preprocessing), whose soft scores are distilled as well",
    "kd_weight": "with --teacher: share of the distillation term in the loss (0..1)",
    "kd_temperature": "with --teacher: temperature of the distillation term",
    "teachers": "external liveness models (built-in spec names such as silentface-v2, or spec files) whose "
    "combined soft scores the student learns (kd_weight, kd_temperature)",
    "teachers_dir": "folder holding the ONNX files the teachers' specs name (default: $LIVENESS_TEACHERS_DIR, "
    "or beside a spec file)",
    "teacher_rule": "how the teachers' scores combine, fitted on dev: mean, logit_mean, calibrated_mean, stack, best",
    "teacher_views": "stored: the teachers score each stored crop once; matched: they score the very augmented "
    "view the student sees (function matching; slower: the teachers run every step)",
    "mixup": "with --teacher-views matched: mixup between faces, Beta(a, a) (0 = off; 0.2-1 usual)",
    "holdout_locked": "leave out the groups of the locked test split (training/locked_split.json)",
    "refit": "after early stopping, train again from the start on train + dev for as many epochs (the "
    "installed model is refit.pt; best.pt stays as its held-out twin)",
    "refit_threshold": "the refit model's threshold: twin (the early-stopped model's, calibrated on dev) or "
    "blend (halfway, in logit space, between that and the refit model's own on train + dev)",
    "bn_refresh": "recompute BatchNorm statistics on un-augmented training crops before each evaluation",
    "sync_bn": "under torchrun: BatchNorm statistics over every rank's batch, not each rank's own",
}


MAX_AUTO_WORKERS = 16  # beyond this, starting the workers costs more than they save on the data sets here


def workers_arg(text: str) -> int:
    """A command line's ``--workers``: a number, or ``auto`` (-1: :func:`auto_workers` decides)."""
    import argparse

    if text.strip().lower() == "auto":
        return -1
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or auto, got {text!r}") from None


def auto_workers(env: dict[str, str] | None = None) -> int:
    """Loader workers for one training process: the cores it may use (its CPU affinity), less one for
    the process itself, shared among the training processes torchrun starts on this machine
    (``LOCAL_WORLD_SIZE``); 1 to :data:`MAX_AUTO_WORKERS`."""
    env = dict(os.environ) if env is None else env
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        local = max(1, int(env.get("LOCAL_WORLD_SIZE", "1")))
    except ValueError:
        local = 1
    return max(1, min(MAX_AUTO_WORKERS, cores // local - 1))


def run_dir_for(name: str) -> Path:
    """Where a run named ``name`` writes when no ``out_dir`` is given: the user data folder's ``runs/<name>``
    (the same name on every rank under torchrun; a timestamp would differ between them)."""
    return paths.user_data_dir() / "runs" / Path(name).name


def spec_of(cfg: TrainConfig) -> PreprocessSpec:
    """The preprocessing a run trains with, and its model carries."""
    return PreprocessSpec(cfg.input_size, cfg.crop_margin, tuple(cfg.mean), tuple(cfg.std))
