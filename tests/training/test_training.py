"""Training end to end on tiny generated data: one preprocessing path, fit() events, cancel, resume,
calibration stored in the checkpoint, and the evaluation report."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from liveness_app.core.camera import VideoFileSource
from liveness_app.core.face import FaceDetector
from liveness_app.core.files import read_image
from liveness_app.core.model import load_checkpoint
from liveness_app.core.preprocess import PreprocessSpec, prepare_crop, preprocess_face
from liveness_app.core.sessions import LIVE
from studio_fakes import tiny_dataset as _tiny_dataset
from studio_fakes import tiny_train_config as _cfg
from training.config import TrainConfig
from training.data.cache import CropCache, crop_for_training
from training.data.frames import CropDataset, eval_entries
from training.data.samples import Sample
from training.eval.evaluate import evaluate_model
from training.fit.loop import fit, spec_of
from training.fit.prepare import CACHE_MARGIN_EXTRA, make_cache

SPEC = PreprocessSpec(64, 0.25, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
RECIPE = Path(__file__).resolve().parents[2] / "training" / "configs" / "gen-distil.json"  # like every gen-*


def test_training_and_app_produce_identical_tensors(tmp_path: Path, sample_video: Path, detector_path: Path) -> None:
    """The crop geometry alone: with no extra margin and no downscaling (settings training does not use)
    the cached crop is the app's crop; the default cache differs by resampling only."""
    src = VideoFileSource(sample_video)
    frame = src.read()
    src.close()
    cv2.imwrite(str(tmp_path / "frame.png"), frame)  # lossless: the cache reads the very same pixels
    with FaceDetector(detector_path) as det:
        box = det.detect(frame, 0)[0]
    app = preprocess_face(frame, box, SPEC)
    # With no extra margin and no downscaling, the cached crop is exactly the app's crop.
    exact = CropCache(tmp_path / "c1", detector_path, SPEC.crop_margin, cache_margin_extra=0.0, cache_size=4096)
    item = exact.build([Sample(tmp_path / "frame.png", "live", "g", "image")])[0]
    train = prepare_crop(crop_for_training(read_image(item.crop_paths[0]), SPEC.crop_margin, 0.0), SPEC)
    np.testing.assert_array_equal(train, app)
    # The default cache (wider margin for scale jitter, <= 256 px) differs only by resampling.
    wide = CropCache(tmp_path / "c2", detector_path, SPEC.crop_margin)
    item = wide.build([Sample(tmp_path / "frame.png", "live", "g", "image")])[0]
    approx = prepare_crop(crop_for_training(read_image(item.crop_paths[0]), SPEC.crop_margin, 0.25), SPEC)
    assert np.abs(approx - app).mean() < 0.05


@pytest.mark.parametrize("scale, mean_tol, frame_tol", [(1, 0.03, 0.15), (2, 0.035, 0.08)])
def test_app_and_training_tensors_at_the_settings_training_uses(
    tmp_path: Path, sample_video: Path, detector_path: Path, scale: int, mean_tol: float, frame_tol: float
) -> None:
    """Golden test at a real recipe's settings (128 px, margin 0.25, the cache's extra 0.25 and 256 px):
    the app's model input of a frame against training's evaluation input of it (cached crop, then
    CropDataset), for 10 frames. At 1x the faces are ~100 px and the cache keeps their crops as cut: the
    tensors are identical where both crop boxes round alike (8 of the 10), else one pixel apart. At 2x
    (~200 px) the cache shrinks the crops to 256 px: two resamplings instead of one. Tolerances in
    normalised units; one grey level is about 0.017."""
    cfg = TrainConfig.from_file(RECIPE, cache_dir=str(tmp_path / "cache"), detector=str(detector_path))
    spec = spec_of(cfg)
    cache = make_cache(cfg)
    assert (spec.input_size, spec.crop_margin, cache.cache_margin_extra, cache.cache_size) == (128, 0.25, 0.25, 256)
    src = VideoFileSource(sample_video)
    frames = [
        cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale > 1 else f
        for f in [src.read() for _ in range(30)][::3]
    ]
    src.close()
    app, samples = [], []
    with FaceDetector(detector_path) as det:
        for k, frame in enumerate(frames):
            cv2.imwrite(str(tmp_path / f"{k}.png"), frame)  # lossless: the cache reads the very same pixels
            app.append(preprocess_face(frame, det.detect(frame, 1000 * k)[0], spec))  # as Pipeline does
            samples.append(Sample(tmp_path / f"{k}.png", LIVE, "g", "image"))
    items = cache.build(samples)
    dataset = CropDataset(eval_entries(items, 1), spec, CACHE_MARGIN_EXTRA, train=False)
    train = [dataset[k][0].numpy() for k in range(len(dataset))]
    assert len(train) == len(app) == 10
    means = [float(np.abs(t - a).mean()) for t, a in zip(train, app)]
    assert np.mean(means) < mean_tol and max(means) < frame_tol, means
    if scale == 1:
        assert sum(m == 0.0 for m in means) >= 8, means  # bit-identical


def test_fit_trains_calibrates_and_installs_a_model(tmp_path: Path) -> None:
    data = _tiny_dataset(tmp_path / "data")
    events = list(fit(_cfg(tmp_path, data)))
    kinds = [e.kind for e in events]
    assert kinds[0] == "cache" and "batch" in kinds and kinds.count("epoch") == 3 and kinds[-1] == "done"
    installed = events[-1].model_path
    assert installed.parent.name == "models" and installed.name == "tiny-run.pt"  # the app's model folder
    model, meta = load_checkpoint(installed)
    cal = meta.training["calibration"]
    assert meta.threshold == pytest.approx(cal["threshold"]) and 0 <= cal["bpcer5_threshold"] <= 1
    assert cal["chosen"].startswith("eer_threshold")  # centred in its gap: the same dev decisions
    assert meta.preprocessing.input_size == 32
    assert meta.training["world_size"] == 1 and meta.training["distributed"]["backend"] is None  # no torchrun
    assert meta.training["data"]["dev_groups"] == ["subj3"] and meta.training["data"]["skipped"] == 1
    assert set(meta.metrics["dev"]) == {"frame", "video"} and meta.metrics["dev"]["frame"]["auc"] is not None
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["input_size"] == 32
    assert len((run / "log.jsonl").read_text().splitlines()) == 3
    assert meta.metrics["dev"]["frame"]["score_std"] > 1e-3  # eval-mode outputs did not collapse (BN stats)


@pytest.mark.parametrize(
    "extra",
    [
        {"ema_decay": 0.0},
        {"ema_decay": 0.9, "augment": {"gamma": 0.2, "jpeg_p": 1.0}},
        {"lbp_grid": 2, "ema_decay": 0.0},
    ],
    ids=["plain", "ema+strong-augment", "lbp-fusion"],
)
def test_cancel_keeps_best_checkpoint_and_resume_continues(tmp_path: Path, extra: dict) -> None:
    data = _tiny_dataset(tmp_path / "data")
    run = fit(_cfg(tmp_path, data, epochs=2, **extra))
    for event in run:
        if event.kind == "epoch":
            break
    run.close()  # what the app's Cancel button does
    assert (tmp_path / "run" / "best.pt").is_file()
    load_checkpoint(tmp_path / "run" / "best.pt")
    if extra.get("lbp_grid"):  # the app rebuilds the fused model from the checkpoint's metadata alone
        model, meta = load_checkpoint(tmp_path / "run" / "best.pt")
        assert meta.model_args["lbp_grid"] == 2 and model.texture is not None
    if extra.get("ema_decay"):  # the exported model is the weight average, not the raw weights
        state = torch.load(tmp_path / "run" / "last_state.pt", weights_only=True)
        best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["state_dict"]
        key = "features.0.0.weight"
        assert torch.equal(best[key], state["ema"]["module." + key])
        assert not torch.equal(best[key], state["model"][key])
    resumed = [e for e in fit(_cfg(tmp_path, data, epochs=2, resume=True, **extra)) if e.kind == "epoch"]
    assert [e.epoch for e in resumed] == [2]


def test_evaluation_report(tmp_path: Path) -> None:
    data = _tiny_dataset(tmp_path / "data", per_class=8)
    list(fit(_cfg(tmp_path, data, epochs=1, install=False)))
    out = tmp_path / "report"
    metrics = evaluate_model(
        tmp_path / "run" / "best.pt", [f"cropped:{data}"], out, cache_dir=tmp_path / "cache", device="cpu"
    )
    saved = json.loads((out / "metrics.json").read_text())
    for level in ("frame", "video"):
        assert {"auc", "eer", "threshold", "bpcer", "apcer", "acer", "hter"} <= set(saved[level])
        assert set(saved[level]["apcer"]) == {"print"}
    assert metrics["frame"]["threshold"] == pytest.approx(load_checkpoint(tmp_path / "run" / "best.pt")[1].threshold)
    for name in (
        "report.html",
        "report.md",
        "roc.png",
        "det.png",
        "tsne.png",
        "gradcam_grid.png",
        "predictions_frames.csv",
    ):
        assert (out / name).is_file(), name
    assert "subj0_broken.png" in (out / "report.md").read_text()  # skipped files are listed
    # in worker processes (faces found by a process pool, crops read by loader processes): the same scores
    parallel = evaluate_model(
        tmp_path / "run" / "best.pt", [f"cropped:{data}"], tmp_path / "report2", cache_dir=tmp_path / "cache2",
        device="cpu", workers=2,
    )  # fmt: skip
    assert parallel["frame"]["n"] == metrics["frame"]["n"]
    assert parallel["frame"]["auc"] == pytest.approx(metrics["frame"]["auc"], abs=1e-9)
    assert parallel["frame"]["acer"] == pytest.approx(metrics["frame"]["acer"], abs=1e-9)


def test_ema_warmup_follows_the_weights_early_and_averages_later() -> None:
    from training.fit.steps import ema_warmup_fn

    update = ema_warmup_fn(0.995)
    ema, weights = [torch.zeros(3)], [torch.ones(3)]
    update(ema, weights, torch.tensor(1))  # decay (1 + 1) / (10 + 1) = 0.18: moves 82 % of the way
    torch.testing.assert_close(ema[0], torch.full((3,), 1 - 2 / 11))
    ema = [torch.zeros(3)]
    update(ema, weights, torch.tensor(100_000))  # capped at the configured decay
    torch.testing.assert_close(ema[0], torch.full((3,), 0.005))


def test_training_takes_back_the_threads_a_scoring_thread_gave_up(tmp_path: Path) -> None:
    import threading

    from liveness_app.core import device

    seen: dict = {}
    scorer = threading.Thread(target=device.use_scoring_threads)
    scorer.start()
    scorer.join()

    def train() -> None:
        seen["before"] = torch.get_num_threads()
        run = fit(_cfg(tmp_path, _tiny_dataset(tmp_path / "data"), epochs=1))
        next(e for e in run if e.kind == "batch")
        seen["during"] = torch.get_num_threads()
        run.close()

    worker = threading.Thread(target=train)
    worker.start()
    worker.join()
    assert seen["before"] == device.scoring_threads()  # what new threads inherit after scoring started
    assert seen["during"] == device.TORCH_DEFAULT_THREADS


@pytest.mark.parametrize("refresh", [True, False])
def test_bn_refresh_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refresh: bool) -> None:
    """Precise BN runs once per epoch before the dev evaluation, and not at all with bn_refresh false
    (the option the adaptation ablation compares)."""
    from training.fit import loop

    calls: list[int] = []
    real = loop.refresh_bn_stats
    monkeypatch.setattr(loop, "refresh_bn_stats", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    list(fit(_cfg(tmp_path, _tiny_dataset(tmp_path / "data"), epochs=2, patience=5, install=False, bn_refresh=refresh)))
    assert len(calls) == (2 if refresh else 0)
    assert load_checkpoint(tmp_path / "run" / "best.pt")[1].training["recipe"]["bn_refresh"] is refresh
