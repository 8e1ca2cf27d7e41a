"""Adapt to my camera: calibrate, fine-tune, and check both on sessions held out from either.

:func:`adapt_to_camera` is what the app's guided flow runs on a worker thread (a generator of
:class:`TrainEvent`, so it has progress and cancel): it takes the user's sessions for training (split by
:func:`training.splits.split_by_session` into train and dev inside :func:`training.loop.fit`) and the
held-out sessions, and returns the before/after figures on the held-out ones with one plain sentence.
"""
from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from . import metrics as M
from .calibrate import calibrate_samples, score_samples
from .config import FINETUNE, TrainConfig
from .dataset import Sample
from .events import TrainEvent
from .loop import fit
from .splits import split_by_session


def write_manifest(path: Path, samples: Sequence[Sample]) -> Path:
    """Samples as a manifest ``liveness-train --data`` reads (absolute paths, their groups kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "attack_type", "group", "precropped"])
        for s in samples:
            w.writerow([str(Path(s.path).resolve()), s.label, "" if s.is_live else s.attack_type, s.group,
                        str(s.precropped).lower()])
    return path


def judge(scores: Sequence[float], labels: Sequence[str], threshold: float) -> dict[str, Any]:
    """AUC, APCER (the worst attack type), BPCER and ACER at ``threshold``, with the counts."""
    frame = M.compute_all(scores, labels, threshold)["frame"]
    return {"auc": frame["auc"], "apcer": max(frame["apcer"].values()) if frame["apcer"] else None,
            "bpcer": frame["bpcer"], "acer": frame["acer"], "threshold": float(threshold),
            "n_live": frame["n_live"], "n_attack": frame["n_attack"]}


def sentence(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The outcome in one plain sentence."""
    def part(r: dict[str, Any]) -> str:
        return (f"rejects {round(r['bpcer'] * r['n_live'])} of {r['n_live']} live frames and accepts "
                f"{round(r['apcer'] * r['n_attack'])} of {r['n_attack']} attack frames")
    better = after["acer"] < before["acer"]
    verdict = "The adapted model makes fewer errors" if better else "The adapted model is not better"
    return f"{verdict} on your held-out sessions: it {part(after)}; the model you had {part(before)}."


def pick(base: Path, adapted: Path, dev: Sequence[Sample], calibrated_threshold: float, *,
         cache_dir: Path | None = None, device: str = "auto") -> dict[str, Any]:
    """Keep the fine-tuned model only if it beats the calibrated base on the user's dev sessions (a tie
    keeps the base: a few minutes of one person should never make a good model worse)."""
    b_scores, b_labels, _ = score_samples(base, dev, cache_dir=cache_dir, device=device)
    a_scores, a_labels, a_meta = score_samples(adapted, dev, cache_dir=cache_dir, device=device)
    dev_base, dev_adapted = judge(b_scores, b_labels, calibrated_threshold), judge(a_scores, a_labels, a_meta.threshold)
    chosen = "adapted" if dev_adapted["acer"] < dev_base["acer"] else "calibrated"
    return {"chosen": chosen, "dev_calibrated": dev_base, "dev_adapted": dev_adapted}


def adapt_to_camera(base: Path, train: Sequence[Sample], held_out: Sequence[Sample], out_dir: Path, name: str,
                    *, device: str = "auto", cache_dir: Path | None = None, install: bool = True,
                    recipe: dict[str, Any] | None = None) -> Iterator[TrainEvent]:
    """Calibrate ``base`` on ``train``, fine-tune it on ``train`` (``FINETUNE``, ``recipe`` over it), judge
    both on ``held_out``.

    Returns (StopIteration value) a dict: ``calibrated_threshold``, ``before``, ``calibrated``, ``adapted``
    (each :func:`judge`), ``chosen`` (:func:`pick`: "adapted" or "calibrated"), ``app`` (the judgement of
    the chosen one), ``sentence``, ``model_path`` and ``seconds`` (from the recordings to the chosen model:
    caching, calibration, fine-tuning and the choice; judging the held-out sessions is not counted).
    The app's guided flow and :mod:`training.adapt_bench` both run this."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    yield TrainEvent("warning", message="calibrating the current model on your sessions")
    cal = calibrate_samples(base, train, cache_dir=cache_dir, device=device)
    cfg = TrainConfig(**{**FINETUNE, **(recipe or {}), "data": (str(write_manifest(out_dir / "recordings.csv", train)),),
                         "init": str(base), "out_dir": str(out_dir / "run"), "name": name, "install": install,
                         "device": device, "workers": 0,
                         **({"cache_dir": str(cache_dir)} if cache_dir else {})})
    model_path = None
    for ev in fit(cfg):
        if ev.kind == "done":
            model_path = ev.model_path
        yield ev
    choice = pick(base, Path(model_path), split_by_session(train, cfg.dev_fraction)[1], cal["threshold"],
                  cache_dir=cache_dir, device=device)
    seconds = round(time.perf_counter() - t0, 1)
    base_scores, base_labels, base_meta = score_samples(base, held_out, cache_dir=cache_dir, device=device)
    new_scores, new_labels, new_meta = score_samples(Path(model_path), held_out, cache_dir=cache_dir, device=device)
    before = judge(base_scores, base_labels, base_meta.threshold)
    result = {"calibrated_threshold": cal["threshold"], "before": before,
              "calibrated": judge(base_scores, base_labels, cal["threshold"]),
              "adapted": judge(new_scores, new_labels, new_meta.threshold), "model_path": Path(model_path),
              "seconds": seconds}
    result["sentence"] = sentence(before, result["adapted"])
    result.update(choice)
    result["app"] = result["adapted"] if choice["chosen"] == "adapted" else result["calibrated"]
    if choice["chosen"] == "calibrated":
        result["sentence"] += (" On your dev sessions the fine-tuned model was no better than the calibrated "
                               "threshold, so keeping your model with that threshold is recommended.")
    return result
