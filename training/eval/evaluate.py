"""``liveness-eval``: evaluate a model (.pt or .onnx) on a dataset at its frozen threshold and write a report.

    liveness-eval --model models/default.pt --data DIR --out reports/default
    liveness-eval --model models/default.onnx --data DIR --out reports/default-onnx

``DIR`` may be a plain ``DIR/<label>/<files>`` folder (``live`` is bona fide, every other folder an
attack type; images or videos), the app's recordings folder, a manifest.csv, or ``NAME:PATH`` for a
public dataset. Faces are found and cropped by the app's own detector and crop. Bad files are skipped
and listed in the report; they never stop the run.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Sequence

from liveness_app.core import DEVICE_CHOICES as DEVICES
from liveness_app.core.meta import ModelLoadError, ModelMeta, data_summary
from training.config import auto_workers, workers_arg
from training.eval.table import metrics_table, number, small_data_warning
from training.teachers.spec import SpecError, builtin_specs

# torch, scikit-learn and matplotlib are imported by evaluate_model, not here: `liveness-eval --help` and a
# mistyped option answer in a fraction of a second instead of the seconds those imports take.


def _drain(gen: Iterator[Any], progress: bool) -> Any:
    while True:
        try:
            done, total = next(gen)
            if progress:
                print(f"\rcaching face crops {done}/{total}", end="", file=sys.stderr, flush=True)
        except StopIteration as stop:
            if progress:
                print(file=sys.stderr)
            return stop.value


def no_face_table(face_frames: Counter) -> dict[str, dict[str, Any]]:
    """Per label: frames looked at, frames in which the detector found no face, and their share. Those
    frames are not scored, so they are not in the error rates' denominators: this says how many."""
    labels = sorted({label for label, _ in face_frames})
    table = {}
    for label in labels:
        frames, missed = face_frames[(label, "frames")], face_frames[(label, "no_face")]
        table[label] = {"frames": frames, "no_face": missed, "no_face_rate": missed / frames if frames else None}
    return table


def evaluate_model(
    model_path: Path,
    data: Sequence[str],
    out_dir: Path,
    *,
    frames_per_video: int = 8,
    groups: Sequence[str] = (),
    cache_dir: Path | None = None,
    detector: Path | None = None,
    device: str = "auto",
    progress: bool = False,
    compare: Sequence[str] = (),
    teachers_dir: Path | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Run the whole evaluation; returns the metrics dict also written to ``out_dir/metrics.json``.
    ``model_path``: a ``.pt`` checkpoint (scored in PyTorch on ``device``) or an ``.onnx`` export (in ONNX
    Runtime on the CPU, as the app runs it; its report has no t-SNE: the graph gives no embeddings).
    ``workers`` > 1: faces of the files not yet cached are found in that many worker processes."""
    from liveness_app import paths
    from training.data.cache import CropCache
    from training.data.frames import eval_entries
    from training.data.store import existing_store
    from training.eval import metrics as M
    from training.eval.compare import compare_all
    from training.eval.report import write_report
    from training.eval.scoring import open_model, score_entries, scorer_of
    from training.eval.visuals import gradcam_grid, tsne_plot
    from training.fit.prepare import CACHE_MARGIN_EXTRA, cache_samples, load_samples

    model, meta, dev = open_model(model_path, device)
    if progress and Path(model_path).suffix.lower() == ".onnx":
        print(
            f"{Path(model_path).name}: an ONNX model, scored in ONNX Runtime on the CPU as the app does"
            + (" (--device cuda is for .pt models)" if device == "cuda" else ""),
            file=sys.stderr,
        )
    samples, scan_skipped = load_samples(data)  # with the broken links and loops the folder scans found
    if groups:
        samples = [s for s in samples if s.group in set(groups)]
    if not samples:
        raise ValueError("no samples to evaluate")
    cache = CropCache(
        cache_dir or paths.user_data_dir() / "cache",
        detector or paths.default_detector_path(),
        crop_margin=meta.preprocessing.crop_margin,
        cache_margin_extra=CACHE_MARGIN_EXTRA,
        frames_per_video=frames_per_video,
    )
    items, skipped = _drain(cache_samples(cache, samples, workers=workers), progress)
    skipped = list(scan_skipped) + list(skipped)
    entries = eval_entries(items, frames_per_video)
    if not entries:
        raise ValueError(f"no usable face crops: all {len(samples)} files were skipped")
    # several workers: the crops are read in that many loader processes too; a store of decoded crops
    # (made by a training run on this cache) is read instead of the PNGs where it has them
    scores, embeds = score_entries(
        model, meta.preprocessing, entries, dev, embeddings=True, workers=workers if workers > 1 else 0,
        store=existing_store(cache.folder),
    )  # fmt: skip
    labels = [e.label for e in entries]
    metrics: dict[str, Any] = M.compute_all(scores, labels, meta.threshold, video_ids=[e.video_id for e in entries])
    metrics["threshold_source"] = _threshold_source(meta)
    metrics["no_face"] = no_face_table(items.face_frames)
    warning = small_data_warning(labels, [e.group for e in entries], "the evaluation set")
    if warning:
        metrics["small_data_warning"] = warning
    if compare:
        if progress:
            print(f"scoring with {', '.join(compare)}", file=sys.stderr)
        metrics["compare"] = compare_all(
            compare,
            items,
            entries,
            meta.threshold,
            teachers_dir,
            cache.folder.parent,
            cache.detector_path,
            frames_per_video,
            workers=2,
        )
    frame_rows = [
        {
            "path": str(e.crop_path),
            "video_id": e.video_id,
            "group": e.group,
            "label": e.label,
            "score": float(s),
            "accepted_live": bool(s >= meta.threshold),
        }
        for e, s in zip(entries, scores)
    ]
    v_scores, v_labels, v_ids = M.video_level(scores, [e.video_id for e in entries], labels)
    video_rows = [
        {"video_id": i, "label": lab, "score": float(s), "accepted_live": bool(s >= meta.threshold)}
        for i, lab, s in zip(v_ids, v_labels, v_scores)
    ]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = {
        "t-SNE of the model's embeddings": tsne_plot(embeds, labels, out_dir / "tsne.png")
        if embeds is not None
        else None,
        "Grad-CAM: right and wrong decisions": gradcam_grid(
            scorer_of(model, dev), meta, entries, scores, out_dir / "gradcam_grid.png"
        ),
    }
    info = {
        "model": str(model_path),
        "name": meta.name,
        "threshold": round(meta.threshold, 4),
        "input_size": meta.preprocessing.input_size,
        "trained_on": data_summary(meta.training),
        "data": ", ".join(data),
        "threshold_source": metrics["threshold_source"],
    }
    write_report(
        out_dir,
        metrics,
        frame_rows,
        video_rows,
        {k: v for k, v in images.items() if v},
        skipped,
        f"Liveness evaluation: {meta.name}",
        info,
    )
    return metrics


def _threshold_source(meta: ModelMeta) -> str:
    cal = meta.training.get("calibration", {})
    if cal:
        return f"frozen in the checkpoint: {cal.get('chosen', 'threshold')} on {cal.get('on', 'dev data')}"
    return "frozen in the checkpoint (no calibration record)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="liveness-eval", description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument(
        "--model",
        type=Path,
        required=True,
        help="the model file to evaluate: a .pt checkpoint or an .onnx model the app exports",
    )
    p.add_argument(
        "--data", action="append", required=True, help="folder, manifest.csv, recordings or NAME:PATH (repeat for more)"
    )
    p.add_argument("--out", type=Path, required=True, help="folder for metrics.json, scores.csv and report.html")
    p.add_argument("--frames-per-video", type=int, default=8, help="frames scored per video (default 8)")
    p.add_argument("--groups", nargs="+", default=(), help="evaluate only these groups (subjects/sources)")
    p.add_argument("--cache-dir", type=Path, help="face-crop cache folder (default: the user data folder's cache/)")
    p.add_argument("--device", default="auto", choices=DEVICES, help="where to score (checked before any work)")
    p.add_argument(
        "--workers",
        type=workers_arg,
        default=-1,
        metavar="{N,auto}",
        help="processes that find faces in files not yet cached (default auto: the machine's cores less one)",
    )
    p.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="SPEC",
        help="an external liveness model to score the same frames as a baseline: a built-in spec "
        f"({', '.join(builtin_specs())}) or a spec file (repeat for more)",
    )
    p.add_argument(
        "--teachers-dir",
        type=Path,
        help="folder holding the ONNX files the --compare specs name "
        "(default: $LIVENESS_TEACHERS_DIR, or beside the spec file)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    from liveness_app.core.scores import ScoreRangeError

    try:
        m = evaluate_model(
            a.model,
            a.data,
            a.out,
            frames_per_video=a.frames_per_video,
            groups=a.groups,
            cache_dir=a.cache_dir,
            device=a.device,
            progress=True,
            compare=a.compare,
            teachers_dir=a.teachers_dir,
            workers=auto_workers() if a.workers < 0 else max(1, a.workers),
        )
    except (ModelLoadError, SpecError, ValueError, OSError, ScoreRangeError) as exc:
        print(f"liveness-eval: error: {exc}", file=sys.stderr)
        return 2
    print(f"{a.model.name} at its threshold {number(m['frame'].get('threshold'), 'threshold')}:")
    print(metrics_table(m))
    for name, c in m.get("compare", {}).items():
        own, ours = (c.get(k, {}).get("frame", {}) for k in ("own_threshold", "our_threshold"))
        print(
            f"{name}: frame AUC {number(own.get('auc'), 'auc')}, ACER {number(own.get('acer'))} at its own "
            f"threshold, {number(ours.get('acer'))} at ours"
        )
    if m.get("small_data_warning"):
        print(f"liveness-eval: warning: {m['small_data_warning']}", file=sys.stderr)
    print(f"report: {a.out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
