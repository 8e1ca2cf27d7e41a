"""Calibrate only: a threshold for one camera from the user's recorded sessions, in seconds, no training.

    python -m training.calibrate --model models/default.pt --data ~/.local/share/LivenessStudio/recordings

Scores the sessions with the model exactly as evaluation does (the app's crop, the model's own
preprocessing) and picks the threshold by a rule: the EER threshold of these sessions, or the
lowest-APCER threshold that keeps BPCER (live faces rejected) at or under a target. The model file is
left as it is: the app remembers the threshold per model and camera.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from liveness_app.core import DEVICE_CHOICES as DEVICES

if TYPE_CHECKING:
    import numpy as np

    from liveness_app.core.meta import ModelMeta
    from training.data.cache import CropCache
    from training.data.samples import Sample

# The scoring stack (torch, scikit-learn, the face detector) is imported where it is used: `--help` and a
# mistyped option answer at once.

RULES = ("eer", "bpcer")


def choose_threshold(scores: np.ndarray, labels: Sequence[str], rule: str = "eer", bpcer_target: float = 0.05) -> float:
    """The threshold of ``rule`` on these scores ("eer", or "bpcer": BPCER <= ``bpcer_target``)."""
    from training.eval import rates as R
    from training.eval import thresholds as T

    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    live = R.live_mask(labels)
    if live.all() or not live.any():
        raise ValueError("calibration needs live and attack sessions of this camera: record both")
    if rule == "eer":
        return T.centred_threshold(scores, R.eer(scores, live)[1])
    return T.threshold_for_bpcer(scores, live, bpcer_target)


def model_cache(meta: ModelMeta, cache_dir: Path | None, frames_per_video: int = 16) -> CropCache:
    """The crop cache a model's scoring reads (its crop margin, the app's detector): the one place it is
    made, so that crops cached ahead (Adapt to my camera caches first) are those the scoring finds."""
    from liveness_app import paths
    from training.data.cache import CropCache
    from training.fit.prepare import CACHE_MARGIN_EXTRA

    return CropCache(
        cache_dir or paths.user_data_dir() / "cache",
        paths.default_detector_path(),
        crop_margin=meta.preprocessing.crop_margin,
        cache_margin_extra=CACHE_MARGIN_EXTRA,
        frames_per_video=frames_per_video,
    )


def score_samples(
    model_path: Path,
    samples: Sequence[Sample],
    *,
    cache_dir: Path | None = None,
    device: str = "auto",
    frames_per_video: int = 16,
) -> tuple[np.ndarray, list[str], ModelMeta]:
    """P(live) of every cached frame of ``samples`` (the app's crop, the model's preprocessing), the
    frames' labels, and the model's metadata. ``model_path``: a ``.pt`` checkpoint or an ``.onnx`` model
    (:func:`training.eval.scoring.open_model`)."""
    from training.data.frames import eval_entries
    from training.eval.scoring import open_model, score_entries
    from training.fit.events import returned
    from training.fit.prepare import cache_samples

    model, meta, dev = open_model(Path(model_path), device)
    cache = model_cache(meta, cache_dir, frames_per_video)
    items, _skipped = returned(cache_samples(cache, samples))
    entries = eval_entries(items, frames_per_video)
    if not entries:
        raise ValueError("no face crops in these sessions")
    scores, _ = score_entries(model, meta.preprocessing, entries, dev)
    return scores, [e.label for e in entries], meta


def calibrate_samples(
    model_path: Path,
    samples: Sequence[Sample],
    *,
    rule: str = "eer",
    bpcer_target: float = 0.05,
    cache_dir: Path | None = None,
    device: str = "auto",
    frames_per_video: int = 16,
) -> dict[str, Any]:
    """Score ``samples`` with the model and choose a threshold; returns it with what it gives on these
    sessions (BPCER, APCER per attack type, ACER) and the time taken."""
    t0 = time.perf_counter()
    scores, labels, meta = score_samples(
        model_path, samples, cache_dir=cache_dir, device=device, frames_per_video=frames_per_video
    )
    from training.eval import metrics as M

    threshold = choose_threshold(scores, labels, rule, bpcer_target)
    at = M.compute_all(scores, labels, threshold)["frame"]
    return {
        "threshold": float(threshold),
        "rule": rule,
        "bpcer_target": bpcer_target if rule == "bpcer" else None,
        "model_threshold": meta.threshold,
        "bpcer": at["bpcer"],
        "apcer": at["apcer"],
        "acer": at["acer"],
        "n_live": at["n_live"],
        "n_attack": at["n_attack"],
        "seconds": round(time.perf_counter() - t0, 2),
    }


def calibrate_to_camera(model_path: Path, data: Sequence[str], **options: Any) -> dict[str, Any]:
    """:func:`calibrate_samples` on the sessions of dataset specs (a recordings folder, ...)."""
    from training.fit.prepare import load_samples

    samples, _ = load_samples(data)
    return calibrate_samples(model_path, samples, **options)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model",
        type=Path,
        required=True,
        help="the model to calibrate, a .pt checkpoint or an .onnx model (left unchanged)",
    )
    p.add_argument("--data", action="append", required=True, help="this camera's recorded sessions (repeatable)")
    p.add_argument("--rule", choices=RULES, default="eer", help="eer (default) or bpcer")
    p.add_argument("--bpcer", type=float, default=0.05, help="with --rule bpcer: the BPCER to stay under")
    p.add_argument("--device", choices=DEVICES, default="auto", help="where to score")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object (for scripts)")
    args = p.parse_args(argv)
    from liveness_app.core.scores import ScoreRangeError

    try:
        result = calibrate_to_camera(args.model, args.data, rule=args.rule, bpcer_target=args.bpcer, device=args.device)
    except (ValueError, OSError, ScoreRangeError) as exc:  # ModelLoadError is a ValueError
        print(f"calibrate: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, default=float) if args.json else readable(result))
    return 0


def readable(result: dict[str, Any]) -> str:
    """The result of :func:`calibrate_samples` as a few lines: the threshold, and what it gives here."""
    from training.eval.table import aligned, apcer_text, number

    rule = "EER" if result["rule"] == "eer" else f"BPCER <= {number(result['bpcer_target'])}"
    rows = [
        ["threshold", "BPCER", "APCER per attack type", "ACER", "live / attack"],
        [
            number(result["threshold"], "threshold"),
            number(result["bpcer"]),
            apcer_text(result["apcer"]),
            number(result["acer"]),
            f"{result['n_live']} / {result['n_attack']}",
        ],
    ]
    return (
        f"threshold for this camera ({rule} rule): {number(result['threshold'], 'threshold')} "
        f"(the model's own: {number(result['model_threshold'], 'threshold')}), in {result['seconds']} s\n"
        + aligned(rows)
    )


if __name__ == "__main__":
    sys.exit(main())
