"""Turn one user's time-ordered webcam frames into app recordings, to time "adapt to my camera" on video.

    python scripts/images_to_recordings.py --data ../shared/data/webcam/manifest.csv \
        --group webcam-Spp77 --out runs/video-Spp77/recordings [--sessions 6] [--session-seconds 20]

Per label, the group's images in path order (capture order) are cut into ``--sessions`` contiguous parts;
each part becomes one session written by the app's own :class:`~liveness_app.core.recorder.Recorder`
(Motion-JPEG, 640x480, 30 fps, ``--session-seconds`` long, each image held for its share of the frames),
with the group as subject. With the defaults and two labels the first half of the sessions is 2 minutes
of 30 fps video, which is what ``python -m training.studies.adapt_bench --minutes 2`` gives the user to record:

    python -m training.studies.adapt_bench --data runs/video-Spp77/recordings --model models/default.pt \
        --out runs/video-Spp77/bench --device cpu
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from liveness_app.core.recorder import Recorder  # noqa: E402
from liveness_app.core.session_store import SessionStore  # noqa: E402
from training.fit.prepare import load_samples  # noqa: E402

SIZE = (640, 480)
FPS = 30.0


def frame_of(image: np.ndarray) -> np.ndarray:
    """The face-context crop scaled to the frame height, centred on a black 640x480 frame."""
    w, h = SIZE
    side = h
    crop = cv2.resize(image, (side, side), interpolation=cv2.INTER_LINEAR)
    frame = np.zeros((h, w, 3), np.uint8)
    x = (w - side) // 2
    frame[:, x : x + side] = crop
    return frame


def read_frame(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        raise SystemExit(f"cannot read image {path}")
    return frame_of(image)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a manifest.csv with groups, as liveness-train --data")
    p.add_argument("--group", required=True, help="the user (a group of the manifest)")
    p.add_argument("--out", type=Path, required=True, help="recordings folder to create")
    p.add_argument("--sessions", type=int, default=6, help="sessions per label (default 6)")
    p.add_argument("--session-seconds", type=float, default=20.0, help="length of each session (default 20)")
    args = p.parse_args(argv)
    samples, _ = load_samples([args.data])
    mine = sorted((s for s in samples if s.group == args.group), key=lambda s: str(s.path))
    if not mine:
        p.error(f"no samples of group {args.group!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    store = SessionStore(args.out)
    n_frames = int(round(args.session_seconds * FPS))
    for label in sorted({s.label for s in mine}):
        items = [s for s in mine if s.label == label]
        for part in np.array_split(np.arange(len(items)), args.sessions):
            if part.size == 0:
                continue
            frames = [read_frame(items[i].path) for i in part]  # each image once, held for its share
            rec = Recorder(
                store,
                label,
                args.group,
                camera="images",
                fps=FPS,
                size=SIZE,
                notes=f"frames {part[0]}-{part[-1]} of {args.data}",
            )
            for i in range(n_frames):
                rec.write(frames[i * len(frames) // n_frames], block=True)
            session = rec.stop()
            print(f"{label}: {session['file']} {session['frames']} frames from images {part[0]}-{part[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
