"""Face crop, smoothing, latest-frame slot, frame sources and the pipeline on the sample video."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from liveness_app.core.camera import CameraUnavailableError, VideoFileSource, open_source
from liveness_app.core.face import FaceBox, FaceDetector
from liveness_app.core.overlay import OverlayOptions, draw_result
from liveness_app.core.pipeline import LoadedModel, Pipeline
from liveness_app.core.preprocess import PreprocessSpec, crop_box, crop_face, face_box_in_crop, prepare_crop
from liveness_app.core.realtime import Frame, LatestFrameSlot
from liveness_app.core.smoothing import FaceTracker, ScoreSmoother, SmoothingConfig, Verdict

SPEC = PreprocessSpec(32, 0.25, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


def test_crop_is_square_centred_and_padded_black_outside_the_frame() -> None:
    frame = np.full((100, 200, 3), 200, np.uint8)
    box = FaceBox(0, 10, 40, 20)  # touches the left edge; wider than tall
    x0, y0, x1, y1 = crop_box(box, 0.25)
    assert x1 - x0 == y1 - y0 == 60 and (x0 + x1) / 2 == 20 and (y0 + y1) / 2 == 20
    crop = crop_face(frame, box, 0.25)
    assert crop.shape == (60, 60, 3)
    # 10 px left of and above the frame are padded black, not smeared
    assert (crop[:, :10] == 0).all() and (crop[:10] == 0).all() and (crop[10:, 10:] == 200).all()


def test_a_crop_cut_again_around_its_face_box_is_the_crop_at_the_smaller_margin() -> None:
    """The training path's geometry: crop_face at a wide margin, then crop_face around face_box_in_crop
    at the model's margin, is crop_face at the model's margin (exactly, when no box edge rounds)."""
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    for box in (FaceBox(60, 30, 40, 40), FaceBox(-8, 90, 48, 40), FaceBox(130, -12, 36, 36)):  # inside, edges
        wide = crop_face(frame, box, 0.5)
        assert face_box_in_crop(wide.shape, 0.5).w == box.w
        again = crop_face(wide, face_box_in_crop(wide.shape, 0.5), 0.25)
        assert np.array_equal(again, crop_face(frame, box, 0.25))


def test_prepare_crop_normalises_to_chw_rgb() -> None:
    crop = np.zeros((50, 50, 3), np.uint8)
    crop[..., 2] = 255  # pure red in BGR
    x = prepare_crop(crop, SPEC)
    assert x.shape == (3, 32, 32) and x.dtype == np.float32
    assert np.allclose(x[0], (1 - 0.5) / 0.25) and np.allclose(x[1], (0 - 0.5) / 0.25)
    with pytest.raises(ValueError):
        prepare_crop(np.zeros((0, 0, 3), np.uint8), SPEC)


def test_one_bad_frame_does_not_flip_the_verdict() -> None:
    smoother = ScoreSmoother(SmoothingConfig(window=8, min_frames=3, margin=0.05))
    verdicts = [smoother.update(s, 0.5)[1] for s in (0.7, 0.7, 0.9, 0.9, 0.05, 0.9)]
    assert verdicts[:2] == [Verdict.UNCERTAIN] * 2  # too few frames yet, and not far from the threshold
    assert verdicts[2:] == [Verdict.LIVE] * 4
    spoof = ScoreSmoother(SmoothingConfig())
    assert [spoof.update(s, 0.5)[1] for s in (0.1, 0.1, 0.1, 0.95)][-1] == Verdict.SPOOF


def test_tracker_keeps_ids_for_moving_faces_and_separates_two() -> None:
    tracker = FaceTracker()
    a, b = FaceBox(10, 10, 50, 50), FaceBox(200, 10, 50, 50)
    ids = tracker.assign([a, b])
    assert len(set(ids)) == 2
    moved = tracker.assign([FaceBox(205, 12, 50, 50), FaceBox(14, 10, 50, 50)])
    assert moved == [ids[1], ids[0]]
    assert tracker.assign([FaceBox(600, 400, 40, 40)])[0] not in ids


def test_latest_frame_slot_drops_stale_frames() -> None:
    slot = LatestFrameSlot()
    for i in range(5):
        slot.put(Frame(np.zeros((2, 2, 3), np.uint8), i, i, 0.0, 0.0))
    assert slot.take(0).index == 4 and slot.dropped == 4
    assert slot.take(0) is None
    got = []
    t = threading.Thread(target=lambda: got.append(slot.take(5)))
    t.start()
    slot.close()
    t.join(5)
    assert got == [None]


def test_sources_report_missing_inputs_clearly(tmp_path: Path, sample_video: Path) -> None:
    with pytest.raises(CameraUnavailableError, match="not found"):
        open_source(str(tmp_path / "nope.mp4"))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"garbage" * 100)
    with pytest.raises(CameraUnavailableError, match="Cannot read"):
        VideoFileSource(broken)
    with pytest.raises(CameraUnavailableError, match="No camera"):
        open_source("7")
    once = VideoFileSource(sample_video, loop=False)
    assert once.fps == 30.0
    frames = 0
    with pytest.raises(CameraUnavailableError, match="End of video"):
        while True:
            once.read()
            frames += 1
    assert frames == 240


def test_pipeline_scores_every_face_of_the_sample_video(
    sample_video: Path, detector_path: Path, tiny_model: Path
) -> None:
    source = VideoFileSource(sample_video)
    with FaceDetector(detector_path) as detector:
        pipeline = Pipeline(detector, LoadedModel.load(tiny_model), heatmap=True)
        results = [pipeline.process(source.read(), i * 33) for i in range(120)]
    source.close()
    assert all(len(r.faces) >= 1 for r in results)
    assert max(len(r.faces) for r in results) == 2  # the second portrait enters at 80 frames
    face = results[-1].faces[0]
    assert 0.0 <= face.score <= 1.0 and face.heatmap is not None and face.heatmap.shape == (2, 2)
    assert face.track_id == results[-2].faces[0].track_id
    assert {"detect", "crop", "model", "gradcam"} <= set(results[-1].timings)
    drawn = draw_result(results[-1].frame, results[-1], OverlayOptions(heatmap=True))
    assert drawn.shape == results[-1].frame.shape and not np.array_equal(drawn, results[-1].frame)


def test_a_face_at_the_right_edge_keeps_its_label_inside_the_frame() -> None:
    from liveness_app.core.pipeline import FaceResult, FrameResult

    frame = np.zeros((120, 200, 3), np.uint8)
    face = FaceResult(FaceBox(170, 40, 30, 30), 1, 0.9, 0.9, Verdict.LIVE, (160, 30, 210, 80))
    result = FrameResult(0, [face], {}, model_name="m", threshold=0.5)
    drawn = draw_result(frame, result, OverlayOptions(box=False))
    tag_rows = drawn[:40]  # the tag sits above the face box
    cols = np.nonzero(tag_rows.any(axis=(0, 2)))[0]
    assert cols.min() < 170  # moved left: the text is wider than the 30 px to the frame's edge
    assert drawn[:, -1].any()  # and reaches the edge instead of being cut there


def test_scoring_threads_leave_cores_for_capture_and_gui(monkeypatch) -> None:
    import os

    from liveness_app.core import device

    for cores, want in ((1, 1), (2, 1), (4, 1), (8, 3), (16, 7)):
        monkeypatch.setattr(os, "cpu_count", lambda c=cores: c)
        assert device.scoring_threads() == want
