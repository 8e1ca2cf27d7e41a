"""Function matching: the external teachers score the very augmented view the student trains on
(``teacher_views="matched"``), with mixup between faces; the face boxes it needs are cached and untrusted."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from liveness_app.core.face import FaceBox
from liveness_app.core.model import load_checkpoint
from liveness_app.core.preprocess import PreprocessSpec
from studio_fakes import TINY_TEACHER_SPEC, tiny_dataset, tiny_teacher, tiny_train_config
from training.config import TrainConfig
from training.data.augment import AugmentConfig
from training.data.frames import Entry
from training.data.samples import Sample
from training.fit.loop import fit
from training.teachers.combine import fit_combiner
from training.teachers.matching import MatchedDataset, Matcher, _load_boxes, jitter_box
from training.teachers.spec import spec_from_dict

SPEC = PreprocessSpec(32, 0.25, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
STILL = AugmentConfig(flip=0.0, brightness=0.0, contrast=0.0, saturation=0.0, hue_deg=0.0, blur_p=0.0)


def _frame_dataset(tmp_path: Path, augment_cfg: AugmentConfig, seed: int = 4) -> MatchedDataset:
    """One 120 x 160 frame whose left half is dark and right half bright, a face box off its centre."""
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[:, :80] = (40, 60, 80)
    frame[:, 80:] = (200, 180, 160)
    frame[50:70, 60:100, 2] = 255
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), frame)
    entry = Entry(tmp_path / "crop_0.png", "live", "g", "v")
    sources = {entry.crop_path: (Sample(path, "live", "g", "image"), 0, FaceBox(56.0, 40.0, 40.0, 40.0))}
    teacher = spec_from_dict(TINY_TEACHER_SPEC, "tiny")
    return MatchedDataset([entry], sources, SPEC, [teacher], 1, seed, 0, augment_cfg)


def test_teacher_and_student_see_the_same_flip(tmp_path: Path) -> None:
    plain = _frame_dataset(tmp_path, STILL)
    flipped = _frame_dataset(tmp_path, AugmentConfig(**{**STILL.__dict__, "flip": 1.0}))
    x0, _, _, (t0,) = plain[0]
    x1, _, _, (t1,) = flipped[0]
    # the same jittered box, mirrored with the frame: both views come out mirrored (bright side swaps)
    # (up to a column where a sharp edge rounds to the other pixel)
    assert float((x1 - torch.flip(x0, dims=[2])).abs().mean()) < 0.05
    assert float((t1 - torch.flip(t0, dims=[2])).abs().mean()) < 0.05
    assert float((x1 - x0).abs().mean()) > 0.2
    assert float(x0[:, :, -4:].mean()) > float(x0[:, :, :4].mean())  # unflipped: bright on the right


def test_teacher_and_student_see_the_same_colours(tmp_path: Path) -> None:
    base_x, _, _, (base_t,) = _frame_dataset(tmp_path, STILL)[0]
    shifts = []
    for seed in range(6):
        cfg = AugmentConfig(**{**STILL.__dict__, "brightness": 0.4})
        x, _, _, (t,) = _frame_dataset(tmp_path, cfg, seed=seed)[0]
        shifts.append((float(x.mean() - base_x.mean()), float(t.mean() - base_t.mean())))
    assert any(abs(s) > 0.02 for s, _ in shifts)
    assert all(np.sign(s) == np.sign(t) for s, t in shifts if abs(s) > 0.02)  # one augmentation, both views


def test_the_jittered_box_keeps_its_centre_near_the_face() -> None:
    rng = np.random.default_rng(0)
    box = FaceBox(100.0, 50.0, 40.0, 40.0)
    for _ in range(50):
        j = jitter_box(box, 0.25, rng)
        assert abs(j.x + j.w / 2 - 120) <= 2.0 + 1e-9 and abs(j.y + j.h / 2 - 70) <= 2.0 + 1e-9
        assert 40 * 1.3 / 1.5 - 1e-9 <= j.w <= 40 * 1.9 / 1.5 + 1e-9 and j.w == j.h


def test_mixup_mixes_the_student_the_teachers_and_the_labels_alike() -> None:
    spec = spec_from_dict(TINY_TEACHER_SPEC, "tiny")
    combiner = fit_combiner("mean", ["tiny"], np.zeros((2, 1)), [True, False])

    class Fake:
        def __init__(self) -> None:
            self.spec = spec

    matcher = Matcher([Fake()], combiner, mixup=0.4, seed=1)  # type: ignore[list-item]
    x = torch.arange(8, dtype=torch.float32).reshape(8, 1, 1, 1)
    y = torch.tensor([1.0, 0, 1, 0, 1, 0, 1, 0])
    mx, my, (mv,) = matcher.mix(x, y, [x.clone()])
    assert torch.equal(mx, mv)  # the teacher's view is mixed exactly as the student's
    lam_ = (mx.flatten() - x.flatten()).abs().sum() > 0
    assert lam_ and bool(((my >= 0) & (my <= 1)).all())
    off = Matcher([Fake()], combiner, mixup=0.0)  # type: ignore[list-item]
    assert off.mix(x, y, [x])[0] is x


def test_a_corrupt_box_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "boxes.json"
    path.write_text('{"boxes": {"a": [[1, 2, 3, 4]], "b": [[1, 2, 3]], "c": "x", "d": [[0, 0, -1, 5]]}}')
    assert _load_boxes(path) == {"a": [[1.0, 2.0, 3.0, 4.0]]}
    path.write_text("{not json")
    assert _load_boxes(path) == {}


def test_a_student_trains_on_matched_views_with_mixup(tmp_path: Path) -> None:
    data = tiny_dataset(tmp_path / "data", per_class=6)
    spec = tiny_teacher(tmp_path / "teachers")
    cfg = tiny_train_config(
        tmp_path, data, epochs=1, install=False, teachers=(str(spec),), teacher_rule="mean", kd_weight=0.5,
        teacher_views="matched", mixup=0.4,
    )  # fmt: skip
    events = list(fit(cfg))
    assert any(e.kind == "cache" and "boxes" in e.message for e in events)
    _, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    record = meta.training["data"]["teachers"]
    assert record["views"] == "matched" and record["mixup"] == 0.4
    assert 0 < record["train_crops_matched"] <= record["train_crops"]
    boxes = list((tmp_path / "cache" / "teachers").glob("boxes-*.json"))
    assert len(boxes) == 1 and _load_boxes(boxes[0])  # found once, kept for the next run


@pytest.mark.parametrize(
    "kw",
    [dict(teacher_views="matched"), dict(mixup=0.5), dict(teachers=("x",), mixup=0.5), dict(teacher_views="both")],
)
def test_matching_options_are_checked(tmp_path: Path, kw: dict) -> None:
    with pytest.raises(ValueError):
        TrainConfig(data=("x",), out_dir=str(tmp_path), **kw)
