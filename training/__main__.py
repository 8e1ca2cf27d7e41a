"""``liveness-train``: train a liveness model from recorded sessions, folders or public datasets.

    liveness-train --data ~/.local/share/LivenessStudio/recordings --epochs 20 --out runs/mine
    liveness-train --data /data/manifest.csv --data oulu:/data/OULU --input-size 224 --device cuda

Writes ``<out>/config.json`` (resolved), ``log.jsonl``, ``best.pt`` (app-loadable, calibrated) and
``last_state.pt`` (``--resume`` continues from it); the best model is copied into the app's model folder.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from tqdm import tqdm

from .config import TrainConfig
from .loop import fit


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="liveness-train", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, help="JSON file of options (command line wins)")
    p.add_argument("--data", action="append", help="dataset: folder, manifest.csv, recordings, or NAME:PATH "
                   "(celeba, oulu, replay-attack, casia, msu); repeatable")
    for f in fields(TrainConfig):
        if f.name in ("data", "resume", "install"):
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("tuple[str, ...]",):
            p.add_argument(flag, nargs="+", default=None)
        elif f.type in ("tuple[float, float, float]",):
            p.add_argument(flag, nargs=3, type=float, default=None)
        elif str(f.type).startswith("dict"):
            p.add_argument(flag, type=json.loads, default=None, metavar="JSON", help='e.g. \'{"jpeg_p": 0.3}\'')
        else:
            kind = {"int": int, "float": float, "bool": _bool}.get(str(f.type), str)
            p.add_argument(flag, type=kind, default=None)
    p.add_argument("--resume", action="store_true", help="continue the run in --out-dir from last_state.pt")
    p.add_argument("--no-install", action="store_true", help="do not copy the model into the app's model folder")
    return p


def _bool(text: str) -> bool:
    return text.lower() in ("1", "true", "yes", "on")


def config_from_args(argv: list[str] | None = None) -> TrainConfig:
    args = vars(build_parser().parse_args(argv))
    path = args.pop("config")
    overrides = {k: v for k, v in args.items() if v is not None and k not in ("no_install", "resume")}
    overrides["resume"] = args["resume"]
    if args["no_install"]:
        overrides["install"] = False
    base = TrainConfig.from_file(path).to_dict() if path else {}
    return TrainConfig.from_dict({**base, **overrides})


def main(argv: list[str] | None = None) -> int:
    cfg = config_from_args(argv)
    bar: tqdm | None = None
    try:
        for ev in fit(cfg):
            if ev.kind in ("cache", "batch"):
                desc = "cache" if ev.kind == "cache" else f"epoch {ev.epoch}/{ev.epochs}"
                if bar is None or bar.desc != desc or bar.total != ev.steps:
                    if bar is not None:
                        bar.close()
                    bar = tqdm(total=ev.steps, desc=desc, unit="batch" if ev.kind == "batch" else "file")
                bar.update(ev.step - bar.n)
                if "loss" in ev.metrics:
                    bar.set_postfix(loss=f"{ev.metrics['loss']:.4f}")
            else:
                if bar is not None:
                    bar.close(); bar = None
                print(ev.message, flush=True)
    except KeyboardInterrupt:
        print("cancelled; the best checkpoint so far is kept in", cfg.out_dir, file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        print(f"liveness-train: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
