"""Each external model's own crop, cut from a frame around a face box, and its input tensor.

Every published model was trained on crops cut its own way, so each gets its own (``TeacherSpec.crop_rule``):

- ``shift_inside`` (Silent-Face): the box scaled by ``scale`` about its centre, the scale first lowered so
  that the box fits the frame, then shifted to lie inside it; never padded.
- ``reflect_square`` (face-antispoof-onnx): a square of side ``scale`` x the box's longer side about its
  centre; what falls outside the frame is filled by reflection (BORDER_REFLECT_101).
- ``clip`` (HyperFAS): a square of side ``scale`` x the box's longer side about its centre, clipped at the
  frame's edge (so it may come out non-square).

The crop is then resized to the model's input (``reflect_square``: Lanczos when enlarging, area when
shrinking; the others: bilinear), put in the model's colour order and scaled ``(x - offset) / divisor``.
"""

from __future__ import annotations

import cv2
import numpy as np

from liveness_app.core.face import FaceBox
from training.teachers.spec import TeacherSpec


def shift_inside(frame: np.ndarray, box: FaceBox, scale: float) -> np.ndarray:
    """Silent-Face's crop (see the module docstring); at least one pixel."""
    h, w = frame.shape[:2]
    bw, bh = max(box.w, 1.0), max(box.h, 1.0)
    scale = min((h - 1) / bh, (w - 1) / bw, scale)
    cx, cy = box.x + bw / 2, box.y + bh / 2
    x0, y0 = cx - bw * scale / 2, cy - bh * scale / 2
    x1, y1 = cx + bw * scale / 2, cy + bh * scale / 2
    if x0 < 0:
        x1, x0 = x1 - x0, 0.0
    if y0 < 0:
        y1, y0 = y1 - y0, 0.0
    if x1 > w - 1:
        x0, x1 = x0 - (x1 - w + 1), w - 1.0
    if y1 > h - 1:
        y0, y1 = y0 - (y1 - h + 1), h - 1.0
    x0, y0, x1, y1 = (max(0, int(v)) for v in (x0, y0, x1, y1))
    return frame[y0 : max(y1, y0) + 1, x0 : max(x1, x0) + 1]


def reflect_square(frame: np.ndarray, box: FaceBox, scale: float) -> np.ndarray:
    """face-antispoof-onnx's crop: a square about the box, reflected where it leaves the frame."""
    h, w = frame.shape[:2]
    side = max(int(round(max(box.w, box.h) * scale)), 1)
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = x0 + side, y0 + side
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if cx1 <= cx0 or cy1 <= cy0:  # the square misses the frame: nothing of the face to reflect
        return np.zeros((side, side, 3), np.uint8)
    crop = frame[cy0:cy1, cx0:cx1]
    pad = (cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1)
    if any(pad):
        crop = cv2.copyMakeBorder(crop, *pad, cv2.BORDER_REFLECT_101)
    return crop


def clip_square(frame: np.ndarray, box: FaceBox, scale: float) -> np.ndarray:
    """HyperFAS's crop: a square about the box, clipped at the frame's edge."""
    h, w = frame.shape[:2]
    side = max(box.w, box.h) * scale
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    x0, y0 = max(0, int(round(cx - side / 2))), max(0, int(round(cy - side / 2)))
    x1, y1 = min(w, int(round(cx + side / 2))), min(h, int(round(cy + side / 2)))
    return frame[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]


CROPPERS = {"shift_inside": shift_inside, "reflect_square": reflect_square, "clip": clip_square}


def resize_for(crop: np.ndarray, spec: TeacherSpec) -> np.ndarray:
    """``crop`` at the model's input size, resampled the way its authors did."""
    size = spec.size
    if spec.crop_rule == "reflect_square":
        longest = max(crop.shape[:2])
        interp = cv2.INTER_LANCZOS4 if longest < size else cv2.INTER_AREA
        scale = size / longest
        new = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, new, interpolation=interp)
        ph, pw = size - crop.shape[0], size - crop.shape[1]
        if ph or pw:  # a square crop comes out square; a rounding pixel is reflected in
            crop = cv2.copyMakeBorder(crop, ph // 2, ph - ph // 2, pw // 2, pw - pw // 2, cv2.BORDER_REFLECT_101)
        return crop
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)


def teacher_input(frame_bgr: np.ndarray, box: FaceBox, spec: TeacherSpec) -> np.ndarray:
    """The model's input for one face: float32 CHW, its colour order and value scaling."""
    crop = resize_for(CROPPERS[spec.crop_rule](frame_bgr, box, spec.crop_scale), spec)
    if spec.colour == "rgb":
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    x = (crop.astype(np.float32) - np.float32(spec.offset)) / np.float32(spec.divisor)
    return np.ascontiguousarray(x.transpose(2, 0, 1))
