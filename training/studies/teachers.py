"""The teachers alone, as models: each one and each way of combining them, on the cross-validation folds.

    python -m training.studies.teachers --config training/configs/gen-scratch.json \
        --teachers-dir ../shared/teachers --cache-dir DIR --out runs/teachers

Same folds and dev groups as ``training.studies.cv`` with that config (locked groups left out). Per fold,
each teacher is scored on the test groups at its authors' threshold and at the EER threshold of the fold's
dev groups; each combination rule (:mod:`training.teachers.combine`) is fitted on the fold's dev groups and
scored on its test groups at its dev EER threshold. On the locked split, the rules are fitted on the dev
groups of all other data (the shipped model's dev rule). Nothing here trains a network: it is the baseline a
student has to beat, and the evidence for which soft target to teach it. Writes ``teachers.json`` and
``teachers.md``; crops and scores are cached.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from training.data.locked import locked_groups
from training.eval.compare import per_family
from training.teachers.combine import RULES, fit_combiner
from training.teachers.spec import builtin_specs


def _rows(items: Sequence, by_crop: dict, groups: set[str]) -> tuple[np.ndarray, list[str], list[str]]:
    """Teacher score matrix, labels and groups of every scored crop of ``groups``."""
    rows, labels, fams = [], [], []
    for item in items:
        if item.sample.group in groups:
            for p in item.crop_paths:
                if Path(p) in by_crop:
                    rows.append(by_crop[Path(p)])
                    labels.append(item.sample.label)
                    fams.append(item.sample.group)
    return np.asarray(rows).reshape(-1, len(next(iter(by_crop.values())))), labels, fams


def evaluate_split(
    names: list[str], items: Sequence, by_crop: dict, dev: set[str], test: set[str], own: dict[str, float]
) -> dict[str, Any]:
    """Every teacher and every rule: fitted / thresholded on ``dev``, judged on ``test``."""
    from training.eval import rates as R

    p_dev, lab_dev, _ = _rows(items, by_crop, dev)
    p_test, lab_test, g_test = _rows(items, by_crop, test)
    live_dev = R.live_mask(lab_dev)
    out: dict[str, Any] = {}
    for i, name in enumerate(names):
        thr = R.eer(p_dev[:, i], live_dev)[1]
        out[name] = {
            "dev_eer_threshold": per_family(p_test[:, i], lab_test, g_test, thr),
            "own_threshold": per_family(p_test[:, i], lab_test, g_test, own[name]),
        }
    for rule in RULES:
        comb = fit_combiner(rule, names, p_dev, live_dev)
        dev_scores = comb(p_dev)
        thr = R.eer(dev_scores, live_dev)[1]
        out[f"rule:{rule}"] = {
            "dev_eer_threshold": per_family(comb(p_test), lab_test, g_test, thr),
            "fit": comb.to_dict(),
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = []
    for split, found in result.items():
        fams = list(next(iter(found.values()))["dev_eer_threshold"])
        lines += [
            f"### {split}",
            "",
            "| model | " + " | ".join(f"{f} AUC / ACER" for f in fams) + " |",
            "|---|" + "---|" * len(fams),
        ]
        for name, r in found.items():
            for how in ("dev_eer_threshold", "own_threshold"):
                if how in r:
                    cells = [
                        f"{c['auc']:.3f} / {100 * c['acer']:.1f} %" if c["auc"] is not None else "n/a"
                        for c in (r[how][f] for f in fams)
                    ]
                    lines.append(
                        f"| {name} ({'dev EER thr.' if how.startswith('dev') else 'own thr.'}) | "
                        + " | ".join(cells)
                        + " |"
                    )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from liveness_app import paths
    from training.config import TrainConfig
    from training.data.locked import without_locked
    from training.fit.events import returned
    from training.fit.prepare import cache_samples, load_samples, make_cache
    from training.studies.cv import assign_folds, dev_groups_for
    from training.teachers import load_teachers
    from training.teachers.scores import TeacherScoreCache

    p = argparse.ArgumentParser(prog="python -m training.studies.teachers", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, required=True, help="the training config whose folds and dev rule to use")
    p.add_argument("--data", action="append", help="dataset specs (default: the config's)")
    p.add_argument("--teacher", action="append", help=f"spec (default: all built-in: {', '.join(builtin_specs())})")
    p.add_argument("--teachers-dir", type=Path, help="folder with the ONNX files the specs name")
    p.add_argument("--cache-dir", type=Path, help="crop and score cache (default: the user data folder's cache/)")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    cfg = TrainConfig.from_file(a.config)
    cfg = replace(cfg, data=tuple(a.data or cfg.data), cache_dir=str(a.cache_dir or cfg.cache_dir))
    teachers = load_teachers(a.teacher or list(builtin_specs()), a.teachers_dir)
    names = [t.spec.name for t in teachers]
    samples, _ = load_samples(cfg.data)
    items, _ = returned(cache_samples(make_cache(cfg), samples))
    cache = TeacherScoreCache(
        Path(cfg.cache_dir or paths.user_data_dir() / "cache"),
        paths.default_detector_path(),
        cfg.frames_per_video,
        teachers,
    )
    by_crop = cache.build(
        items, workers=a.workers, progress=lambda n, t: print(f"\rteachers {n}/{t}", end="", file=sys.stderr)
    )
    own = {t.spec.name: t.spec.threshold for t in teachers}
    open_samples, _ = without_locked(samples)
    result: dict[str, Any] = {}
    for k, test in enumerate(assign_folds(open_samples, a.folds)):
        dev = dev_groups_for(open_samples, test, cfg.dev_fraction, cfg.seed + k)
        result[f"fold {k}"] = evaluate_split(names, items, by_crop, set(dev), set(test), own)
    all_dev = dev_groups_for(open_samples, [], cfg.dev_fraction, cfg.seed)
    result["locked split"] = evaluate_split(names, items, by_crop, set(all_dev), set(locked_groups()), own)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "teachers.json").write_text(json.dumps(result, indent=1, default=float))
    (a.out / "teachers.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
