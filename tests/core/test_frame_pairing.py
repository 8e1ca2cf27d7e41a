"""Boxes on the frame they were detected in (core.pairing): results carry their frame's number, each shown
frame gets the boxes of its own time, the video keeps its rate, and the latest frame still wins.

Time is simulated (a fake clock), so none of this depends on the machine's speed."""

from __future__ import annotations

import threading

import numpy as np

from liveness_app.core.face import FaceBox
from liveness_app.core.pairing import FramePairer, interpolate
from liveness_app.core.pipeline import FaceResult, FrameResult
from liveness_app.core.realtime import Frame, LatestFrameSlot, ScoringLoop
from liveness_app.core.smoothing import Verdict

FPS = 30.0
IMAGE = np.zeros((4, 4, 3), np.uint8)


def face_x(index: int) -> float:
    """A face moving fast: 12 px per frame."""
    return 12.0 * index


def frame(index: int) -> Frame:
    return Frame(IMAGE, index, int(index * 1000 / FPS), index / FPS, 0.0)


def result_of(index: int, track: int = 1) -> FrameResult:
    x = face_x(index)
    face = FaceResult(FaceBox(x, 50, 40, 40), track, 0.9, 0.9, Verdict.LIVE, (int(x) - 10, 40, int(x) + 50, 100))
    return FrameResult(int(index * 1000 / FPS), [face], {}, "m", 0.5, frame_index=index, captured_at=index / FPS)


def run_stream(
    pairer: FramePairer, ticks: int, every: int, latency: float
) -> list[tuple[float, Frame, FrameResult | None]]:
    """A 30 fps source; every ``every``-th frame is scored and its result arrives ``latency`` s after capture.
    The display asks for a frame at each source tick (as the view repaints on each new frame)."""
    pending: list[tuple[float, FrameResult]] = []
    shown = []
    for k in range(ticks):
        now = k / FPS
        pairer.push_frame(frame(k))
        if k % every == 0:
            pending.append((now + latency, result_of(k)))
        for arrive, result in [p for p in pending if p[0] <= now]:
            pairer.push_result(result, now=arrive)
            pending.remove((arrive, result))
        got = pairer.due(now)
        if got is not None:
            shown.append((now, *got))
    return shown


def test_each_box_is_drawn_where_the_face_is_in_the_frame_shown() -> None:
    shown = run_stream(FramePairer(), ticks=150, every=3, latency=0.12)  # 10 verdicts/s, 120 ms late
    assert len(shown) > 100
    for _now, f, result in shown[30:]:
        assert result is not None
        assert abs(result.faces[0].box.x - face_x(f.index)) < 1e-6  # on scored and skipped frames alike
        if f.index % 3 == 0:
            assert result.frame_index == f.index  # a scored frame: its own result


def test_the_video_keeps_its_rate_and_its_delay_stays_bounded() -> None:
    pairer = FramePairer(max_delay_s=0.5)
    shown = run_stream(pairer, ticks=150, every=3, latency=0.12)
    steady = shown[30:]
    indices = [f.index for _now, f, _r in steady]
    assert indices == list(range(indices[0], indices[0] + len(indices)))  # every frame, one per tick: no stutter
    assert len(steady) == 150 - (steady[0][0] * FPS)  # and a frame at every tick from then on
    assert all(now - f.captured_at <= 0.5 + 1.01 / FPS for now, f, _r in shown)
    assert 0.12 <= pairer.delay <= 0.5


def test_a_model_slower_than_the_cap_never_holds_the_video_back_further() -> None:
    pairer = FramePairer(max_delay_s=0.3)
    shown = run_stream(pairer, ticks=150, every=30, latency=0.9)  # one verdict a second, 0.9 s late
    assert all(now - f.captured_at <= 0.3 + 1.01 / FPS for now, f, _r in shown)  # the cap, to a display tick
    assert len(shown) > 120  # still (nearly) every frame
    late = [r for _now, f, r in shown[60:]]
    assert all(r is not None and r.frame_index <= f.index for (_n, f, _), r in zip(shown[60:], late))  # never ahead


def test_without_scoring_frames_are_shown_at_once() -> None:
    pairer = FramePairer()
    pairer.push_frame(frame(0))
    assert pairer.due(0.0) == (frame(0), None)
    assert pairer.due(0.01) is None  # nothing new


def test_the_latest_frame_wins_when_the_display_falls_behind() -> None:
    pairer = FramePairer()
    for k in range(5):
        pairer.push_frame(frame(k))
    f, _ = pairer.due(5 / FPS)
    assert f.index == 4 and pairer.dropped == 4
    pairer.push_frame(frame(40))  # a long stall: frames far past the cap are dropped, never queued
    for k in range(41, 44):
        pairer.push_frame(frame(k))
    assert pairer.due(44 / FPS)[0].index == 43


def test_interpolation_follows_each_track_and_keeps_the_nearer_verdict() -> None:
    a, b = result_of(0), result_of(4)
    b.faces[0].verdict = Verdict.SPOOF
    mid = interpolate(a, b, 0.25)
    assert mid.faces[0].box.x == face_x(1) and mid.faces[0].verdict == Verdict.LIVE
    assert interpolate(a, b, 0.75).faces[0].verdict == Verdict.SPOOF
    other = result_of(4, track=2)  # another face: nothing to move towards
    assert interpolate(a, other, 0.25).faces[0].box.x == face_x(0)


class _FakePipeline:
    """Returns a result naming nothing but the frame it was given."""

    model = object()

    def process(self, image: np.ndarray, t_ms: int) -> FrameResult:
        return FrameResult(t_ms, [], {}, "fake", 0.5, frame=image)


def test_the_scoring_loop_says_which_frame_each_result_belongs_to(monkeypatch) -> None:
    from liveness_app.core import realtime

    monkeypatch.setattr(realtime, "use_scoring_threads", lambda: None)
    slot, results = LatestFrameSlot(), []
    loop = ScoringLoop(_FakePipeline(), slot, lambda r: (results.append(r), loop.stop()))  # type: ignore[arg-type]
    image = np.ones((4, 4, 3), np.uint8)
    slot.put(Frame(image, 17, 566, 1.0, 0.0))
    worker = threading.Thread(target=loop.run)
    worker.start()
    worker.join(120)
    assert len(results) == 1 and results[0].frame_index == 17 and results[0].frame is image
