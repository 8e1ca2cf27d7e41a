"""Pure drawing functions: boxes, scores, verdicts and Grad-CAM heatmaps on a copy of the frame (the legends
that say what the numbers and colours mean: :mod:`.legend`).

Computing (``explain``) and drawing stay apart, as in pytorch-grad-cam's ``show_cam_on_image``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .legend import draw_colour_bar, draw_legend
from .pipeline import FaceResult, FrameResult
from .smoothing import Verdict

# The one verdict palette (RGB): the video overlay draws with it (as BGR) and the GUI's text uses it.
VERDICT_RGB = {
    Verdict.LIVE: (60, 200, 80),
    Verdict.SPOOF: (230, 40, 40),
    Verdict.UNCERTAIN: (240, 190, 0),
}
COLOURS = {verdict: (b, g, r) for verdict, (r, g, b) in VERDICT_RGB.items()}  # BGR, for OpenCV


@dataclass(frozen=True)
class OverlayOptions:
    box: bool = True
    score: bool = True
    heatmap: bool = False
    heatmap_alpha: float = 0.45


def heatmap_on_image(image_bgr: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a [0, 1] map (any resolution) over an image of the same aspect, JET colour map."""
    h, w = image_bgr.shape[:2]
    cam_u8 = (255 * np.clip(cv2.resize(cam, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)).astype(np.uint8)
    colour = cv2.applyColorMap(cam_u8, cv2.COLORMAP_JET)
    return cv2.addWeighted(colour, alpha, image_bgr, 1.0 - alpha, 0.0)


def _blend_heatmap(canvas: np.ndarray, face: FaceResult, alpha: float) -> None:
    """Heatmap over the square the model saw, clipped to the frame."""
    x0, y0, x1, y1 = face.crop
    h, w = canvas.shape[:2]
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if face.heatmap is None or cx1 <= cx0 or cy1 <= cy0:
        return
    full = cv2.resize(face.heatmap, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    part = full[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    canvas[cy0:cy1, cx0:cx1] = heatmap_on_image(canvas[cy0:cy1, cx0:cx1], part, alpha)


def _label(canvas: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int]) -> None:
    """A filled tag whose bottom-left is at (x, y), moved inside the frame when it would leave it."""
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
    y = max(th + base + 2, y)
    x = max(0, min(x, canvas.shape[1] - tw - 6))
    cv2.rectangle(canvas, (x, y - th - base - 4), (x + tw + 6, y), colour, cv2.FILLED)
    cv2.putText(canvas, text, (x + 3, y - base - 1), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)


# How the smoothed P(live) stands against the threshold, as the verdict says it (ASCII: OpenCV's fonts)
RELATION = {Verdict.LIVE: ">=", Verdict.SPOOF: "<", Verdict.UNCERTAIN: "~"}


def score_text(face: FaceResult, threshold: float, with_score: bool = True) -> str:
    """The tag over a face: its verdict and, with ``with_score``, its smoothed P(live) against the threshold."""
    if not with_score:
        return face.verdict.value
    return f"{face.verdict.value}  P(live) {face.smoothed:.2f} {RELATION[face.verdict]} {threshold:.2f}"


def draw_result(frame_bgr: np.ndarray, result: FrameResult | None, options: OverlayOptions) -> np.ndarray:
    """A copy of the frame with the result drawn on it; "no face" when the result has none. With scores
    shown, a legend line says what the number is; with the heatmap, a colour bar says what its colours are."""
    canvas = frame_bgr.copy()
    if result is None:
        return canvas
    if not result.faces:
        _label(canvas, "no face", 8, 30, (90, 90, 90))
        return canvas
    for face in result.faces:
        colour = COLOURS[face.verdict]
        if options.heatmap:
            _blend_heatmap(canvas, face, options.heatmap_alpha)
        x, y, w, h = (int(round(v)) for v in (face.box.x, face.box.y, face.box.w, face.box.h))
        if options.box:
            cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, 2)
        _label(canvas, score_text(face, result.threshold, options.score), x, y - 4, colour)
    top = canvas.shape[0]
    if options.score:
        top = draw_legend(canvas, result.threshold)
    if options.heatmap and any(f.heatmap is not None for f in result.faces):
        draw_colour_bar(canvas, top)
    return canvas
