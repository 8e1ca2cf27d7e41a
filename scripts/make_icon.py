"""Draw the app icon: a face outline in a rounded square with a green check-mark badge.

    python scripts/make_icon.py          # writes assets/icon.png (256 px) and assets/icon.ico (16-256 px)

Drawn with OpenCV at 4x and downscaled with area averaging, which gives anti-aliased edges. The .ico holds
PNG-compressed images (read by Windows Vista and later), assembled by hand because OpenCV cannot write ICO.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
SCALE = 4  # supersampling factor
# BGRA colours
BACKGROUND = (92, 62, 31, 255)  # dark blue
FACE = (240, 240, 240, 255)
BADGE = (80, 175, 76, 255)  # green
CHECK = (255, 255, 255, 255)


def draw(size: int = 256) -> np.ndarray:
    """The icon as a ``size`` x ``size`` BGRA image."""
    s = size * SCALE
    img = np.zeros((s, s, 4), np.uint8)
    _rounded_square(img, margin=s // 32, radius=s // 5, color=BACKGROUND)
    line = max(1, s // 28)
    center = (int(s * 0.44), int(s * 0.47))
    cv2.ellipse(img, center, (int(s * 0.25), int(s * 0.32)), 0, 0, 360, FACE, line, cv2.LINE_AA)
    for dx in (-0.09, 0.09):  # eyes
        cv2.circle(img, (int(center[0] + dx * s), int(s * 0.41)), s // 30, FACE, -1, cv2.LINE_AA)
    cv2.ellipse(
        img, (center[0], int(s * 0.55)), (int(s * 0.09), int(s * 0.05)), 0, 20, 160, FACE, line // 2 + 1, cv2.LINE_AA
    )  # mouth
    badge = (int(s * 0.72), int(s * 0.72))
    radius = int(s * 0.2)
    cv2.circle(img, badge, radius + line, BACKGROUND, -1, cv2.LINE_AA)  # a gap between face and badge
    cv2.circle(img, badge, radius, BADGE, -1, cv2.LINE_AA)
    tick = np.array([(-0.55, 0.0), (-0.15, 0.4), (0.55, -0.35)]) * radius + badge
    cv2.polylines(img, [tick.astype(np.int32)], False, CHECK, int(line * 1.3), cv2.LINE_AA)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def _rounded_square(img: np.ndarray, margin: int, radius: int, color: tuple[int, int, int, int]) -> None:
    lo, hi = margin, img.shape[0] - 1 - margin
    cv2.rectangle(img, (lo + radius, lo), (hi - radius, hi), color, -1)
    cv2.rectangle(img, (lo, lo + radius), (hi, hi - radius), color, -1)
    for cx in (lo + radius, hi - radius):
        for cy in (lo + radius, hi - radius):
            cv2.circle(img, (cx, cy), radius, color, -1, cv2.LINE_AA)


def ico_bytes(images: list[np.ndarray]) -> bytes:
    """An .ico file holding each BGRA image as a PNG entry."""
    pngs = [_png(im) for im in images]
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries = b""
    for im, png in zip(images, pngs):
        h, w = im.shape[:2]
        # Width and height 0 mean 256 in the ICO directory.
        entries += struct.pack("<BBBBHHII", w % 256, h % 256, 0, 0, 1, 32, len(png), offset)
        offset += len(png)
    return header + entries + b"".join(pngs)


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def main() -> int:
    assets = ROOT / "assets"
    big = draw(256)
    (assets / "icon.png").write_bytes(_png(big))
    (assets / "icon.ico").write_bytes(ico_bytes([big if n == 256 else draw(n) for n in ICO_SIZES]))
    print(f"wrote {assets / 'icon.png'} and {assets / 'icon.ico'} ({', '.join(map(str, ICO_SIZES))} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
