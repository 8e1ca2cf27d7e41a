"""The gate a candidate default passes before it may replace ``models/default.pt``.

    python -m training.gate --candidate runs/x/best.pt --data ../shared/data/manifest.csv \
        --data ../shared/data/webcam/manifest.csv --teachers-dir ../shared/teachers --out runs/x/gate

Scores the candidate, the current default and the external teachers on the locked test split
(:mod:`training.data.locked`: groups no shipped model trains on), per family of groups, each at its own
threshold, and prints the table. Exits 1 when the candidate's AUC is below the current default's by more
than ``--margin`` (0.02) on any family, 2 on an error, 0 otherwise. Writes ``gate.json`` and ``gate.md``
(the table the model card shows). A model whose metadata says it trained or calibrated on a locked group is
flagged: its figures there are not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

MARGIN = 0.02
CACHED_FRAMES = 16  # frames cached per video: training's default, so the gate reuses training's crops and scores


def _saw_locked(meta: Any, locked: frozenset[str]) -> list[str]:
    data = meta.training.get("data", {}) if isinstance(meta.training, dict) else {}
    seen = set()
    for split in ("train", "dev"):
        groups = (data.get(split) or {}).get("per_group") or {}
        seen |= set(groups) if isinstance(groups, dict) else set()
    return sorted(seen & locked)


def score_model(
    path: Path, samples: Sequence, cache_dir: Path, detector: Path, frames: int
) -> tuple[Any, list, list, np.ndarray]:
    """The model's metadata, cached items, entries and scores on ``samples``; ``path``: a ``.pt`` checkpoint
    or an ``.onnx`` model."""
    from training.data.cache import CropCache
    from training.data.frames import eval_entries
    from training.eval.scoring import open_model, score_entries
    from training.fit.events import returned
    from training.fit.prepare import CACHE_MARGIN_EXTRA, cache_samples

    model, meta, device = open_model(path)
    cache = CropCache(
        cache_dir, detector, meta.preprocessing.crop_margin, CACHE_MARGIN_EXTRA, frames_per_video=CACHED_FRAMES
    )
    items, _ = returned(cache_samples(cache, samples))
    entries = eval_entries(items, frames)
    scores, _ = score_entries(model, meta.preprocessing, entries, device)
    return meta, items, entries, np.asarray(scores, dtype=np.float64)


def run_gate(
    candidate: Path,
    current: Path,
    data: Sequence[str],
    teachers: Sequence[str],
    teachers_dir: Path | None,
    cache_dir: Path,
    margin: float = MARGIN,
    frames: int = 8,
    locked: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The gate's table and verdict (see the module docstring); ``locked``: the committed split's groups
    unless given."""
    from liveness_app import paths
    from training.data.locked import locked_groups
    from training.eval.compare import compared_scores, per_family
    from training.fit.prepare import load_samples

    locked = locked if locked is not None else locked_groups()
    samples = [s for s in load_samples(data)[0] if s.group in locked]
    if not samples:
        raise ValueError("none of the data belongs to the locked test split's groups")
    detector = paths.default_detector_path()
    models: dict[str, Any] = {}
    for role, path in (("candidate", candidate), ("current default", current)):
        meta, items, entries, scores = score_model(path, samples, cache_dir, detector, frames)
        models[role] = {
            "file": str(path),
            "name": meta.name,
            "threshold": meta.threshold,
            "saw_locked_groups": _saw_locked(meta, locked),
            "families": per_family(scores, [e.label for e in entries], [e.group for e in entries], meta.threshold),
        }
        if role == "candidate":
            cand_items, cand_entries = items, entries
    for name, (scores, threshold, facts) in compared_scores(
        teachers, cand_items, cand_entries, teachers_dir, cache_dir, detector, CACHED_FRAMES, workers=2
    ).items():
        models[name] = {
            "file": facts["file"],
            "sha256": facts["sha256"],
            "threshold": threshold,
            "teacher": True,
            "families": per_family(scores, [e.label for e in cand_entries], [e.group for e in cand_entries], threshold),
        }
    return {
        "groups": sorted({s.group for s in samples}),
        "margin": margin,
        "models": models,
        **_verdict(models, margin),
    }


def _verdict(models: dict[str, Any], margin: float) -> dict[str, Any]:
    cand, cur = models["candidate"]["families"], models["current default"]["families"]
    worse = [f for f in cand if f in cur and (cand[f]["auc"] or 0) < (cur[f]["auc"] or 0) - margin]
    teachers = [m for m in models.values() if m.get("teacher")]
    beats = {f: all((cand[f]["auc"] or 0) > (t["families"].get(f, {}).get("auc") or 0) for t in teachers) for f in cand}
    return {"passed": not worse, "worse_than_current": worse, "beats_every_teacher": beats}


def markdown(result: dict[str, Any]) -> str:
    models = result["models"]
    fams = list(models["candidate"]["families"])
    lines = [
        "| model | threshold | " + " | ".join(f"{f} AUC / ACER" for f in fams) + " |",
        "|---|---|" + "---|" * len(fams),
    ]
    for name, m in models.items():
        flag = " (trained on locked groups: not a test)" if m.get("saw_locked_groups") else ""
        cells = [
            f"{c['auc']:.3f} / {100 * c['acer']:.1f} %"
            if c.get("auc") is not None and c.get("acer") is not None
            else "n/a"
            for c in (m["families"].get(f, {}) for f in fams)
        ]
        lines.append(f"| {name}{flag} | {m['threshold']:.3f} | " + " | ".join(cells) + " |")
    verdict = (
        "PASSED"
        if result["passed"]
        else f"FAILED: more than {result['margin']} AUC below the current default on {', '.join(result['worse_than_current'])}"
    )
    lines += [
        "",
        f"Gate: {verdict}. Frame level, each model at its own threshold; locked groups: {', '.join(result['groups'])}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from liveness_app import paths
    from liveness_app.core.files import atomic_write_text
    from liveness_app.core.meta import ModelLoadError
    from liveness_app.core.scores import ScoreRangeError
    from training.teachers.spec import SpecError, builtin_specs

    p = argparse.ArgumentParser(prog="python -m training.gate", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--candidate", type=Path, required=True, help="the model that would become the default (.pt or .onnx)"
    )
    p.add_argument(
        "--current", type=Path, default=paths.default_model_path(), help="the default it would replace (.pt or .onnx)"
    )
    p.add_argument(
        "--data", action="append", required=True, help="the shared data's manifests (locked groups are read)"
    )
    p.add_argument("--teacher", action="append", help="external models to show beside (default: every built-in spec)")
    p.add_argument("--teachers-dir", type=Path, help="folder holding the teachers' ONNX files")
    p.add_argument(
        "--cache-dir", type=Path, default=None, help="crop and score cache (default: the user data folder's)"
    )
    p.add_argument("--margin", type=float, default=MARGIN, help="AUC the candidate may lose on a family (default 0.02)")
    p.add_argument("--out", type=Path, required=True, help="folder for gate.json and gate.md")
    a = p.parse_args(argv)
    try:
        result = run_gate(
            a.candidate,
            a.current,
            a.data,
            a.teacher or list(builtin_specs()),
            a.teachers_dir,
            a.cache_dir or paths.user_data_dir() / "cache",
            a.margin,
        )
    except (ModelLoadError, SpecError, ValueError, OSError, ScoreRangeError) as exc:
        print(f"gate: error: {exc}", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(a.out / "gate.json", json.dumps(result, indent=1, default=float))
    atomic_write_text(a.out / "gate.md", markdown(result))
    print(markdown(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
