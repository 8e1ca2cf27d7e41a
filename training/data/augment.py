"""Training-time augmentation that keeps the cues liveness depends on.

Moderate colour jitter and rare, light blur only: strong blur or noise erases the moiré, print dots and
sharpness differences that separate a replay or a print from a face. Horizontal flips are free; the crop
scale is jittered in :func:`training.data.cache.crop_for_training`. Optional gamma, JPEG re-encoding and
downscaling (off by default) imitate other cameras' tone curves, compression and resolution; the run
config turns them on (``"augment": {"gamma": 0.2, "jpeg_p": 0.3, "downscale_p": 0.25}``). Downscaling
matters when source resolution goes with the label in the training data (one source's replays are tiny
crops, another's live faces are): without it, "upsampled and soft" becomes a spoof cue.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    flip: float = 0.5
    brightness: float = 0.15  # +- fraction
    contrast: float = 0.15
    saturation: float = 0.15
    hue_deg: float = 4.0
    blur_p: float = 0.1
    blur_sigma: tuple[float, float] = (0.3, 0.9)
    gamma: float = 0.0  # +- fraction of the exponent (0 = off)
    jpeg_p: float = 0.0  # probability of a JPEG re-encode
    jpeg_quality: tuple[int, int] = (60, 95)
    downscale_p: float = 0.0  # probability of shrinking the crop to a random side in ``downscale_side``
    downscale_side: tuple[int, int] = (56, 128)  # px; the model input is then upsampled from it

    @classmethod
    def from_overrides(cls, overrides: dict) -> "AugmentConfig":
        """Defaults with the given fields replaced (a run config's ``augment`` entry)."""
        known = {f.name: f for f in fields(cls)}
        unknown = set(overrides) - set(known)
        if unknown:
            raise ValueError(f"unknown augmentation option(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        return cls(**values)


def augment(crop_bgr: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """A randomly perturbed copy of a uint8 BGR crop."""
    img = crop_bgr
    if rng.random() < cfg.downscale_p:
        side = int(rng.integers(cfg.downscale_side[0], cfg.downscale_side[1] + 1))
        if min(img.shape[:2]) > side:  # a small, far or low-resolution face: upsampled like the real ones
            img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    if rng.random() < cfg.flip:
        img = img[:, ::-1]
    # The colour steps as lookup tables on uint8: the same float32 arithmetic as recolouring every pixel
    # (hue, saturation and value of OpenCV's uint8 HSV, then contrast and gamma), done on the 256 values a
    # pixel can have, so the result is the same to the bit at a fraction of the cost.
    ramp = np.arange(256, dtype=np.float32)
    hsv_lut = np.stack(
        [
            (ramp + rng.uniform(-cfg.hue_deg, cfg.hue_deg) / 2.0) % 180.0,  # OpenCV hue: 0..180
            ramp * (1.0 + rng.uniform(-cfg.saturation, cfg.saturation)),
            ramp * (1.0 + rng.uniform(-cfg.brightness, cfg.brightness)),
        ],
        axis=1,
    )
    hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2HSV)
    hsv = cv2.LUT(hsv, np.clip(hsv_lut, 0, 255).astype(np.uint8).reshape(256, 1, 3))
    img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    mean = img.astype(np.float32).mean()
    tone = (ramp - mean) * (1.0 + rng.uniform(-cfg.contrast, cfg.contrast)) + mean
    if cfg.gamma:
        tone = 255.0 * (np.clip(tone, 0, 255) / 255.0) ** (1.0 + rng.uniform(-cfg.gamma, cfg.gamma))
    img = cv2.LUT(img, np.clip(tone, 0, 255).astype(np.uint8))
    if rng.random() < cfg.blur_p:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(*cfg.blur_sigma))
    if rng.random() < cfg.jpeg_p:
        quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if decoded is not None:  # as when the encoding fails: the crop stays as it is
            img = decoded
    return img
