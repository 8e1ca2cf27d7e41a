"""Training augmentation: shape and type kept, reproducible by seed, optional parts really applied."""

from __future__ import annotations

import numpy as np
import pytest

from training.config import TrainConfig
from training.data.augment import AugmentConfig, augment


def _crop() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)


def test_augment_is_reproducible_and_keeps_shape() -> None:
    a = augment(_crop(), np.random.default_rng(7))
    b = augment(_crop(), np.random.default_rng(7))
    assert a.shape == (48, 48, 3) and a.dtype == np.uint8 and np.array_equal(a, b)


def test_jpeg_and_gamma_change_the_image_only_when_enabled() -> None:
    off = AugmentConfig(flip=0, brightness=0, contrast=0, saturation=0, hue_deg=0, blur_p=0)
    # with every random part off, only the HSV round trip remains: nearly the input
    same = augment(_crop(), np.random.default_rng(1), off)
    assert np.abs(same.astype(int) - _crop()).mean() < 3
    jpeg = AugmentConfig(**{**off.__dict__, "jpeg_p": 1.0, "jpeg_quality": (20, 20)})
    assert np.abs(augment(_crop(), np.random.default_rng(1), jpeg).astype(int) - same).mean() > 10
    gamma = AugmentConfig(**{**off.__dict__, "gamma": 0.5})
    assert not np.array_equal(augment(_crop(), np.random.default_rng(1), gamma), same)


def test_unknown_augment_option_is_refused_when_the_config_is_built() -> None:
    assert AugmentConfig.from_overrides({"jpeg_quality": [50, 90]}).jpeg_quality == (50, 90)
    with pytest.raises(ValueError, match="jpg_p"):
        TrainConfig(augment={"jpg_p": 0.5})


def test_downscale_shrinks_large_crops_only() -> None:
    cfg = AugmentConfig(downscale_p=1.0, downscale_side=(40, 40))
    assert augment(_crop(), np.random.default_rng(2), cfg).shape == (40, 40, 3)
    small = _crop()[:32, :32]
    assert augment(small, np.random.default_rng(2), cfg).shape == (32, 32, 3)
