"""The benchmark CLI: clear errors (exit 2, no traceback) for what it cannot use, and runs that keep
figures, not frames. Runs use the tiny model on the CPU and the sample video; nothing asserts a speed."""

from __future__ import annotations

import dataclasses
import json
import pickle
from array import array
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

from liveness_app import bench, bench_stream
from liveness_app.core.camera import CameraUnavailableError
from liveness_app.core.face import FaceBox, FaceDetector
from liveness_app.core.pipeline import FaceResult, FrameResult, LoadedModel, Pipeline
from liveness_app.core.smoothing import Verdict
from studio_fakes import make_checkpoint

SUMMARY_KEYS = {  # what the README and other tooling read: renaming one breaks them
    "device",
    "backend",
    "engine_reason",
    "model",
    "input_size",
    "source_fps",
    "capture_fps",
    "verdicts_per_s",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p95_one_face_ms",
    "gradcam_overhead",
    "dropped_frames",
    "results",
    "faces_per_result",
    "stages_ms",
    "threads",
    "cpu",
    "peak_rss_mb",
}


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = bench.main(["--device", "cpu", *args])
    out, err = capsys.readouterr()
    return status, out, err


def assert_clean_error(status: int, out: str, err: str, *words: str) -> None:
    """Exit 2, one ``liveness-bench: error:`` line naming the problem, no traceback, no summary."""
    assert status == 2
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("liveness-bench: error: "), err
    for word in words:
        assert word in lines[0]
    assert "{" not in out  # no JSON summary


# -- errors ----------------------------------------------------------------------------------------------
@pytest.fixture
def not_a_video(tmp_path: Path) -> Path:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n")
    return path


@pytest.mark.parametrize("kind", ["missing", "not_a_video", "no_camera"])
def test_bad_source_exits_2_with_one_message(capsys, tmp_path, not_a_video, tiny_model, kind) -> None:
    source = {"missing": str(tmp_path / "absent.mp4"), "not_a_video": str(not_a_video), "no_camera": "97"}[kind]
    status, out, err = run_main(capsys, "--source", source, "--model", str(tiny_model))
    assert_clean_error(status, out, err, "source")


@dataclasses.dataclass
class Foreign:
    """Some other program's object: a weights-only load must refuse it without running anything."""

    x: int = 1


def _foreign_pickle(path: Path) -> None:
    with path.open("wb") as fh:
        pickle.dump(Foreign(), fh)


BAD_MODELS = {
    "missing": lambda path: None,
    "corrupt": lambda path: path.write_bytes(b"\x00garbage" * 100),
    "truncated": lambda path: path.write_bytes(make_checkpoint(path).read_bytes()[:4096]),
    "foreign_pickle": _foreign_pickle,
    "foreign_checkpoint": lambda path: torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 3}, path),
    "text": lambda path: path.write_text("hello"),
}


@pytest.mark.parametrize("kind", sorted(BAD_MODELS))
def test_bad_model_exits_2_with_one_message(capsys, tmp_path, sample_video, kind) -> None:
    path = tmp_path / f"{kind}.pt"
    BAD_MODELS[kind](path)
    status, out, err = run_main(capsys, "--source", str(sample_video), "--model", str(path))
    assert_clean_error(status, out, err, "model", path.name)


class FailingSource:
    """A camera that delivers a few frames of the sample video, then is unplugged."""

    paced = True
    fps = 30.0
    name = "fake camera"

    def __init__(self, frame: np.ndarray, frames: int = 3) -> None:
        self._frame, self._left = frame, frames
        self.closed = False

    def read(self) -> np.ndarray:
        if self._left <= 0:
            raise CameraUnavailableError("fake camera stopped delivering frames (unplugged?).")
        self._left -= 1
        return self._frame.copy()

    def close(self) -> None:
        self.closed = True


def test_source_failing_mid_run_exits_2(capsys, monkeypatch, tiny_model) -> None:
    source = FailingSource(np.zeros((120, 160, 3), np.uint8))
    monkeypatch.setattr(bench, "open_source", lambda spec: source)
    # --seconds far longer than the test: the failure has to end the run, not the clock
    status, out, err = run_main(capsys, "--source", "0", "--model", str(tiny_model), "--seconds", "600")
    assert_clean_error(status, out, err, "fake camera", "unplugged")
    assert source.closed


# -- memory: figures, not frames -------------------------------------------------------------------------
def images_in(obj: object, seen: set[int] | None = None) -> Iterator[np.ndarray]:
    """Every numpy array of two or more dimensions reachable from ``obj`` (containers, dataclasses)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, (str, bytes, int, float, array)) or obj is None:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        if obj.ndim >= 2:
            yield obj
        return
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, (list, tuple, set)):
        children = list(obj)
    elif dataclasses.is_dataclass(obj) or hasattr(obj, "__dict__"):
        children = list(vars(obj).values())
    else:
        return
    for child in children:
        yield from images_in(child, seen)


def fake_result(i: int, faces: int) -> FrameResult:
    frame = np.full((480, 640, 3), i % 255, np.uint8)
    box = FaceBox(100, 100, 80, 80)
    face = FaceResult(box, 1, 0.7, 0.7, Verdict.LIVE, (90, 90, 190, 190), heatmap=np.ones((7, 7), np.float32))
    return FrameResult(
        t_ms=i * 33,
        faces=[face] * faces,
        timings={"detect": 2.0, "model": 9.0, "decode": 1.0},
        model_name="m",
        threshold=0.5,
        frame=frame,
        captured_at=i / 30,
        latency_ms=12.0 + i % 3,
    )


def test_recorder_keeps_numbers_and_one_frame() -> None:
    recorder = bench_stream._Recorder()
    for i in range(300):
        recorder.on_result(fake_result(i, faces=i % 3))
    kept = list(images_in(recorder))
    assert len(kept) == 1 and kept[0] is recorder.sample[0]  # the one Grad-CAM sample, no heatmap
    series = recorder.series
    assert len(series) == 300 - bench.WARMUP_RESULTS
    assert all(len(v) == len(series) for v in series.stages_ms.values())
    assert len(series.one_face_latency_ms) == sum(1 for i in range(bench.WARMUP_RESULTS, 300) if i % 3 == 1)
    assert series.stages_ms["crop"][0] == 0.0 and series.stages_ms["model"][0] == 9.0


def test_short_run_keeps_no_frames_and_reports_sane_figures(tiny_model, sample_video, detector_path) -> None:
    model = LoadedModel.load(tiny_model, "cpu")
    with FaceDetector(detector_path) as detector:
        run = bench.run_stream(Pipeline(detector, model, heatmap=True), str(sample_video), 2.5)
    assert len(list(images_in(run))) <= 1  # at most the Grad-CAM sample, whatever the number of verdicts
    summary = bench.summarize(run, None, "cpu", model)
    assert set(summary) == SUMMARY_KEYS
    assert not list(images_in(summary))
    json.dumps(summary)  # plain types only
    assert run.frames > 0 and summary["results"] == len(run.series) > 0
    assert summary["source_fps"] == pytest.approx(30.0, abs=1.0)
    assert 0.0 <= summary["faces_per_result"] <= 8
    assert 0.0 < summary["latency_p50_ms"] <= summary["latency_p95_ms"]
    for stats in summary["stages_ms"].values():
        assert stats["mean"] is None or 0.0 <= stats["p50"] <= stats["p95"]
    assert summary["peak_rss_mb"] is None or summary["peak_rss_mb"] > 10


def test_main_prints_summary_json(capsys, tiny_model, sample_video) -> None:
    status, out, err = run_main(capsys, "--source", str(sample_video), "--model", str(tiny_model), "--seconds", "2")
    assert status == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert set(summary) == SUMMARY_KEYS and summary["model"] == "tiny"
    # auto: the faster engine here, measured (or remembered from an earlier measurement): never assumed
    assert summary["backend"] in ("torch", "onnx") and "auto: fastest here" in summary["engine_reason"]
    if summary["results"] and summary["faces_per_result"] > 0:
        assert summary["gradcam_overhead"] > 0


# -- the soak script's figures ---------------------------------------------------------------------------
def load_soak_script() -> object:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("soak", Path(__file__).resolve().parents[2] / "scripts" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("soak", module)  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_soak_summary_reads_the_streaming_window() -> None:
    soak = load_soak_script()
    # start-up ramp to 1000 MiB, then +0.5 MiB per minute while streaming (t 10..130 s), then a jump after it
    samples = [{"t_s": 0.0, "rss_mb": 300.0}, {"t_s": 5.0, "rss_mb": 900.0}]
    samples += [{"t_s": float(t), "rss_mb": 1000 + 0.5 * (t - 10) / 60} for t in range(10, 131, 5)]
    samples += [{"t_s": 140.0, "rss_mb": 1200.0}]
    s = soak.summarize(samples, start=10.0, end=130.0, warmup=20.0)
    assert s["start_t_s"] == 30.0 and s["start_rss_mb"] == pytest.approx(1000 + 0.5 / 3)
    assert s["end_t_s"] == 130.0 and s["end_rss_mb"] == pytest.approx(1001.0)
    assert s["slope_mb_per_min_second_half"] == pytest.approx(0.5)
    assert s["peak_rss_mb"] == 1200.0
    assert soak.rss_mb() > 0
