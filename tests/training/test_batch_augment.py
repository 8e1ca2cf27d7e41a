"""The batched augmentation (training.data.batch_augment, the GPU path) against the per-crop OpenCV path:
the same crops, crop boxes, flips and jitter values, resampled in another order; compared crop by crop and
in the statistics of many augmented crops. Also: the LUT colour steps of augment() are the float ones to
the bit, and evaluation crops read from the decoded store are the PNGs' to the bit."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from input_helpers import EXTRA, SPEC, crop_paths, face_cache

from liveness_app.core.files import read_image
from liveness_app.core.preprocess import prepare_crop
from training.data.augment import AugmentConfig, augment
from training.data.batch_augment import (
    CONTRAST,
    GAMMA,
    HEIGHT,
    N_PARAMS,
    SAT,
    VAL,
    WIDTH,
    augment_batch,
    draw_view,
    pack,
)
from training.data.feed import TrainFeed
from training.data.frames import CropDataset, epoch_entries, eval_entries
from training.data.store import DecodedStore, ensure_store

GREY = 1.0 / (255 * 0.226)  # one grey level in normalised units (the mean of the three std)


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory, sample_video: Path, detector_path: Path) -> tuple:
    cache, items = face_cache(tmp_path_factory.mktemp("faces"), sample_video, detector_path)
    store, note = ensure_store(cache.folder, crop_paths(items))
    assert store is not None and note == ""
    return items, store


def _both_paths(items: list, store: DecodedStore, cfg: AugmentConfig, synth: float = 0.0) -> tuple:
    """512 augmented crops of the same keys (crop, epoch, position) by the per-crop and the batched path."""
    entries = epoch_entries(items, 8, 4, 1)
    sampler = np.random.default_rng(1).integers(0, len(entries), 512).tolist()
    out = []
    for batched in (False, True):
        feed = TrainFeed(crop_paths(items), store, SPEC, EXTRA, cfg, synth_attacks=synth, batched=batched)
        out.append(torch.cat([batch[0] for batch in feed.epoch(entries, 1, sampler)]).float())
    return out[0], out[1]


@pytest.mark.parametrize(
    "cfg, synth",
    [(AugmentConfig(), 0.0), (AugmentConfig(gamma=0.2, downscale_p=0.25, blur_p=0.5), 0.3)],
    ids=["shipped", "gamma+downscale+blur+attacks"],
)
def test_batched_augmentation_matches_the_per_crop_path(faces: tuple, cfg: AugmentConfig, synth: float) -> None:
    per_crop, batched = _both_paths(*faces, cfg, synth)
    # Crop by crop: the same box, flip and jitter, so the same image but for the resampling order (a
    # wrong scale, shift, flip or colour would differ by tens of grey levels: see the mismatched pairs).
    mae = (per_crop - batched).abs().mean(dim=(1, 2, 3))
    unflipped = (per_crop.flip(3) - batched).abs().mean(dim=(1, 2, 3))
    other = (per_crop - batched.roll(1, 0)).abs().mean(dim=(1, 2, 3))
    assert float(mae.median()) < 1.0 * GREY and float(mae.max()) < 3.0 * GREY
    assert bool((mae < unflipped / 10).all()) and float(other.median()) > 20 * GREY
    # The statistics of the 512: per channel mean and spread, each crop's contrast, sharpness.
    assert torch.allclose(per_crop.mean(dim=(0, 2, 3)), batched.mean(dim=(0, 2, 3)), atol=0.5 * GREY)
    assert torch.allclose(per_crop.std(dim=(0, 2, 3)), batched.std(dim=(0, 2, 3)), rtol=0.01)
    assert torch.allclose(per_crop.std(dim=(1, 2, 3)).mean(), batched.std(dim=(1, 2, 3)).mean(), rtol=0.01)
    sharp = [(x[..., 1:] - x[..., :-1]).abs().mean() for x in (per_crop, batched)]
    assert float(sharp[1] / sharp[0]) == pytest.approx(1.0, abs=0.03)  # blur and resampling alike


def test_flip_rate_and_crop_scale_follow_the_config(faces: tuple) -> None:
    """The drawn parameters: flips at the configured rate, the crop box's side over the configured scale
    jitter (margin 0.25 + uniform(-0.1, 0.2) of the face side, so the side is 1.3..1.9 face sides)."""
    items, store = faces
    entries = epoch_entries(items, 8, 4, 1)
    feed = TrainFeed(crop_paths(items), store, SPEC, EXTRA, AugmentConfig(flip=0.3), batched=True)
    keys = [k for epoch in range(1, 65) for k in feed.epoch(entries, epoch, list(range(len(entries)))).keys]
    _, _, _, params = feed.crops.__getitems__(keys)
    assert float(params[:, 0].mean()) == pytest.approx(0.3, abs=0.05)
    cached = torch.tensor([store.shapes[feed.crops.rows[k[0]], 1] for k in keys], dtype=torch.float32)
    sides = params[:, WIDTH] / (cached / (1 + 2 * (SPEC.crop_margin + EXTRA)))  # in face sides
    assert 1.28 < float(sides.min()) and float(sides.max()) < 1.92 and float(sides.std()) > 0.1


def test_augment_batch_without_augmentation_is_prepare_crop(faces: tuple) -> None:
    _, store = faces
    crops = [np.ascontiguousarray(store.crop(i)[: 100 + 40 * i, : 100 + 40 * i]) for i in range(4)]
    slots = np.zeros((4, max(c.shape[0] for c in crops) + 1, max(c.shape[0] for c in crops) + 1, 3), np.uint8)
    pack(crops, slots)
    params = np.zeros((4, N_PARAMS), np.float32)
    params[:, [SAT, VAL, CONTRAST, GAMMA]] = 1.0
    params[:, HEIGHT] = params[:, WIDTH] = [c.shape[0] for c in crops]
    x = augment_batch(torch.from_numpy(slots), torch.from_numpy(params), 128, SPEC.mean, SPEC.std).numpy()
    for got, crop in zip(x, crops):  # enlarged, kept (128 px) and shrunk
        assert np.abs(got - prepare_crop(crop, SPEC)).mean() < 1.0 * GREY


def test_draw_view_draws_what_augment_draws() -> None:
    """The same generator state after both: every later draw of a crop (none now) stays in step."""
    crop = np.random.default_rng(0).integers(0, 256, (150, 150, 3), dtype=np.uint8)
    cfg = AugmentConfig(gamma=0.2, downscale_p=0.5, blur_p=0.5)
    for seed in range(40):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        augment(crop, a, cfg)
        view, params = draw_view(crop, b, cfg, 128)
        b.random()  # augment() also draws whether to re-encode as JPEG (jpeg_p 0: never)
        assert a.random() == b.random() and params[HEIGHT] == view.shape[0]


def test_colour_lookup_tables_are_the_float_path_to_the_bit() -> None:
    """augment() recolours through lookup tables: the float32 arithmetic of its former per-pixel code."""
    crop = np.random.default_rng(3).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    for seed in range(30):
        cfg = AugmentConfig(gamma=0.3, brightness=0.5, saturation=0.5, hue_deg=30, flip=0, blur_p=0)
        rng = np.random.default_rng(seed)
        rng.random(), rng.random()  # downscale and flip draws
        hue, sat, val = rng.uniform(-30, 30) / 2.0, 1.0 + rng.uniform(-0.5, 0.5), 1.0 + rng.uniform(-0.5, 0.5)
        contrast, gamma = 1.0 + rng.uniform(-0.15, 0.15), 1.0 + rng.uniform(-0.3, 0.3)
        hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + hue) % 180.0
        hsv[..., 1] *= sat
        hsv[..., 2] *= val
        img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
        mean = img.mean()
        img = (img - mean) * contrast + mean
        img = 255.0 * (np.clip(img, 0, 255) / 255.0) ** gamma
        expected = np.clip(img, 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(augment(crop, np.random.default_rng(seed), cfg), expected)


def test_evaluation_crops_from_the_store_are_the_pngs_to_the_bit(faces: tuple) -> None:
    items, store = faces
    entries = eval_entries(items, 8)
    with_store = CropDataset(entries, SPEC, EXTRA, train=False, store=store)
    from_png = CropDataset(entries, SPEC, EXTRA, train=False)
    assert all(row >= 0 for row in with_store.rows)
    for i in range(len(entries)):
        np.testing.assert_array_equal(store.crop(with_store.rows[i]), read_image(entries[i].crop_path))
        assert torch.equal(with_store[i][0], from_png[i][0])
