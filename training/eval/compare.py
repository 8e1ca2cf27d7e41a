"""External liveness models as baselines beside ours, on the same frames.

Each compared model (a spec, :mod:`training.teachers.spec`) scores its own crop of every frame our model
scored (the teachers' score cache keeps the i-th score of a sample with its i-th cached crop); frames it
has no score for are left out of its figures and counted. Its metrics are computed twice: at its authors'
threshold and at ours (the model under evaluation's frozen one), so a reader sees both what it does as
published and how its scores rank against ours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from training.data.frames import Entry
from training.data.locked import family_of
from training.eval import metrics as M
from training.teachers import load_teachers
from training.teachers.scores import TeacherScoreCache

LEVEL_KEYS = ("auc", "eer", "apcer", "bpcer", "acer", "hter", "threshold", "n")


def compared_scores(
    specs: Sequence[str],
    items: Sequence,
    entries: Sequence[Entry],
    teachers_dir: Path | None,
    cache_dir: Path,
    detector: Path,
    frames_per_video: int,
    workers: int = 1,
) -> dict[str, tuple[np.ndarray, float, dict[str, Any]]]:
    """Spec name -> (P(live) per entry, NaN where it has none; its own threshold; spec facts)."""
    teachers = load_teachers(specs, teachers_dir)
    cache = TeacherScoreCache(cache_dir, detector, frames_per_video, teachers)
    by_crop = cache.build(items, workers=workers)
    out = {}
    for k, t in enumerate(teachers):
        scores = np.array([by_crop[e.crop_path][k] if e.crop_path in by_crop else np.nan for e in entries])
        facts = {
            "title": t.spec.title,
            "file": t.spec.file,
            "sha256": t.sha256,
            "source": t.spec.source,
            "licence": t.spec.licence,
            "crop": f"{t.spec.crop_rule} x{t.spec.crop_scale}",
            "input": f"{t.spec.size} px {t.spec.colour.upper()}",
        }
        out[t.spec.name] = (scores, t.spec.threshold, facts)
    return out


def _level(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: metrics.get(k) for k in LEVEL_KEYS}


def baseline_metrics(
    scores: np.ndarray, entries: Sequence[Entry], own_threshold: float, our_threshold: float
) -> dict[str, Any]:
    """AUC, EER, APCER per attack type, BPCER, ACER at the model's own threshold and at ours, frame and
    video level, over the entries it scored."""
    keep = ~np.isnan(scores)
    if not keep.any():
        return {"scored": 0, "missing": len(entries), "notes": ["no frame could be scored"]}
    s = scores[keep]
    kept = [e for e, k in zip(entries, keep) if k]
    labels, videos = [e.label for e in kept], [e.video_id for e in kept]
    own = M.compute_all(s, labels, own_threshold, video_ids=videos)
    ours = M.compute_all(s, labels, our_threshold, video_ids=videos)
    return {
        "scored": int(keep.sum()),
        "missing": int((~keep).sum()),
        "own_threshold": {level: _level(own[level]) for level in own},
        "our_threshold": {level: _level(ours[level]) for level in ours},
    }


def compare_all(
    specs: Sequence[str],
    items: Sequence,
    entries: Sequence[Entry],
    our_threshold: float,
    teachers_dir: Path | None,
    cache_dir: Path,
    detector: Path,
    frames_per_video: int,
    workers: int = 1,
) -> dict[str, Any]:
    """Every compared model's metrics (see :func:`baseline_metrics`) with its facts."""
    found = compared_scores(specs, items, entries, teachers_dir, cache_dir, detector, frames_per_video, workers)
    return {
        name: {**facts, **baseline_metrics(scores, entries, threshold, our_threshold)}
        for name, (scores, threshold, facts) in found.items()
    }


FAMILY_KEYS = ("auc", "eer", "acer", "bpcer", "apcer", "threshold", "n")


def per_family(
    scores: np.ndarray, labels: Sequence[str], groups: Sequence[str], threshold: float
) -> dict[str, dict[str, Any]]:
    """Frame metrics (:data:`FAMILY_KEYS`) per family of groups (:func:`family_of`) and over "all", at
    ``threshold``; frames scored NaN (no score from that model) are left out, a family with none is absent."""
    scores = np.asarray(scores, dtype=np.float64)
    fams = np.array([family_of(g) for g in groups])
    scored = ~np.isnan(scores)
    out = {}
    for fam in sorted(set(fams)) + ["all"]:
        keep = ((fams == fam) if fam != "all" else np.ones(len(fams), bool)) & scored
        if keep.any():
            m = M.compute_all(scores[keep], [lab for lab, k in zip(labels, keep) if k], threshold)["frame"]
            out[fam] = {k: m[k] for k in FAMILY_KEYS}
    return out
