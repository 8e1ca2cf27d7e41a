"""The ``liveness-train`` command line: its options, grouped for ``--help`` and typed after
:class:`~training.config.TrainConfig`, and the TrainConfig they resolve to (defaults <- ``--config`` file <-
command line). Running it is :mod:`training.__main__`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any, Callable

from liveness_app.core import DEVICE_CHOICES as DEVICES
from training.config import FINETUNE, HELP, TrainConfig, run_dir_for, workers_arg

# Reading the options imports no torch, scikit-learn or face detector (they take seconds): `--help` and a
# mistyped option answer at once; training.__main__.main() imports the training stack once they are known.

# The first line of liveness-train's --help (also the first line of training.__main__'s docstring).
DESCRIPTION = "liveness-train: train a liveness model from recorded sessions, folders or public datasets."

# --help shows the options in these groups, in this order; every option is in exactly one (build_parser
# fails on one that is not, so a new TrainConfig field cannot be forgotten).
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "data": (
        "what to train on, how it is split and how faces are cached",
        (
            "data",
            "dev_fraction",
            "dev_groups",
            "test_groups",
            "holdout_locked",
            "frames_per_video",
            "train_frames_per_video",
            "eval_frames_per_video",
            "dev_per_group",
            "cache_dir",
            "detector",
            "workers",
            "augment",
            "synth_attacks",
        ),
    ),
    "model": (
        "the network and the faces it sees",
        ("arch", "input_size", "crop_margin", "mean", "std", "pretrained", "lbp_grid"),
    ),
    "schedule": (
        "how long and how fast it learns",
        (
            "epochs",
            "batch_size",
            "epoch_size",
            "lr",
            "weight_decay",
            "patience",
            "loss",
            "label_smoothing",
            "ema_decay",
            "device",
            "amp",
            "seed",
        ),
    ),
    "adaptation": (
        "fine-tuning a trained model, as 'adapt to my camera' does",
        ("init", "finetune", "freeze_blocks", "l2sp"),
    ),
    "teachers and distillation": (
        "learning from other models' scores or features",
        (
            "teacher",
            "kd_weight",
            "kd_temperature",
            "teachers",
            "teachers_dir",
            "teacher_rule",
            "teacher_views",
            "mixup",
            "distill_from",
            "distill_epochs",
            "distill_lr",
        ),
    ),
    "research": (
        "what the studies vary; the defaults are the shipped recipe's",
        ("focal_gamma", "focal_alpha", "bn_momentum", "bn_refresh", "ema_warmup", "refit", "refit_threshold"),
    ),
    "distributed": ("several GPUs or machines, under torchrun", ("sync_bn",)),
    "output": ("where the run and its model go", ("out_dir", "name", "resume", "no_install")),
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="liveness-train", description=DESCRIPTION)
    p.add_argument("--config", type=Path, help="JSON file of options (command line wins)")
    by_name = {f.name: f for f in fields(TrainConfig)}
    grouped = {name for _, names in GROUPS.values() for name in names}
    forgotten = set(by_name) - grouped - {"install"}  # install is --no-install
    if forgotten:
        raise RuntimeError(f"liveness-train: option(s) in no --help group: {', '.join(sorted(forgotten))}")
    for title, (text, names) in GROUPS.items():
        group = p.add_argument_group(title, text)
        for name in names:
            if name in _FLAGS:
                _FLAGS[name](group)
            else:
                _add_option(group, by_name[name])
    return p


def _add_option(group: argparse._ArgumentGroup, f: Field) -> None:
    """One ``--option`` for a TrainConfig field, typed after it, with its help line and default."""
    flag, text = "--" + f.name.replace("_", "-"), _help_text(f)
    if f.type in ("tuple[str, ...]",):
        group.add_argument(flag, nargs="+", default=None, help=text)
    elif f.type in ("tuple[float, ...]",):  # mean, std
        group.add_argument(flag, nargs=3, type=float, default=None, metavar=("R", "G", "B"), help=text)
    elif str(f.type).startswith("dict"):
        group.add_argument(
            flag, type=json.loads, default=None, metavar="JSON", help=text + ", e.g. '{\"jpeg_p\": 0.3}'"
        )
    elif f.name == "device":  # checked before any work (caching takes minutes)
        group.add_argument(flag, choices=DEVICES, default=None, help=text)
    elif str(f.type) == "bool":
        group.add_argument(flag, type=_bool, default=None, metavar="{true,false}", help=text)
    elif f.name == "workers":
        group.add_argument(flag, type=workers_arg, default=None, metavar="{N,auto}", help=text)
    else:
        kinds: dict[str, Callable[[str], Any]] = {"int": int, "float": float}
        group.add_argument(flag, type=kinds.get(str(f.type), str), default=None, help=text)


# Options that are not plain TrainConfig fields: how each is added to its group.
_FLAGS: dict[str, Callable[[argparse._ArgumentGroup], Any]] = {
    "data": lambda g: g.add_argument(
        "--data",
        action="append",
        help="dataset: folder, manifest.csv, recordings, "
        "or NAME:PATH (celeba, oulu, replay-attack, casia, msu); repeatable",
    ),
    "finetune": lambda g: g.add_argument(
        "--finetune",
        action="store_true",
        help="with --init MODEL: the short "
        "fine-tune schedule of 'adapt to my camera' (about a minute on a CPU); "
        "other options override it",
    ),
    "resume": lambda g: g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in the run folder (--out-dir, else the one of --name) from its last_state.pt",
    ),
    "no_install": lambda g: g.add_argument(
        "--no-install", action="store_true", help="do not copy the model into the app's model folder"
    ),
}


def _help_text(f: Field) -> str:
    """The field's help line with its default, said once: a line that names its own default keeps it."""
    text = HELP.get(f.name, "")
    if f.name == "out_dir":  # the folder itself, on this machine
        return text.replace("runs/NAME in the user data folder", _home(run_dir_for("NAME")))
    if "(default:" in text:
        return text
    value = f.default_factory() if f.default_factory is not MISSING else f.default
    if isinstance(value, bool):
        shown = "true" if value else "false"
    elif isinstance(value, tuple) and value:
        shown = " ".join(str(v) for v in value)
    else:
        shown = "none" if value in ("", (), {}) else str(value)
    return f"{text} (default: {shown})"


def _home(path: Path) -> str:
    """``path`` with the home folder written as ``~`` (shorter in a help line)."""
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except (ValueError, RuntimeError):  # elsewhere, or no home folder known
        return str(path)


def _bool(text: str) -> bool:
    return text.lower() in ("1", "true", "yes", "on")


def config_from_args(argv: list[str] | None = None) -> TrainConfig:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    path = args.pop("config")
    finetune = args.pop("finetune")
    overrides = {k: v for k, v in args.items() if v is not None and k not in ("no_install", "resume")}
    overrides["resume"] = args["resume"]
    if args["no_install"]:
        overrides["install"] = False
    base = TrainConfig.from_file(path).to_dict() if path else {}
    if finetune and not (overrides.get("init") or base.get("init")):
        parser.error("--finetune needs --init MODEL (the model to start from)")
    preset = FINETUNE if finetune else {}
    return TrainConfig.from_dict({**preset, **base, **overrides})
