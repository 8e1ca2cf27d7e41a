"""What the adaptation tests share: a CI-sized recipe, and sessions recorded by the app's own recorder."""

from __future__ import annotations

from pathlib import Path

from liveness_app.core.camera import VideoFileSource
from liveness_app.core.recorder import Recorder
from liveness_app.core.session_store import SessionStore

TINY = {
    "batch_size": 8,
    "workers": 0,
    "frames_per_video": 4,
    "train_frames_per_video": 4,
    "eval_frames_per_video": 4,
    "epoch_size": 16,
    "epochs": 2,
}


def record_sessions(root: Path, video: Path, takes: list[tuple[str, str]], frames: int = 12) -> Path:
    """Sessions written by the app's recorder, in this order (their names carry the time: path order)."""
    store = SessionStore(root)
    source = VideoFileSource(video)
    try:
        for label, subject in takes:
            rec = Recorder(store, label, subject, camera="cam0", fps=source.fps, size=(640, 480))
            for _ in range(frames):
                rec.write(source.read(), block=True)
            rec.stop()
    finally:
        source.close()
    return root
