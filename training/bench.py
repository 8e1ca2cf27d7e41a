"""Retraining benchmark: N minutes of recorded video -> cached crops -> epochs -> calibrated checkpoint.

    python -m training.bench [--minutes 5] [--device cpu|cuda] [--input-size 224] [--epochs 2]
    python -m training.bench --input-only --workers N [--data SPEC] [--input-size 128]

Records sessions from a video standing in for the camera (the bundled sample by default; written as fast
as the encoder allows, through the app's own :class:`Recorder`), alternating live/print labels over four
subjects, then runs the real ``fit()`` and times each stage. The last line is one JSON object.
``--input-only`` times the training input pipeline alone instead (:mod:`training.bench_input`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from liveness_app import paths
from liveness_app.core.camera import VideoFileSource
from liveness_app.core.recorder import Recorder
from liveness_app.core.session_store import SessionStore
from liveness_app.core.sessions import LIVE
from training import bench_input
from training.config import TrainConfig
from training.fit.loop import fit


def record_sessions(root: Path, source: Path, minutes: float, session_s: float = 30.0) -> int:
    """Write ``minutes`` of 30 fps video as labelled sessions; returns the number of frames."""
    store, src = SessionStore(root), VideoFileSource(source)
    frames_total = int(minutes * 60 * src.fps)
    per_session, written, k = int(session_s * src.fps), 0, 0
    while written < frames_total:
        first = src.read()
        rec = Recorder(
            store,
            LIVE if k % 2 == 0 else "print",
            f"subject{k % 4}",
            src.name,
            src.fps,
            (first.shape[1], first.shape[0]),
        )
        rec.write(first)
        for _ in range(min(per_session, frames_total - written) - 1):
            rec.write(src.read(), block=True)  # offline: wait for the writer instead of dropping frames
        written += rec.stop()["frames"]
        k += 1
    src.close()
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", type=Path, default=paths.sample_video_path())
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--device", default="auto")
    p.add_argument("--input-size", type=int, default=None, help="px (default: 224; 128 with --input-only)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--frames-per-video", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    bench_input.add_arguments(p)
    a = p.parse_args(argv)
    if a.input_only:
        return bench_input.main(a)
    a.input_size = a.input_size or 224
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        frames = record_sessions(Path(tmp) / "rec", a.source, a.minutes)
        t_rec = time.perf_counter() - t0
        cfg = TrainConfig(
            data=(str(Path(tmp) / "rec"),),
            out_dir=str(Path(tmp) / "run"),
            name="bench",
            input_size=a.input_size,
            epochs=a.epochs,
            device=a.device,
            workers=a.workers,
            batch_size=a.batch_size,
            frames_per_video=a.frames_per_video,
            train_frames_per_video=a.frames_per_video,
            eval_frames_per_video=16,
            cache_dir=str(Path(tmp) / "cache"),
            install=False,
            patience=a.epochs,
            dev_fraction=0.25,
        )
        marks, epochs, images = {"start": time.perf_counter()}, [], 0
        for ev in fit(cfg):
            if ev.kind == "cache":
                marks["cached"] = time.perf_counter()
            elif ev.kind == "epoch" and "images" in ev.metrics:
                epochs.append(ev.metrics["seconds_total"])
                images = ev.metrics["images"]
                print(ev.message, flush=True)
        total = time.perf_counter() - marks["start"]
    result = {
        "minutes_of_video": a.minutes,
        "frames": frames,
        "record_write_s": round(t_rec, 1),
        "cache_s": round(marks["cached"] - marks["start"], 1),
        "epoch_s": epochs,
        "train_images_per_epoch": images,
        "img_per_s": round(images / min(epochs), 1) if epochs else None,
        "recordings_to_checkpoint_s": round(total, 1),
        "device": cfg.device,
        "input_size": a.input_size,
        "epochs": a.epochs,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
