"""What the overlay's numbers and colours mean, drawn on the frame itself (so snapshots carry it too): a
legend line for P(live) and the threshold, and a colour bar for the Grad-CAM heatmap. Pure drawing, no Qt.
"""

from __future__ import annotations

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
MAX_SCALE = 0.5  # legend text never larger than this (it is a footnote to the verdicts)
MIN_SCALE = 0.3
PAD = 6


def legend_lines(threshold: float) -> list[str]:
    """The legend's words: what P(live) is and how the verdict follows from it (ASCII: OpenCV's fonts)."""
    return [
        "P(live): the model's probability of a live face, mean of recent frames",
        f"LIVE if >= threshold {threshold:.2f}, SPOOF if below, UNCERTAIN when near it",
    ]


def _fit_scale(lines: list[str], width: int) -> float:
    """The largest text scale (up to MAX_SCALE) at which every line fits ``width`` pixels."""
    widest = max(cv2.getTextSize(line, FONT, 1.0, 1)[0][0] for line in lines)
    return max(MIN_SCALE, min(MAX_SCALE, (width - 2 * PAD) / max(widest, 1)))


def _shade(canvas: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """Darken a rectangle so that white text reads over any picture."""
    region = canvas[y0:y1, x0:x1]
    region[:] = (region * 0.35).astype(canvas.dtype)


def draw_legend(canvas: np.ndarray, threshold: float) -> int:
    """The legend along the bottom of ``canvas`` (in place); returns the y where its strip begins."""
    h, w = canvas.shape[:2]
    lines = legend_lines(threshold)
    scale = _fit_scale(lines, w)
    (_, th), base = cv2.getTextSize(lines[0], FONT, scale, 1)
    line_h = th + base + 3
    top = max(0, h - len(lines) * line_h - PAD)
    _shade(canvas, 0, top, w, h)
    for i, line in enumerate(lines):
        y = top + PAD // 2 + (i + 1) * line_h - base
        cv2.putText(canvas, line, (PAD, y), FONT, scale, (235, 235, 235), 1, cv2.LINE_AA)
    return top


def colour_bar(width: int, height: int) -> np.ndarray:
    """A horizontal JET ramp, low attention (blue) on the left to high (red) on the right: the heatmap's colours."""
    ramp = np.linspace(0, 255, max(width, 2)).astype(np.uint8)[None, :].repeat(max(height, 1), axis=0)
    return cv2.applyColorMap(ramp, cv2.COLORMAP_JET)


def draw_colour_bar(canvas: np.ndarray, bottom: int) -> None:
    """The heatmap's legend at the right, just above ``bottom``: a title, the ramp, "low" and "high"."""
    h, w = canvas.shape[:2]
    scale = _fit_scale(["attention (Grad-CAM): low  high"], max(w // 3, 1))
    (_, th), base = cv2.getTextSize("low", FONT, scale, 1)
    bar_w, bar_h = max(w // 4, 40), max(th, 8)
    x0 = w - bar_w - 2 * PAD - cv2.getTextSize("high", FONT, scale, 1)[0][0]
    x0 = max(PAD + cv2.getTextSize("low ", FONT, scale, 1)[0][0], x0)
    y1 = bottom - PAD
    y0 = y1 - bar_h
    title_y = y0 - base - 4
    if title_y - th < 0 or x0 + bar_w > w:
        return  # a frame too small for a legend: the heatmap alone
    _shade(canvas, max(0, x0 - PAD - 40), max(0, title_y - th - PAD), w, min(h, y1 + PAD // 2))
    canvas[y0:y1, x0 : x0 + bar_w] = colour_bar(bar_w, bar_h)
    white = (235, 235, 235)
    cv2.putText(canvas, "attention (Grad-CAM)", (x0, title_y), FONT, scale, white, 1, cv2.LINE_AA)
    low_w = cv2.getTextSize("low", FONT, scale, 1)[0][0]
    cv2.putText(canvas, "low", (x0 - low_w - 4, y1 - 1), FONT, scale, white, 1, cv2.LINE_AA)
    cv2.putText(canvas, "high", (x0 + bar_w + 4, y1 - 1), FONT, scale, white, 1, cv2.LINE_AA)
