"""The training augmentation of :mod:`.augment`, split in two so that most of it runs on whole batches.

In a loader worker, per crop (:func:`draw_view`): the same random draws, in the same order, from the same
per-crop generator as :func:`.augment.augment`, and the optional downscaling. The crop itself is cut there
by :func:`training.data.frames.train_view` (the scale and shift jitter of ``crop_for_training``, a view of
the cached crop) and copied into the batch as it is. On the training device, per batch
(:func:`augment_batch`): the resize to the model's input (``prepare_crop``'s: area averaging when
shrinking, bilinear when enlarging), flip, the HSV colour jitter (OpenCV's hue, saturation and value),
contrast, gamma, Gaussian blur and ``prepare_crop``'s normalisation, as torch operations. So a crop gets
the very crop box, flip and jitter values the per-crop path would have given it; what differs is where it
is resampled: the per-crop path recolours and blurs at the cached crop's resolution and resizes last, this
one resizes first (the blur's sigma is scaled by the resize, so it blurs the same share of the face). A
test compares the two paths' statistics.

JPEG re-encoding cannot run on a batch of tensors: a run with ``jpeg_p`` > 0 keeps the per-crop path
(:func:`batchable`).
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from liveness_app.core.preprocess import resize_square
from training.data.augment import AugmentConfig

# Columns of the per-crop parameters that go with each crop to the device.
FLIP, HUE, SAT, VAL, CONTRAST, GAMMA, SIGMA, HEIGHT, WIDTH = range(9)
N_PARAMS = 9
_HSV_TO_RGB_OFFSETS = (5.0, 3.0, 1.0)  # hexcone HSV -> RGB: channel n is v - v*s*clamp(min(k, 4 - k), 0, 1)


def batchable(cfg: AugmentConfig) -> bool:
    """Whether :func:`augment_batch` can apply ``cfg``: everything but JPEG re-encoding (the last step of
    the per-crop path, after the blur) runs on batches."""
    return cfg.jpeg_p <= 0.0


def draw_view(
    crop_bgr: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The crop (downscaled when drawn so; uint8 BGR) and its augmentation parameters (float32,
    ``N_PARAMS``), drawn from ``rng`` exactly as :func:`.augment.augment` draws them, for a model input
    of ``size`` px (``cfg.jpeg_p`` must be 0)."""
    img = crop_bgr
    if rng.random() < cfg.downscale_p:
        side = int(rng.integers(cfg.downscale_side[0], cfg.downscale_side[1] + 1))
        if min(img.shape[:2]) > side:
            img = resize_square(img, side)  # INTER_AREA, as augment() shrinks
    params = np.zeros(N_PARAMS, np.float32)
    params[FLIP] = rng.random() < cfg.flip
    params[HUE] = rng.uniform(-cfg.hue_deg, cfg.hue_deg)
    params[SAT] = 1.0 + rng.uniform(-cfg.saturation, cfg.saturation)
    params[VAL] = 1.0 + rng.uniform(-cfg.brightness, cfg.brightness)
    params[CONTRAST] = 1.0 + rng.uniform(-cfg.contrast, cfg.contrast)
    params[GAMMA] = 1.0 + rng.uniform(-cfg.gamma, cfg.gamma) if cfg.gamma else 1.0
    if rng.random() < cfg.blur_p:  # the sigma at the crop's resolution, scaled to the model input's
        params[SIGMA] = rng.uniform(*cfg.blur_sigma) * size / max(img.shape[:2])
    params[HEIGHT], params[WIDTH] = img.shape[:2]
    return img, params


def pack(crops: Sequence[np.ndarray], out: np.ndarray) -> None:
    """Each crop into the top left of its slot of ``out`` (N, side, side, 3), with its last row and column
    repeated once beyond it where the slot has room: the resize reads that far (OpenCV replicates the
    border too). The rest of a slot is never read."""
    for slot, crop in zip(out, crops):
        h, w = crop.shape[:2]
        slot[:h, :w] = crop
        if w < slot.shape[1]:
            slot[:h, w] = crop[:, w - 1]
        if h < slot.shape[0]:
            slot[h, : min(w + 1, slot.shape[1])] = slot[h - 1, : min(w + 1, slot.shape[1])]


def augment_batch(
    x_bgr: torch.Tensor, params: torch.Tensor, size: int, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """(N, H, W, 3) uint8 BGR slots (:func:`pack`) on any device, and their (N, ``N_PARAMS``) parameters on
    the CPU, as the workers make them -> the model's normalised float32 (N, 3, ``size``, ``size``) RGB input,
    augmented, on the slots' device. What is decided per batch (whether any crop is flipped, which are
    blurred and how wide) is read from the CPU copy, so the host never waits for the device here.
    Parameters of an un-augmented crop (flip 0, factors 1, hue 0, sigma 0) give ``prepare_crop``'s tensor
    of it but for the resampling's rounding and the HSV round trip's steps (a few grey levels), as
    :func:`.augment.augment` does."""
    plan = params.detach().to("cpu", torch.float32)
    device = x_bgr.device
    p = params.to(device, torch.float32, non_blocking=True)
    x = x_bgr.permute(0, 3, 1, 2).flip(1).float()  # BGR -> RGB, NCHW
    boxes = torch.zeros(len(x), 5, device=device)
    boxes[:, 0] = torch.arange(len(x), device=device)
    boxes[:, 3], boxes[:, 4] = p[:, WIDTH], p[:, HEIGHT]
    # Per crop: ceil(side / size) bilinear samples per output pixel and axis. At 2x that is OpenCV's
    # INTER_AREA exactly; in between, close to it; when enlarging, one sample: INTER_LINEAR.
    x = roi_align(x, boxes, (size, size), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    if bool((plan[:, FLIP] > 0.5).any()):
        x = torch.where(p[:, FLIP, None, None, None] > 0.5, x.flip(3), x)
    x = hsv_jitter(x, p[:, HUE], p[:, SAT], p[:, VAL])
    mean_px = x.mean(dim=(1, 2, 3), keepdim=True)  # one mean over the whole crop, as augment() takes
    x = (x - mean_px) * p[:, CONTRAST, None, None, None] + mean_px
    if bool((plan[:, GAMMA] != 1.0).any()):
        x = 255.0 * (x.clamp(0.0, 255.0) / 255.0) ** p[:, GAMMA, None, None, None]
    x = (x.clamp(0.0, 255.0) + 1e-3).floor()  # augment() ends its colour steps in uint8 (truncating)
    blurred = torch.nonzero(plan[:, SIGMA] > 0).flatten()
    x = gaussian_blur(x, blurred, plan[blurred, SIGMA])
    return (x / 255.0 - _constant(tuple(mean), device)) / _constant(tuple(std), device)


@functools.lru_cache(maxsize=16)
def _constant(values: tuple[float, ...], device: torch.device) -> torch.Tensor:
    """Per-channel constants, made once per device (a fresh small tensor would be a blocking copy)."""
    return torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1).to(device)


def hsv_jitter(rgb: torch.Tensor, hue_deg: torch.Tensor, sat: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
    """OpenCV's HSV jitter on float RGB (0..255, NCHW): hue shifted by ``hue_deg`` (per crop), saturation
    and value scaled by ``sat`` and ``val`` and clipped at their maxima, in the steps of the uint8 HSV copy
    :func:`.augment.augment` jitters (its rounding and truncation included: they shift colours by about a
    grey level, and the two paths' means would differ by as much without them)."""
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    v, _ = rgb.max(dim=1)
    delta = v - rgb.min(dim=1).values
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.where(v == r, ((g - b) / safe) % 6.0, torch.where(v == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    s = torch.where(v > 0, delta / torch.where(v > 0, v, torch.ones_like(v)), torch.zeros_like(v))
    # OpenCV's uint8 HSV: hue in 2-degree steps (0..180), saturation and value 0..255, each rounded when
    # converted and truncated after the jitter, as augment() stores them
    h = ((torch.round(h * 30.0) + (hue_deg / 2.0)[:, None, None]) % 180.0).floor() / 30.0
    s = (torch.round(s * 255.0) * sat[:, None, None]).clamp(max=255.0).floor() / 255.0
    v = (torch.round(v) * val[:, None, None]).clamp(max=255.0).floor()
    k = (_constant(_HSV_TO_RGB_OFFSETS, rgb.device) + h[:, None]) % 6.0
    return v[:, None] * (1.0 - s[:, None] * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0))


def gaussian_blur(x: torch.Tensor, picked: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """``x`` (NCHW float) with the crops ``picked`` blurred, each with its ``sigma`` (both on the CPU),
    with OpenCV's kernel size for 8-bit images and its border (reflect-101)."""
    if picked.numel() == 0:
        return x
    half = (torch.round(sigma * 6.0 + 1.0).long() | 1) // 2  # OpenCV's radius for 8-bit images, per crop
    radius = max(1, int(half.max()))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(taps[None] ** 2) / (2.0 * sigma[:, None] ** 2)) * (taps[None].abs() <= half[:, None])
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).to(x.device, x.dtype, non_blocking=True)
    index = picked.to(x.device, non_blocking=True)
    n, c, hgt, wid = len(picked), x.shape[1], x.shape[2], x.shape[3]
    sub = F.pad(x[index].reshape(1, n * c, hgt, wid), (radius,) * 4, mode="reflect")
    per_channel = kernel.repeat_interleave(c, dim=0)  # (n*c, taps)
    sub = F.conv2d(sub, per_channel[:, None, None, :], groups=n * c)
    sub = F.conv2d(sub, per_channel[:, None, :, None], groups=n * c)
    out = x.clone()
    out[index] = sub.reshape(n, c, hgt, wid)
    return out
