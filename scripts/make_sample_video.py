"""Make assets/sample.mp4: the bundled demo clip the app opens when there is no camera.

Source: scikit-image's ``astronaut.png`` -- NASA portrait of astronaut Eileen Collins, public domain
(scikit-image's data README). The still portrait is moved the way a hand-held photo moves in front of a
camera (drift, zoom, small tilt), over a textured background; for the middle third a second, smaller
copy enters so several faces show at once. Being a photograph, the honest verdict for it is *spoof*:
it demonstrates the pipeline, not a live person.

Run once by the developers:  python scripts/make_sample_video.py
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from skimage import data

W, H, FPS, SECONDS = 640, 480, 30, 8
OUT = Path(__file__).resolve().parents[1] / "assets" / "sample.mp4"


def _background(t: float) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    wave = 0.5 + 0.5 * np.sin(xx / 37.0 + t) * np.cos(yy / 53.0 - 0.5 * t)
    bg = np.stack([90 + 60 * wave, 80 + 40 * wave, 70 + 30 * (1 - wave)], axis=-1)
    return bg.astype(np.uint8)


def _paste(dst: np.ndarray, src: np.ndarray, cx: float, cy: float, scale: float, angle: float) -> None:
    h, w = src.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[0, 2] += cx - w / 2
    m[1, 2] += cy - h / 2
    warped = cv2.warpAffine(src, m, (W, H), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, (W, H))
    dst[mask > 0] = warped[mask > 0]


def main() -> None:
    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[0:300, 80:380]  # head and shoulders
    writer = cv2.VideoWriter(str(OUT), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (W, H))
    rng = np.random.default_rng(0)
    for i in range(FPS * SECONDS):
        t = i / FPS
        frame = _background(t)
        _paste(
            frame,
            face,
            220 + 50 * math.sin(0.6 * t),
            240 + 20 * math.sin(1.1 * t),
            1.05 + 0.12 * math.sin(0.4 * t),
            6 * math.sin(0.8 * t),
        )
        if SECONDS / 3 <= t < 2 * SECONDS / 3:
            _paste(frame, cv2.flip(face, 1), 515, 200 + 25 * math.sin(t), 0.8, -4)
        noise = rng.normal(0, 3, frame.shape)  # sensor noise, so frames are not identical
        writer.write(np.clip(frame + noise, 0, 255).astype(np.uint8))
    writer.release()
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
