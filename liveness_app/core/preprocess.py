"""The ONE crop + resize + normalise path, used by the app and by training alike.

A model's checkpoint carries its :class:`PreprocessSpec`; nothing here holds model constants. The app
runs :func:`preprocess_face` on each frame. Training's crop cache cuts the same :func:`crop_face` at a
wider margin and shrinks it with :func:`resize_square`; each epoch then cuts the model's crop out of that
with :func:`crop_face` again, around :func:`face_box_in_crop` (at a jittered margin for augmentation),
and ends in :func:`prepare_crop`. A golden test compares both ends at the settings training uses: they
are identical where the cached crop was not shrunk and both crop boxes round alike, else one pixel (the
rounding) or one resampling (the shrinking) apart.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import cv2
import numpy as np

from .face import FaceBox

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the normalisation MobileNetV3 (and ImageNet weights) expect
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class PreprocessSpec:
    """How a face becomes a model input: square crop with margin, resize, RGB, normalise."""

    input_size: int
    crop_margin: float
    mean: tuple[float, ...]  # three values each (checked below: a checkpoint's metadata is untrusted)
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if not 16 <= int(self.input_size) <= 1024:
            raise ValueError(f"input_size {self.input_size} outside 16..1024")
        if not 0.0 <= float(self.crop_margin) <= 2.0:
            raise ValueError(f"crop_margin {self.crop_margin} outside 0..2")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("mean and std need three values each")
        if not all(math.isfinite(v) and abs(v) <= 10 for v in (*self.mean, *self.std)) or min(self.std) < 1e-3:
            raise ValueError(f"mean {self.mean} / std {self.std} must be finite, |v| <= 10, std >= 0.001")

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "PreprocessSpec":
        """From a checkpoint's metadata (untrusted): TypeError/KeyError/ValueError for anything malformed."""
        if not isinstance(data, dict):
            raise TypeError(f"preprocessing must be a mapping, got {type(data).__name__}")
        if isinstance(data["input_size"], bool) or not float(data["input_size"]).is_integer():
            raise ValueError(f"input_size must be a whole number, got {data['input_size']!r}")
        if isinstance(data["mean"], (str, bytes)) or isinstance(data["std"], (str, bytes)):
            raise TypeError("mean and std must be lists of numbers")
        return cls(
            input_size=int(data["input_size"]),
            crop_margin=float(data["crop_margin"]),
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
        )


def crop_box(box: FaceBox, margin: float) -> tuple[int, int, int, int]:
    """Square box around the face: side = longest face side * (1 + 2 * margin), same centre.

    The result may reach outside the frame; :func:`crop_face` pads there. Square, because stretching a
    face changes the texture statistics the model relies on.
    """
    cx, cy = box.center
    side = max(box.w, box.h) * (1.0 + 2.0 * margin)
    side = max(side, 2.0)
    x0 = int(round(cx - side / 2))
    y0 = int(round(cy - side / 2))
    s = int(round(side))
    return x0, y0, x0 + s, y0 + s


def face_box_in_crop(shape: tuple[int, ...], margin: float) -> FaceBox:
    """The face box that :func:`crop_face` cut a crop of this ``shape`` around at ``margin``, in the crop's
    pixels: centred, side = the crop's side / (1 + 2 * margin). With margin 0: a tight face image's own
    box (made square around its centre)."""
    h, w = shape[:2]
    side = max(h, w) / (1.0 + 2.0 * margin)
    return FaceBox(w / 2 - side / 2, h / 2 - side / 2, side, side)


def crop_face(frame_bgr: np.ndarray, box: FaceBox, margin: float) -> np.ndarray:
    """The square face crop (BGR uint8). Outside the frame is padded black, not smeared: smeared
    borders would look like the edges of a printed photo."""
    h, w = frame_bgr.shape[:2]
    x0, y0, x1, y1 = crop_box(box, margin)
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    crop = frame_bgr[cy0:cy1, cx0:cx1]
    pad = (cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1)
    if any(pad):
        crop = cv2.copyMakeBorder(crop, *pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return crop


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` resized to ``size`` x ``size``: INTER_AREA when shrinking (it averages, no aliasing),
    else INTER_LINEAR."""
    shrinking = image.shape[0] > size or image.shape[1] > size
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def prepare_crop(crop_bgr: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """Resize a face crop to the model input and normalise: float32 CHW, RGB. Every model input ends
    here: the app's crops and the crops training cuts out of its cache alike."""
    if crop_bgr.ndim != 3 or crop_bgr.shape[2] != 3 or crop_bgr.size == 0:
        raise ValueError(f"expected a non-empty HxWx3 BGR image, got shape {crop_bgr.shape}")
    resized = resize_square(crop_bgr, int(spec.input_size))
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    rgb -= np.asarray(spec.mean, dtype=np.float32)
    rgb /= np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


def preprocess_face(frame_bgr: np.ndarray, box: FaceBox, spec: PreprocessSpec) -> np.ndarray:
    """Frame + face box -> model input (float32 CHW)."""
    return prepare_crop(crop_face(frame_bgr, box, spec.crop_margin), spec)


def to_batch(inputs: Sequence[np.ndarray]) -> np.ndarray:
    """Stack prepared crops into an NCHW float32 array: what every backend's scorer takes (the torch one
    wraps it without a copy)."""
    return np.ascontiguousarray(np.stack(list(inputs), axis=0), dtype=np.float32)
