"""The student, each teacher and the previous default side by side, per fold and on the locked split.

    python -m training.studies.side_by_side --cv runs/cv-gen-teachers --teachers runs/teachers/teachers.json \
        --gate runs/final-teachers/gate/gate.json --previous models/default.pt --data ... --out OUT

Reads what the other studies wrote: the student's cross-validation (``fold-K/scores.csv`` and the frozen
pooled-EER threshold of ``cv.json``), the teachers' study (``training.studies.teachers``: each teacher at its
authors' threshold) and the gate's table (the locked split); scores the previous default on each fold's test
groups at its own threshold (it trained on every group: the table says so). Writes ``side_by_side.md`` and
``.json``: frame-level AUC / ACER over all of each fold's test groups and per family.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from training.eval.compare import per_family


def student_folds(cv_dir: Path) -> dict[str, Any]:
    """Per fold: the student's test metrics per family at its dev-frozen pooled-EER threshold."""
    out = {}
    for fold in json.loads((cv_dir / "cv.json").read_text())["folds"]:
        k, threshold = fold["fold"], fold["thresholds"]["pooled_eer"]
        with (cv_dir / f"fold-{k}" / "scores.csv").open(newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
        out[f"fold {k}"] = per_family(
            np.array([float(r["score"]) for r in rows]),
            [r["label"] for r in rows],
            [r["group"] for r in rows],
            threshold,
        )
    return out


def previous_folds(model: Path, cv_dir: Path, data: list[str], cache_dir: Path) -> dict[str, Any]:
    """Per fold: a model's test metrics per family at its own threshold."""
    from liveness_app import paths
    from training.fit.prepare import load_samples
    from training.gate import score_model

    samples, _ = load_samples(data)
    out = {}
    for k, test in enumerate(json.loads((cv_dir / "folds.json").read_text())):
        chosen = [s for s in samples if s.group in set(test)]
        meta, _, entries, scores = score_model(model, chosen, cache_dir, paths.default_detector_path(), 8)
        out[f"fold {k}"] = per_family(scores, [e.label for e in entries], [e.group for e in entries], meta.threshold)
    return out


def table(rows: dict[str, dict[str, Any]], splits: list[str]) -> str:
    def cell(c: dict[str, Any] | None) -> str:
        if not c or c.get("auc") is None:
            return "n/a"
        return f"{c['auc']:.3f} / {100 * c['acer']:.1f} %" if c.get("acer") is not None else f"{c['auc']:.3f}"

    lines = ["| model | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    lines += [
        f"| {name} | " + " | ".join(cell(r.get(s, {}).get("all")) for s in splits) + " |" for name, r in rows.items()
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.studies.side_by_side", description=__doc__.split("\n\n")[0])
    p.add_argument("--cv", type=Path, required=True, help="the student's cross-validation folder")
    p.add_argument("--teachers", type=Path, required=True, help="teachers.json of training.studies.teachers")
    p.add_argument("--gate", type=Path, required=True, help="gate.json of the student's gate")
    p.add_argument("--previous", type=Path, required=True, help="the previous default")
    p.add_argument("--data", action="append", required=True)
    p.add_argument("--cache-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    teachers = json.loads(a.teachers.read_text())
    gate = json.loads(a.gate.read_text())["models"]
    rows: dict[str, dict[str, Any]] = {
        "student (this recipe; locked: the candidate file)": student_folds(a.cv),
        "previous default (trained on every fold's groups)": previous_folds(a.previous, a.cv, a.data, a.cache_dir),
    }
    rows["student (this recipe; locked: the candidate file)"]["locked split"] = gate["candidate"]["families"]
    rows["previous default (trained on every fold's groups)"]["locked split"] = gate["current default"]["families"]
    names = [n for n in teachers["fold 0"] if not n.startswith("rule:")]
    for name in names + ["rule:mean"]:
        how = "dev_eer_threshold" if name.startswith("rule:") else "own_threshold"
        rows[name + (" (dev EER thr.)" if name.startswith("rule:") else " (own thr.)")] = {
            split: found[name][how] for split, found in teachers.items()
        }
    splits = sorted(s for s in teachers if s.startswith("fold")) + ["locked split"]
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "side_by_side.json").write_text(json.dumps(rows, indent=1, default=float))
    text = table(rows, splits)
    (a.out / "side_by_side.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
