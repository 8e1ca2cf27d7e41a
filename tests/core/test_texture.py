"""Colour-LBP texture features: the lookup table, the codes against a per-pixel reference, histograms."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from liveness_app.core.preprocess import PreprocessSpec, prepare_crop
from liveness_app.core.texture import BINS, NEIGHBOURS, LBPHistograms, uniform_lut

SPEC = PreprocessSpec(24, 0.25, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _input(img_bgr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(prepare_crop(img_bgr, SPEC))[None]


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (24, 24, 3), dtype=np.uint8)


def test_uniform_lut_has_58_uniform_patterns_and_one_bin_for_the_rest() -> None:
    lut = uniform_lut()
    uniform = lut[lut < BINS - 1]
    assert len(uniform) == 58 and sorted(uniform.tolist()) == list(range(58))
    assert lut[0] == 0 and lut[255] == 57  # flat and all-brighter neighbourhoods
    assert lut[0b00001111] < 58 and lut[0b11110000] < 58  # one edge: two transitions
    assert lut[0b01010101] == 58 and lut[0b00100101] == 58  # noise: many transitions


def test_ycbcr_matches_opencv_within_rounding() -> None:
    img = _image(1)
    ycc = LBPHistograms(SPEC.mean, SPEC.std).ycbcr_255(_input(img))[0].numpy()
    ref = cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb).astype(np.float32)  # channels Y, Cr, Cb
    assert np.abs(ycc - ref[..., [0, 2, 1]].transpose(2, 0, 1)).max() <= 1.0


def test_codes_match_a_per_pixel_reference() -> None:
    lbp = LBPHistograms(SPEC.mean, SPEC.std)
    x = _input(_image(2))
    img = lbp.ycbcr_255(x)[0].numpy()
    got = lbp.codes(x)[0].numpy()
    lut = uniform_lut().numpy()
    channels, height, width = img.shape
    for c in range(channels):
        for y in range(height):
            for x_ in range(width):
                code = 0
                for bit, (dy, dx) in enumerate(NEIGHBOURS):
                    ny, nx = min(max(y + dy, 0), height - 1), min(max(x_ + dx, 0), width - 1)  # replicate
                    code |= int(img[c, ny, nx] >= img[c, y, x_]) << bit
                assert got[c, y, x_] == lut[code], (c, y, x_)


def test_histograms_are_per_cell_and_normalised() -> None:
    lbp = LBPHistograms(SPEC.mean, SPEC.std, grid=2)
    flat = np.full((24, 24, 3), 120, np.uint8)
    textured = _image(3)
    h = lbp(torch.cat([_input(flat), _input(textured)]))
    assert h.shape == (2, lbp.out_dim) and lbp.out_dim == 3 * 4 * BINS
    cells = h.view(2, 12, BINS)
    torch.testing.assert_close(cells.sum(-1), torch.ones(2, 12))
    assert torch.all(cells[0, :, 57] == 1.0)  # a flat image: every neighbour >= centre everywhere
    assert (cells[1] > 0).sum() > 12 * 5  # noise spreads over many bins
    # each cell's histogram counts exactly the codes of its own quarter of the image
    codes = lbp.codes(_input(textured))[0]
    for c in range(3):
        for cell, (ys, xs) in enumerate(
            [
                (slice(0, 12), slice(0, 12)),
                (slice(0, 12), slice(12, 24)),
                (slice(12, 24), slice(0, 12)),
                (slice(12, 24), slice(12, 24)),
            ]
        ):
            want = torch.bincount(codes[c, ys, xs].flatten(), minlength=BINS).float() / 144
            torch.testing.assert_close(cells[1, c * 4 + cell], want)


def test_brightness_shift_leaves_luma_texture_unchanged() -> None:
    """LBP compares neighbours with the centre: adding a constant to an image changes no Y code."""
    lbp = LBPHistograms(SPEC.mean, SPEC.std)
    img = np.random.default_rng(4).integers(40, 200, (24, 24, 3), dtype=np.uint8)
    grey = np.repeat(img[..., :1], 3, axis=2)  # R = G = B: Y is the value itself, exactly
    a, b = lbp.codes(_input(grey))[0, 0], lbp.codes(_input(grey + 30))[0, 0]
    assert torch.equal(a, b)


@pytest.mark.parametrize("grid", [1, 3])
def test_grid_sizes(grid: int) -> None:
    h = LBPHistograms(SPEC.mean, SPEC.std, grid=grid)(_input(_image(5)))
    assert h.shape == (1, 3 * grid * grid * BINS)
