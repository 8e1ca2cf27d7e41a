"""Colour LBP texture features, computed inside the model (optional fusion with the CNN).

The descriptor of Boulkenafet, Komulainen and Hadid, "Face anti-spoofing based on color texture analysis"
(ICIP 2015): uniform LBP(8, 1) codes of the Y, Cb and Cr channels, one 59-bin histogram per channel and per
cell of a ``grid`` x ``grid`` layout. Prints and screens change the fine texture and the chroma of a face;
these histograms see exactly that, and need no training data to compute.

It is a fixed ``nn.Module`` (no parameters, buffers not saved) that takes the model's normalised input, so
the app and training share it with no extra preprocessing step, and it runs on the GPU with the network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BINS = 59  # 58 uniform 8-bit patterns + 1 for all the others
# (dy, dx) of the 8 neighbours, clockwise from the top-left; bit k of a code is neighbour k >= centre.
NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
# ITU-R BT.601 full-range RGB -> YCbCr (as JPEG and OpenCV's COLOR_RGB2YCrCb use), on 0..255 values.
_YCBCR = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
_YCBCR_OFFSET = (0.0, 128.0, 128.0)


def uniform_lut() -> torch.Tensor:
    """Code (0..255) -> bin: the 58 codes with at most two 0/1 transitions around the circle get bins
    0..57 in increasing code order; every other code gets bin 58."""
    lut = torch.full((256,), BINS - 1, dtype=torch.long)
    nxt = 0
    for code in range(256):
        rotated = ((code >> 1) | ((code & 1) << 7)) & 0xFF
        if bin(code ^ rotated).count("1") <= 2:
            lut[code] = nxt
            nxt += 1
    assert nxt == BINS - 1
    return lut


class LBPHistograms(nn.Module):
    """(N, 3, H, W) normalised RGB -> (N, 3 * grid * grid * 59) histograms, each summing to 1."""

    # the buffers registered in __init__ (declared so that the checker knows them as tensors)
    mean: torch.Tensor
    std: torch.Tensor
    ycbcr: torch.Tensor
    offset: torch.Tensor
    lut: torch.Tensor

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], grid: int = 2) -> None:
        super().__init__()
        if grid < 1:
            raise ValueError("grid must be >= 1")
        self.grid = grid
        self.out_dim = 3 * grid * grid * BINS
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("ycbcr", torch.tensor(_YCBCR), persistent=False)
        self.register_buffer("offset", torch.tensor(_YCBCR_OFFSET).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("lut", uniform_lut(), persistent=False)

    def ycbcr_255(self, x: torch.Tensor) -> torch.Tensor:
        """Un-normalise to 0..255 RGB and convert to YCbCr, rounded as an 8-bit image would be."""
        rgb = (x.float() * self.std + self.mean).clamp(0.0, 1.0) * 255.0
        ycc = torch.einsum("oc,nchw->nohw", self.ycbcr, rgb) + self.offset
        return ycc.round().clamp(0.0, 255.0)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """Uniform-LBP bin (0..58) of every pixel of every YCbCr channel: (N, 3, H, W), long."""
        img = self.ycbcr_255(x)
        height, width = img.shape[-2:]
        padded = F.pad(img, (1, 1, 1, 1), mode="replicate")
        code = torch.zeros(img.shape, dtype=torch.long, device=img.device)
        for bit, (dy, dx) in enumerate(NEIGHBOURS):
            neighbour = padded[..., 1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
            code |= (neighbour >= img).long() << bit
        return self.lut[code]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bins = self.codes(x)
        n, channels, height, width = bins.shape
        rows = torch.arange(height, device=x.device) * self.grid // height
        cols = torch.arange(width, device=x.device) * self.grid // width
        cell = (rows[:, None] * self.grid + cols[None, :]).view(1, 1, height, width)
        hist_id = torch.arange(n * channels, device=x.device).view(n, channels, 1, 1) * self.grid**2 + cell
        flat = (hist_id * BINS + bins).flatten()
        counts = torch.bincount(flat, minlength=n * channels * self.grid**2 * BINS).float()
        hist = counts.view(n, channels * self.grid**2, BINS)
        return (hist / hist.sum(-1, keepdim=True).clamp_min(1.0)).flatten(1)
