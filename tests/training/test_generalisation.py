"""The generalisation tools on tiny data: simulated attacks, threshold rules, leave-groups-out folds, the
MobileNetV2 architecture, feature distillation from a teacher, and the cross-validation command."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from liveness_app.core.model import build_model, load_checkpoint
from liveness_app.core.pipeline import LoadedModel
from liveness_app.core.weights import ModelLoadError
from studio_fakes import tiny_dataset as _tiny_dataset
from studio_fakes import tiny_train_config as _cfg
from training.config import TrainConfig
from training.data.attacks import simulate_attack, simulate_print, simulate_replay
from training.data.samples import Sample
from training.eval.thresholds import balanced_eer_threshold, group_median_eer_threshold, thresholds
from training.fit.checkpoint import load_pretrained
from training.fit.distill import distillation_loss, kd_loss
from training.fit.loop import fit
from training.studies.cv import assign_folds, dev_groups_for
from training.studies.cv import main as cv_main


def _face(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((96, 96, 3), 150, np.uint8)
    cv2.circle(img, (48, 48), 30, (110, 140, 200), -1)
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def _high_frequency(img: np.ndarray) -> float:
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())


def test_simulated_attacks_keep_the_shape_add_their_traces_and_are_reproducible() -> None:
    face = _face()
    for simulate in (simulate_replay, simulate_print):
        a = simulate(face, np.random.default_rng(3))
        b = simulate(face, np.random.default_rng(3))
        assert a.shape == face.shape and a.dtype == np.uint8
        np.testing.assert_array_equal(a, b)
        assert np.abs(a.astype(int) - face).mean() > 3  # visibly a different image
    # a print's dynamic range is flattened (paper is never black nor pure white)
    printed = simulate_print(face, np.random.default_rng(5))
    assert (
        np.percentile(printed, 99) - np.percentile(printed, 1) < np.percentile(face, 99) - np.percentile(face, 1) + 60
    )
    kinds = {simulate_attack(face, np.random.default_rng(s))[1] for s in range(20)}
    assert kinds == {"synthetic-replay", "synthetic-print"}


def test_screen_pixels_add_high_frequency_energy() -> None:
    from training.data.attacks import screen_pixels

    face = cv2.GaussianBlur(_face(), (0, 0), 2.0)
    assert _high_frequency(screen_pixels(face, np.random.default_rng(1), 0.7)) > 2 * _high_frequency(face)


def test_threshold_rules() -> None:
    rng = np.random.default_rng(0)
    # group "big" (900 samples) scores high for everyone; "small" (100) lower: pooled EER follows "big"
    scores = np.concatenate(
        [rng.normal(0.8, 0.05, 450), rng.normal(0.6, 0.05, 450), rng.normal(0.5, 0.05, 50), rng.normal(0.3, 0.05, 50)]
    )
    labels = ["live"] * 450 + ["print"] * 450 + ["live"] * 50 + ["print"] * 50
    groups = ["big"] * 900 + ["small"] * 100
    live = np.array([lab == "live" for lab in labels])
    rules = thresholds(scores, labels, groups)
    assert set(rules) == {"pooled_eer", "balanced_eer", "bpcer5", "group_median_eer"}
    assert group_median_eer_threshold(scores, live, groups) == pytest.approx((0.7 + 0.4) / 2, abs=0.05)
    balanced = balanced_eer_threshold(scores, live, groups)
    assert 0.3 < balanced < 0.8 and abs(balanced - rules["pooled_eer"]) > 0.02  # the small group counts too
    assert balanced_eer_threshold(scores[live], live[live], [g for g, v in zip(groups, live) if v]) is None


def _samples(n_groups: int) -> list[Sample]:
    out = []
    for g in range(n_groups):
        fam = "nuaa" if g % 3 == 0 else "webcam" if g % 3 == 1 else f"repo{g}"
        name = f"{fam}-{g}" if not fam.startswith("repo") else fam
        for i in range(5 + g):
            out.append(Sample(Path(f"{name}/{i}.jpg"), "live" if i % 2 else "print", name, "image"))
    return out


def test_folds_cover_every_group_once_and_mix_the_families() -> None:
    samples = _samples(15)
    folds = assign_folds(samples, 3)
    flat = [g for fold in folds for g in fold]
    assert sorted(flat) == sorted({s.group for s in samples}) and len(flat) == len(set(flat))
    for fold in folds:
        assert any(g.startswith("nuaa-") for g in fold) and any(g.startswith("webcam-") for g in fold)
        dev = dev_groups_for(samples, fold, 0.25, seed=4)
        assert not set(dev) & set(fold) and any(g.startswith("nuaa-") for g in dev)
    with pytest.raises(ValueError, match="cannot make"):
        assign_folds(samples[:5], 3)


def test_mobilenet_v2_loads_imagenet_style_weights_and_runs_in_the_app(tmp_path: Path) -> None:
    torchvision_like = {k: v for k, v in build_model("mobilenet_v2").state_dict().items()}
    torchvision_like["classifier.1.weight"] = torch.zeros(1000, 1280)  # ImageNet's 1000-class head
    torchvision_like["classifier.1.bias"] = torch.zeros(1000)
    torch.save(torchvision_like, tmp_path / "imagenet.pth")
    model = build_model("mobilenet_v2")
    assert load_pretrained(model, tmp_path / "imagenet.pth") == ["classifier.1.bias", "classifier.1.weight"]
    with pytest.raises(ValueError, match="no complete mobilenet_v3_large feature weights"):
        load_pretrained(build_model("mobilenet_v3_large"), tmp_path / "imagenet.pth")


def test_distillation_loss_is_zero_for_a_perfect_student() -> None:
    teacher_map = torch.randn(2, 6, 4, 4)
    identity = torch.nn.Conv2d(6, 6, 1, bias=False)
    with torch.no_grad():
        identity.weight.copy_(torch.eye(6)[:, :, None, None])
    assert distillation_loss(teacher_map, teacher_map, identity).item() == pytest.approx(0.0, abs=1e-5)
    assert distillation_loss(-teacher_map, teacher_map, identity).item() > 3.9


def test_fit_distils_then_trains_mobilenet_v3_with_synthetic_attacks(tmp_path: Path) -> None:
    data = _tiny_dataset(tmp_path / "data")
    teacher = build_model("mobilenet_v2").state_dict()
    torch.save(teacher, tmp_path / "teacher.pth")
    events = list(
        fit(
            _cfg(
                tmp_path,
                data,
                epochs=1,
                distill_from=str(tmp_path / "teacher.pth"),
                distill_epochs=1,
                synth_attacks=0.5,
                install=False,
            )
        )
    )
    phases = [(e.kind, e.phase) for e in events]
    assert ("batch", "distil") in phases and ("epoch", "distil") in phases
    assert phases.index(("epoch", "distil")) < phases.index(("batch", ""))  # distillation comes first
    model, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    assert meta.arch == "mobilenet_v3_large" and meta.training["recipe"]["synth_attacks"] == 0.5


def test_kd_loss_is_smallest_where_the_student_agrees_with_the_teacher() -> None:
    teacher = torch.tensor([3.0, -2.0, 0.5])
    agree, disagree = kd_loss(teacher, teacher, 2.0), kd_loss(-teacher, teacher, 2.0)
    assert disagree > agree
    grad_point = teacher.clone().requires_grad_(True)
    kd_loss(grad_point, teacher, 2.0).backward()
    assert torch.allclose(grad_point.grad, torch.zeros(3), atol=1e-6)  # a minimum at the teacher's logits


def test_fit_learns_from_a_liveness_teacher_of_the_same_preprocessing_only(tmp_path: Path) -> None:
    data = _tiny_dataset(tmp_path / "data")
    list(fit(_cfg(tmp_path, data, epochs=1, arch="mobilenet_v2", install=False, out_dir=str(tmp_path / "t"))))
    teacher = tmp_path / "t" / "best.pt"
    list(fit(_cfg(tmp_path, data, epochs=1, teacher=str(teacher), kd_weight=0.7, install=False)))
    _, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    assert meta.arch == "mobilenet_v3_large" and meta.training["recipe"]["teacher"] == str(teacher)
    with pytest.raises(ModelLoadError, match="preprocessing"):  # 48 px student, 32 px teacher: refused
        next(
            iter(
                fit(
                    _cfg(
                        tmp_path,
                        data,
                        epochs=1,
                        input_size=48,
                        teacher=str(teacher),
                        install=False,
                        out_dir=str(tmp_path / "other"),
                    )
                )
            )
        )


def test_a_bad_teacher_or_kd_setting_is_refused_before_any_caching(tmp_path: Path) -> None:
    for bad in ({"kd_weight": 1.5}, {"kd_weight": -0.1}, {"kd_temperature": 0.0}):
        with pytest.raises(ValueError, match="kd_weight must be in"):
            TrainConfig(**bad)
    data = _tiny_dataset(tmp_path / "data")
    (tmp_path / "teacher.pt").write_bytes(b"not a model")
    for teacher in (tmp_path / "missing.pt", tmp_path / "teacher.pt"):
        events = fit(_cfg(tmp_path, data, epochs=1, teacher=str(teacher), install=False))
        with pytest.raises(ModelLoadError, match=teacher.name):
            next(iter(events))  # refused at the first step: no crop was cached
    assert not (tmp_path / "cache").exists()


def test_fit_trains_a_mobilenet_v2_the_app_can_load(tmp_path: Path) -> None:
    data = _tiny_dataset(tmp_path / "data")
    list(fit(_cfg(tmp_path, data, epochs=1, arch="mobilenet_v2", install=False)))
    loaded = LoadedModel.load(tmp_path / "run" / "best.pt")
    assert loaded.meta.arch == "mobilenet_v2"
    x = torch.zeros(1, 3, 32, 32)
    out = loaded.scorer(x, with_cam=True)
    assert out.scores.shape == (1,) and out.cams.shape[0] == 1


def test_cross_validation_command_writes_per_fold_and_overall_results(tmp_path: Path) -> None:
    data = _tiny_dataset(tmp_path / "data", per_class=6, groups=6)
    config = tmp_path / "cv.json"
    cfg = _cfg(tmp_path, data, epochs=1, install=False, dev_groups=(), dev_fraction=0.25)
    config.write_text(json.dumps(cfg.to_dict()))
    assert cv_main(["--config", str(config), "--folds", "3", "--out", str(tmp_path / "cv")]) == 0
    result = json.loads((tmp_path / "cv" / "cv.json").read_text())
    tested = [g for fold in result["folds"] for g in fold["test_groups"]]
    assert sorted(tested) == [f"subj{g}" for g in range(6)]
    for fold in result["folds"]:
        assert not set(fold["dev_groups"]) & set(fold["test_groups"])
        assert "pooled_eer" in fold["test"] and "apcer" in fold["test"]["pooled_eer"]["frame"]
    assert "pooled" in result["summary"]["pooled_eer"]
    assert "Threshold rule `pooled_eer`" in (tmp_path / "cv" / "cv.md").read_text()


def test_evaluation_reports_frames_without_a_face_per_label(tmp_path: Path) -> None:
    from studio_fakes import make_checkpoint
    from training.eval.evaluate import evaluate_model

    data = _tiny_dataset(tmp_path / "data", per_class=4, groups=2)
    rows = ["path,label,attack_type,group,precropped"]
    for label in ("live", "print"):
        for img in sorted((data / label).glob("subj*_?.png")):
            rows.append(f"{label}/{img.name},{label},,{img.stem.split('_')[0]},true")
    cv2.imwrite(str(data / "live" / "empty_wall.png"), np.full((240, 320, 3), 128, np.uint8))
    rows.append("live/empty_wall.png,live,,subj0,false")  # a frame the detector finds no face in
    (data / "manifest.csv").write_text("\n".join(rows) + "\n")
    metrics = evaluate_model(
        make_checkpoint(tmp_path / "m.pt"),
        [str(data / "manifest.csv")],
        tmp_path / "out",
        cache_dir=tmp_path / "cache",
        device="cpu",
    )
    assert metrics["no_face"]["live"] == {"frames": 9, "no_face": 1, "no_face_rate": pytest.approx(1 / 9)}
    assert metrics["no_face"]["print"]["no_face"] == 0
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["no_face"]["live"]["no_face"] == 1
    assert "Frames without a face" in (tmp_path / "out" / "report.md").read_text()


def test_dev_early_stopping_can_be_limited_per_group_and_label() -> None:
    from training.data.frames import Entry, limit_per_group

    entries = [
        Entry(Path(f"{g}{i}.png"), lab, g, f"{g}-{i // 5}")
        for g, n in (("big", 100), ("small", 6))
        for i in range(n)
        for lab in ("live", "print")
    ]
    kept = limit_per_group(entries, 10)
    counts = {
        (g, lab): sum(1 for e in kept if (e.group, e.label) == (g, lab))
        for g in ("big", "small")
        for lab in ("live", "print")
    }
    assert counts == {("big", "live"): 10, ("big", "print"): 10, ("small", "live"): 6, ("small", "print"): 6}
    assert len({e.video_id for e in kept if e.group == "big"}) == 10  # spread over the recording
    assert limit_per_group(entries, 0) == entries


def test_a_threshold_is_centred_in_its_gap_without_changing_a_decision() -> None:
    from training.eval.thresholds import centred_threshold

    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    # between 0.3 (rejected) and 0.8 (accepted), in logit space: sigmoid((logit 0.3 + logit 0.8) / 2)
    assert centred_threshold(scores, 0.8) == pytest.approx(1 / (1 + (0.7 / 0.3 * 0.2 / 0.8) ** 0.5))
    assert centred_threshold(np.array([0.01, 0.99]), 0.99) == pytest.approx(0.5)  # symmetric gap: 0.5
    assert centred_threshold(scores, 0.05) == 0.05  # nothing below it: left alone
    for t in (0.15, 0.25, 0.6, 0.85, 0.95):
        c = centred_threshold(scores, t)
        np.testing.assert_array_equal(scores >= c, scores >= t)
    saturated = np.array([0.0, 0.0, 1.0, 1.0])  # gap ends clipped alike: the decisions still stand
    np.testing.assert_array_equal(saturated >= centred_threshold(saturated, 1.0), saturated >= 1.0)
