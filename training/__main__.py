"""``liveness-train``: train a liveness model from recorded sessions, folders or public datasets.

    liveness-train --data ~/.local/share/LivenessStudio/recordings --epochs 20 --out runs/mine
    liveness-train --data /data/manifest.csv --data oulu:/data/OULU --input-size 224 --device cuda

Writes ``<out>/config.json`` (resolved), ``log.jsonl``, ``best.pt`` (app-loadable, calibrated),
``last_state.pt`` (``--resume`` continues from it) and, when files were skipped, ``skipped.csv`` (path,
reason); the best model is copied into the app's model folder. A bad option, data set, ``--pretrained`` or
``--resume`` file ends the run with one ``liveness-train: error: ...`` line and exit status 2.

Several GPUs or machines: ``torchrun --nproc-per-node 8 -m training --data ... --device cuda`` (see
:mod:`training.fit.distributed`); rank 0 alone prints progress and writes the files above.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from liveness_app.core.device import CHOICES as DEVICES
from liveness_app.core.face import DetectorError

from training.config import FINETUNE, HELP, TrainConfig
from training.fit.distributed import SINGLE, Dist, session
from training.fit.events import TrainEvent
from training.fit.loop import fit


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="liveness-train", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, help="JSON file of options (command line wins)")
    p.add_argument("--data", action="append", help="dataset: folder, manifest.csv, recordings, or NAME:PATH "
                   "(celeba, oulu, replay-attack, casia, msu); repeatable")
    for f in fields(TrainConfig):
        if f.name in ("data", "resume", "install"):
            continue
        flag, text = "--" + f.name.replace("_", "-"), f"{HELP.get(f.name, '')} (default: {_default(f)})"
        if f.type in ("tuple[str, ...]",):
            p.add_argument(flag, nargs="+", default=None, help=text)
        elif f.type in ("tuple[float, ...]",):  # mean, std
            p.add_argument(flag, nargs=3, type=float, default=None, help=text)
        elif str(f.type).startswith("dict"):
            p.add_argument(flag, type=json.loads, default=None, metavar="JSON", help=text + ', e.g. \'{"jpeg_p": 0.3}\'')
        elif f.name == "device":  # checked before any work (caching takes minutes)
            p.add_argument(flag, choices=DEVICES, default=None, help=text)
        else:
            kinds: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "bool": _bool}
            kind = kinds.get(str(f.type), str)
            p.add_argument(flag, type=kind, default=None, help=text)
    p.add_argument("--finetune", action="store_true", help="with --init MODEL: the short fine-tune schedule "
                   "of 'adapt to my camera' (about a minute on a CPU); other options override it")
    p.add_argument("--resume", action="store_true", help="continue the run in --out-dir from last_state.pt")
    p.add_argument("--no-install", action="store_true", help="do not copy the model into the app's model folder")
    return p


def _default(f: Any) -> Any:
    value = f.default_factory() if f.default_factory is not MISSING else f.default
    return value if value not in ("", (), {}) else "none"


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


def show(ev: TrainEvent, bar: tqdm | None) -> tqdm | None:
    """Print one event: cache and batch progress as a tqdm bar (returned, to update with the next event),
    warnings on stderr, the rest as lines on stdout."""
    if ev.kind in ("cache", "batch"):
        desc = "cache" if ev.kind == "cache" else f"{ev.phase or 'epoch'} {ev.epoch}/{ev.epochs}"
        if bar is None or bar.desc != desc or bar.total != ev.steps:
            if bar is not None:
                bar.close()
            bar = tqdm(total=ev.steps, desc=desc, unit="batch" if ev.kind == "batch" else "file")
        bar.update(ev.step - bar.n)
        if "loss" in ev.metrics:
            bar.set_postfix(loss=f"{ev.metrics['loss']:.4f}")
        return bar
    if bar is not None:
        bar.close()
    if ev.kind == "warning":
        print(f"liveness-train: warning: {ev.message}", file=sys.stderr, flush=True)
    else:
        print(ev.message, flush=True)
    return None


def main(argv: list[str] | None = None) -> int:
    """Run ``liveness-train``; returns the exit status (2 for bad options, data or model files). Under
    torchrun every process runs this; only rank 0 prints progress."""
    cfg = config_from_args(argv)
    bar: tqdm | None = None
    dist = SINGLE
    try:
        with session(cfg.device) as dist:
            for ev in fit(cfg, dist=dist):
                if dist.is_main:
                    bar = show(ev, bar)
    except KeyboardInterrupt:
        if dist.is_main:
            print("cancelled; the best checkpoint so far is kept in", cfg.out_dir, file=sys.stderr)
        return 130
    except (ValueError, OSError, DetectorError) as exc:
        # Bad input (options, data, a --pretrained or --resume file: ModelLoadError is a ValueError) is a
        # usage error: one line, no traceback, exit status 2 like argparse's own errors.
        if bar is not None:
            bar.close()
        print(f"liveness-train: error{_rank_note(dist)}: {exc}", file=sys.stderr)
        return 2
    return 0


def _rank_note(dist: Dist) -> str:
    """" (rank N)" in the error line of a rank other than 0: an error that only one machine meets (a file
    missing there) is shown too, and says where."""
    return "" if dist.is_main else f" (rank {dist.rank})"


if __name__ == "__main__":
    sys.exit(main())
