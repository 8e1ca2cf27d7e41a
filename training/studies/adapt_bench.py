"""Adaptation benchmark: does "adapt to my camera" make fewer errors for a person the model never saw?

    python -m training.studies.adapt_bench --data SPEC [--data SPEC ...] --model CKPT --out DIR [--minutes 2]

Each group is a user. Within each group and label, samples in path order are capture order: the first part
(up to ``--minutes`` of 30 fps video shared among the labels, at most half) is what the user records; the
rest is their later use, on which three models are judged:

- ``before``: the base model at its own threshold;
- ``calibrated``: the base model at the EER threshold of the user's recordings (no training);
- ``adapted``: the base fine-tuned on the recordings (``training.config.FINETUNE``), at its threshold.

Per user: AUC, APCER (the worst attack type), BPCER, ACER, and ``seconds`` from the recordings (files on
disk, faces not yet detected) to the adapted model. Writes ``DIR/adapt.json``, ``DIR/adapt.md`` and, per user,
``DIR/users/GROUP/scores.npz`` (the held-out and dev scores of the base and the adapted model, the labels, the
three thresholds) for looking into a result without training again.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from liveness_app.core.backends.factory import require_checkpoint
from liveness_app.core.device import CHOICES as DEVICES
from liveness_app.core.device import use_training_threads
from liveness_app.core.files import atomic_write_text
from liveness_app.core.model import ModelLoadError, load_checkpoint
from liveness_app.core.sessions import file_kind
from training.adapt import CHOICES, adapt_to_camera
from training.config import FINETUNE
from training.data.samples import Sample
from training.fit.events import returned
from training.fit.prepare import load_samples

FPS = 30.0
METRICS = ("auc", "apcer", "bpcer", "acer")


def split_user(samples: Sequence[Sample], minutes: float) -> tuple[list[Sample], list[Sample]]:
    """(recorded, later) for one user: per label, the first samples up to its share of ``minutes`` of
    video (a video counts its frames at most once per cached frame, an image one frame), at most half."""
    by_label: dict[str, list[Sample]] = {}
    for s in sorted(samples, key=lambda x: str(x.path)):
        by_label.setdefault(s.label, []).append(s)
    budget = minutes * 60 * FPS / max(len(by_label), 1)
    recorded, later = [], []
    for items in by_label.values():
        n = min(len(items) // 2, int(budget)) if all(s.kind == "image" for s in items) else len(items) // 2
        recorded += items[:n]
        later += items[n:]
    return recorded, later


def readable_samples(samples: Sequence[Sample], skipped: list[tuple[str, str]]) -> list[Sample]:
    """The samples whose file is a regular file (or missing: the cache lists those); any other (a FIFO
    would block the reader for good, whatever dataset listed it) is added to ``skipped`` with the reason."""
    kept: list[Sample] = []
    for s in samples:
        kind = file_kind(s.path)
        if kind in ("file", "missing"):
            kept.append(s)
        else:
            skipped.append((str(s.path), f"{kind}, not an image or video file"))
    return kept


def _load(p: argparse.ArgumentParser, specs: list[str]) -> list[Sample]:
    """The samples of every ``--data`` spec, opened files only; what was left out is said on stderr."""
    try:
        samples, skipped = load_samples(specs)
    except ValueError as exc:  # DatasetLayoutError, no data at all
        p.error(f"--data: {exc}")
    skipped = list(skipped)
    samples = readable_samples(samples, skipped)
    for path, reason in skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if not samples:
        p.error("--data: no usable image or video (see the skipped files above)")
    return samples


def adapt_user(
    group: str, samples: Sequence[Sample], base: Path, out: Path, args: argparse.Namespace, recipe: dict[str, Any]
) -> dict[str, Any]:
    """The three judgements for one user, by the app's own flow (:func:`training.adapt.adapt_to_camera`)
    on a cache of its own, so that face detection on the recordings is part of the timed wait."""
    recorded, later = split_user(samples, args.minutes)
    user_dir = out / "users" / group.replace("/", "_")
    fresh_cache = user_dir / "cache"
    shutil.rmtree(fresh_cache, ignore_errors=True)
    flow = adapt_to_camera(
        base,
        recorded,
        later,
        user_dir,
        f"adapted-{group}",
        device=args.device,
        cache_dir=fresh_cache,
        install=False,
        recipe=recipe,
    )
    r = returned(flow, lambda ev: ev.kind == "epoch" and print(f"[{group}] {ev.message}", flush=True))
    arrays = {
        **{f"later_{k}": np.asarray(v) for k, v in r["scores"].items()},
        **{f"dev_{k}": np.asarray(v) for k, v in r["dev_scores"].items()},
        "thresholds": np.asarray([r["before"]["threshold"], r["calibrated"]["threshold"], r["adapted"]["threshold"]]),
    }
    # mypy matches the unpacked names against savez's allow_pickle: bool; none of them is that name
    np.savez(user_dir / "scores.npz", **arrays)  # type: ignore[arg-type]
    return {
        "group": group,
        "before": r["before"],
        "calibrated": r["calibrated"],
        "adapted": r["adapted"],
        "chosen": r["chosen"],
        "app": r["app"],
        "seconds": r["seconds"],
        "stage_seconds": r["stage_seconds"],
        "recorded": len(recorded),
        "later": len(later),
    }


def summarize(users: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per condition, and how many users meet the target (adapted ACER <= half of before and
    <= 5 %)."""
    out: dict[str, Any] = {"users": len(users)}
    for cond in ("before", "calibrated", "adapted", "app"):
        out[cond] = {m: float(np.median([u[cond][m] for u in users if u[cond][m] is not None])) for m in METRICS}
    for cond in ("adapted", "app"):
        met = [u[cond]["acer"] <= min(0.5 * u["before"]["acer"], 0.05) for u in users]
        out[f"target_met_{cond}"] = int(sum(met))
        out[f"target_met_share_{cond}"] = float(np.mean(met)) if users else 0.0
    out["choices"] = {c: sum(u["chosen"] == c for u in users) for c in CHOICES}
    out["seconds_median"] = float(np.median([u["seconds"] for u in users]))
    out["seconds_max"] = float(np.max([u["seconds"] for u in users]))
    steps = [u.get("stage_seconds") or {} for u in users]
    out["stage_seconds_median"] = {k: float(np.median([st[k] for st in steps if k in st])) for k in steps[0]}
    return out


def markdown(users: list[dict[str, Any]], summary: dict[str, Any], args: argparse.Namespace) -> str:
    pct = lambda v: "-" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    lines = [
        f"# Adaptation benchmark: {Path(args.model).name}, {args.minutes:g} min of recordings per user",
        "",
        "| user | recorded / later | before ACER (APCER/BPCER) | calibrated ACER (APCER/BPCER) | "
        "adapted ACER (APCER/BPCER) | app's choice | AUC before / adapted | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for u in users:
        cells = [
            f"{pct(u[c]['acer'])} ({pct(u[c]['apcer'])} / {pct(u[c]['bpcer'])})"
            for c in ("before", "calibrated", "adapted")
        ]
        auc = f"{u['before']['auc']:.3f} / {u['adapted']['auc']:.3f}" if u["adapted"]["auc"] is not None else "-"
        choice = f"{u['chosen']}: {pct(u['app']['acer'])}"
        lines.append(
            f"| {u['group']} | {u['recorded']} / {u['later']} | "
            + " | ".join(cells)
            + f" | {choice} | {auc} | {u['seconds']} |"
        )
    s = summary
    lines += [
        "",
        f"Medians: ACER before {pct(s['before']['acer'])}, calibrated {pct(s['calibrated']['acer'])}, "
        f"adapted {pct(s['adapted']['acer'])}, the app's choice {pct(s['app']['acer'])} (of "
        f"{s['users']} users: the fine-tuned model for {s['choices']['adapted']}, the calibrated threshold "
        f"for {s['choices']['calibrated']}, the model as it was for {s['choices']['kept']}). Target "
        f"(ACER <= half of before and <= 5 %) met for {s['target_met_adapted']} of {s['users']} users "
        f"adapted ({pct(s['target_met_share_adapted'])}), {s['target_met_app']} with the app's choice "
        f"({pct(s['target_met_share_app'])}). Recordings to adapted model: median "
        f"{s['seconds_median']:.0f} s, max {s['seconds_max']:.0f} s; its steps (median s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in s.get("stage_seconds_median", {}).items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.studies.adapt_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", action="append", required=True, help="dataset spec, as liveness-train --data")
    p.add_argument(
        "--model",
        type=Path,
        required=True,
        help="the base model, a .pt checkpoint (it is fine-tuned; never trained on these groups)",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--minutes", type=float, default=2.0, help="minutes of 30 fps recordings per user (default 2)")
    p.add_argument("--groups", nargs="*", help="only these groups (default: every group with both classes)")
    p.add_argument("--recipe", type=json.loads, default={}, help="fine-tune options over FINETUNE, as JSON")
    p.add_argument("--device", choices=DEVICES, default="auto", help="where to train and score")
    args = p.parse_args(argv)
    use_training_threads()
    samples = _load(p, args.data)
    by_group: dict[str, list[Sample]] = {}
    for s in samples:
        by_group.setdefault(s.group, []).append(s)
    wanted = args.groups or sorted(g for g, ss in by_group.items() if len({x.is_live for x in ss}) == 2)
    unknown = [g for g in wanted if g not in by_group]
    if unknown:
        p.error(f"no such group in the data: {', '.join(unknown)}")
    try:  # before any user: an unreadable base would skip every one of them
        load_checkpoint(require_checkpoint(args.model, "fine-tuning the base for each user"))
    except ModelLoadError as exc:
        p.error(f"--model: {exc}")
    args.out.mkdir(parents=True, exist_ok=True)
    users = []
    for group in wanted:
        try:
            users.append(adapt_user(group, by_group[group], args.model, args.out, args, args.recipe))
        except ValueError as exc:  # e.g. a recording with no usable dev split: reported, not fatal
            print(f"[{group}] skipped: {exc}", file=sys.stderr)
        summary = summarize(users) if users else {}
        atomic_write_text(
            args.out / "adapt.json",
            json.dumps({"users": users, "summary": summary, "recipe": {**FINETUNE, **args.recipe}}, indent=1),
        )
    if not users:
        print(
            f"no user could be measured (see the messages above); nothing written to {args.out / 'adapt.md'}",
            file=sys.stderr,
        )
        return 1
    atomic_write_text(args.out / "adapt.md", markdown(users, summarize(users), args))
    print((args.out / "adapt.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
