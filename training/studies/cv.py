"""Cross-validation over whole groups: every group (person, recording, source) is in a test fold once.

    python -m training.studies.cv --config training/configs/gen-scratch.json --folds 3 --out runs/cv-scratch

For each fold the remaining groups give a source-balanced dev split (a share of each family of groups,
e.g. NUAA subjects, webcam recordings, replay-crop repositories) and the training split; ``fit()`` trains
and early-stops on dev; every threshold rule of :mod:`training.eval.thresholds` is computed on dev and frozen;
the test fold is then scored once. A ``teacher`` may name each fold's own model with ``{fold}``
(``runs/cv-gen-mnv2/fold-{fold}/best.pt``): a teacher that saw a fold's test groups would leak them.
Writes ``fold-K/result.json`` and ``scores.csv`` per fold, and ``cv.json`` / ``cv.md``: per fold and
overall AUC, EER, APCER per attack type, BPCER and ACER, at frame and video level, for every rule.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from liveness_app.core.device import select_device
from liveness_app.core.files import atomic_write, atomic_write_text
from liveness_app.core.model import load_checkpoint
from training.config import TrainConfig
from training.data.frames import eval_entries
from training.data.locked import without_locked
from training.data.samples import Sample
from training.eval import metrics as M
from training.eval.scoring import score_entries
from training.eval.thresholds import RULES, thresholds
from training.fit.events import returned
from training.fit.loop import fit, spec_of
from training.fit.prepare import load_samples, prepare_data


def family(group: str, all_groups: Sequence[str]) -> str:
    """The family a group belongs to: the prefix before its first "-" when at least three groups share
    it (``nuaa-0003``, ``webcam-Spp77``), else "other"."""
    prefix = group.split("-", 1)[0]
    return prefix if "-" in group and sum(g.startswith(prefix + "-") for g in all_groups) >= 3 else "other"


def assign_folds(samples: Sequence[Sample], k: int) -> list[list[str]]:
    """``k`` disjoint lists of groups covering all groups: within each family, the largest groups first,
    each to the fold holding fewest of that family (then fewest samples), so folds are alike."""
    sizes = Counter(s.group for s in samples)
    names = sorted(sizes)
    if len(names) < k:
        raise ValueError(f"{len(names)} groups cannot make {k} folds")
    folds: list[list[str]] = [[] for _ in range(k)]
    by_family: dict[str, list[str]] = defaultdict(list)
    for g in names:
        by_family[family(g, names)].append(g)
    for fam in sorted(by_family):
        for g in sorted(by_family[fam], key=lambda x: (-sizes[x], x)):
            i = min(
                range(k),
                key=lambda j: (sum(family(x, names) == fam for x in folds[j]), sum(sizes[x] for x in folds[j]), j),
            )
            folds[i].append(g)
    return folds


def dev_groups_for(samples: Sequence[Sample], test: Sequence[str], fraction: float, seed: int) -> list[str]:
    """A source-balanced dev split of the groups not in ``test``: ``fraction`` of each family (at least
    one where the family has two or more), drawn by ``seed``; live and attack both present."""
    rest = sorted({s.group for s in samples} - set(test))
    by_family: dict[str, list[str]] = defaultdict(list)
    for g in rest:
        by_family[family(g, rest)].append(g)
    rng = random.Random(seed)
    dev: list[str] = []
    for fam in sorted(by_family):
        groups = by_family[fam]
        n = max(1, round(fraction * len(groups))) if len(groups) >= 2 else 0
        dev += rng.sample(groups, n)
    classes = {s.is_live for s in samples if s.group in set(dev)}
    if classes != {True, False}:
        raise ValueError(f"the dev groups {dev} do not hold both live and attack samples")
    return sorted(dev)


def _score(model, items: list, cfg: TrainConfig, device, extra: float) -> tuple[np.ndarray, list]:
    entries = eval_entries(items, cfg.eval_frames_per_video)
    return score_entries(model, spec_of(cfg), entries, device, extra, cfg.batch_size, workers=cfg.workers)[0], entries


def run_fold(cfg: TrainConfig, k: int, test: list[str], dev: list[str], out: Path) -> dict[str, Any]:
    """Train on the fold's training groups, freeze every rule's threshold on dev, score the test groups."""
    fold_cfg = replace(
        cfg,
        out_dir=str(out / f"fold-{k}"),
        dev_groups=tuple(dev),
        test_groups=tuple(test),
        install=False,
        name=f"{cfg.name}-fold{k}",
        teacher=cfg.teacher.replace("{fold}", str(k)),
    )
    t0 = time.perf_counter()
    data = returned(prepare_data(fold_cfg))
    for ev in fit(fold_cfg, data):
        if ev.kind in ("epoch", "done", "warning"):
            print(f"[fold {k}] {ev.message}", flush=True)
    device, _ = select_device(cfg.device)
    model, meta = load_checkpoint(Path(fold_cfg.out_dir) / "best.pt", device)
    dev_scores, dev_entries = _score(model, data.dev, cfg, device, data.cache_margin_extra)
    test_scores, test_entries = _score(model, data.test, cfg, device, data.cache_margin_extra)
    rules = thresholds(dev_scores, [e.label for e in dev_entries], [e.group for e in dev_entries])
    labels, videos = [e.label for e in test_entries], [e.video_id for e in test_entries]
    at_rules = {
        rule: M.compute_all(test_scores, labels, thr, video_ids=videos)
        for rule, thr in rules.items()
        if thr is not None
    }
    _write_scores(Path(fold_cfg.out_dir) / "scores.csv", test_entries, test_scores, dev_entries, dev_scores)
    result = {
        "fold": k,
        "test_groups": sorted(test),
        "dev_groups": dev,
        "thresholds": rules,
        "test": at_rules,
        "best_epoch": meta.training.get("epoch"),
        "dev_at_pooled_eer": meta.metrics.get("dev", {}).get("frame", {}),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    atomic_write_text(Path(fold_cfg.out_dir) / "result.json", json.dumps(result, indent=1, default=float))
    return result


def _write_scores(
    path: Path, test_entries: list, test_scores: np.ndarray, dev_entries: list, dev_scores: np.ndarray
) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["split", "group", "label", "video_id", "score"])
        for split, entries, scores in (("test", test_entries, test_scores), ("dev", dev_entries, dev_scores)):
            w.writerows([split, e.group, e.label, e.video_id, f"{s:.6f}"] for e, s in zip(entries, scores))


def pooled(out: Path, folds: list[dict[str, Any]], rule: str) -> dict[str, Any]:
    """All folds' test scores at once, each shifted by its own fold's frozen threshold (decisions kept)."""
    scores, labels, videos = [], [], []
    for f in folds:
        thr = f["thresholds"].get(rule)
        if thr is None:
            return {}
        with (out / f"fold-{f['fold']}" / "scores.csv").open() as fh:
            for row in csv.DictReader(fh):
                if row["split"] == "test":
                    scores.append(float(row["score"]) - thr + 0.5)
                    labels.append(row["label"])
                    videos.append(f"{f['fold']}:{row['video_id']}")
    return M.compute_all(np.array(scores), labels, 0.5, video_ids=videos)


def summarize(out: Path, folds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per rule: every fold's frame/video AUC, EER, APCER per attack, BPCER, ACER; worst fold; pooled."""
    summary: dict[str, Any] = {}
    for rule in RULES:
        per_fold = [f["test"].get(rule) for f in folds]
        if any(r is None for r in per_fold):
            continue
        acers = [r["frame"]["acer"] for r in per_fold]
        summary[rule] = {
            "acer_mean": float(np.mean(acers)),
            "acer_worst": float(np.max(acers)),
            "auc_mean": float(np.mean([r["frame"]["auc"] for r in per_fold])),
            "auc_worst": float(np.min([r["frame"]["auc"] for r in per_fold])),
            "pooled": pooled(out, folds, rule),
        }
    return summary


def write_markdown(path: Path, cfg: TrainConfig, folds: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    pct = lambda v: "-" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    lines = [f"# Cross-validation: {cfg.name}", "", f"{len(folds)} folds over groups; recipe in config.json.", ""]
    for rule, s in summary.items():
        lines += [
            f"## Threshold rule `{rule}` (frozen on each fold's dev groups)",
            "",
            "| fold | test groups | thr | AUC | EER | APCER per attack | BPCER | ACER | video ACER |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for f in folds:
            r = f["test"][rule]
            fr, vid = r["frame"], r.get("video", {})
            apcer = ", ".join(f"{a} {pct(v)}" for a, v in fr["apcer"].items())
            lines.append(
                f"| {f['fold']} | {len(f['test_groups'])} | {f['thresholds'][rule]:.3f} | "
                f"{fr['auc']:.4f} | {pct(fr['eer'])} | {apcer} | {pct(fr['bpcer'])} | {pct(fr['acer'])} | "
                f"{pct(vid.get('acer'))} |"
            )
        p = s["pooled"]["frame"]
        lines += [
            "",
            f"Pooled over folds: AUC {p['auc']:.4f}, APCER "
            + ", ".join(f"{a} {pct(v)}" for a, v in p["apcer"].items())
            + f", BPCER {pct(p['bpcer'])}, ACER {pct(p['acer'])}; mean fold ACER {pct(s['acer_mean'])}, "
            f"worst {pct(s['acer_worst'])}; worst fold AUC {s['auc_worst']:.4f}.",
            "",
        ]
    atomic_write_text(path, "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.studies.cv", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, required=True, help="training config (JSON) every fold uses")
    p.add_argument("--data", action="append", help="dataset specs (default: the config's)")
    p.add_argument("--folds", type=int, default=3, help="number of folds (default 3)")
    p.add_argument("--only", type=int, nargs="*", help="run only these fold numbers (resume a CV)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    args = p.parse_args(argv)
    cfg = TrainConfig.from_file(args.config)
    if args.data:
        cfg = replace(cfg, data=tuple(args.data))
    samples, _ = load_samples(cfg.data)
    if cfg.holdout_locked:  # the locked test split judges shipped models: no fold trains or tests on it
        samples, _ = without_locked(samples)
    folds = assign_folds(samples, args.folds)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "config.json", json.dumps(cfg.to_dict(), indent=2, default=str))
    atomic_write_text(args.out / "folds.json", json.dumps(folds, indent=1))
    results = []
    for k, test in enumerate(folds):
        done = args.out / f"fold-{k}" / "result.json"
        wanted = k in args.only if args.only is not None else not done.is_file()
        if wanted:
            dev = dev_groups_for(samples, test, cfg.dev_fraction, cfg.seed + k)
            results.append(run_fold(cfg, k, test, dev, args.out))
        elif done.is_file():  # a fold finished earlier (a CV is resumed fold by fold)
            results.append(json.loads(done.read_text()))
    summary = summarize(args.out, results)
    atomic_write_text(args.out / "cv.json", json.dumps({"folds": results, "summary": summary}, indent=1, default=float))
    write_markdown(args.out / "cv.md", cfg, results, summary)
    print((args.out / "cv.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
