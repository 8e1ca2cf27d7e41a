"""Boxes drawn on the frame they were detected in, without slowing the video (no Qt here).

Scoring takes time and takes only the newest frame, so a result arrives some frames after the frame it was
computed on: drawn over the newest frame, the box of a moving face trails the face. :class:`FramePairer`
shows each frame a little late instead, by the measured scoring lag, so that when a frame is due the results
around it have arrived: a scored frame is drawn with its own result, and a frame the scorer skipped with
the boxes of the scored frames on either side, interpolated to its time (the verdicts are the nearer one's).

The delay is the largest recent lag (a result's arrival minus the capture of the scored frame before it: the
frames between them could not be paired earlier), at most ``max_delay_s``; it grows gently (the video plays
a little slower for a moment, never freezes) and shrinks at once. A model slower than the cap gets each frame
shown at the cap with the latest result at or before it, as before. Latest frame wins still: of the frames
due, the newest is shown and older ones are dropped (counted); frames older than the cap are dropped too, so
nothing queues and the video rate never depends on the verdict rate. With no scoring (no model, or it
stopped) frames are shown at once.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace
from typing import Callable

from .face import FaceBox
from .pipeline import FaceResult, FrameResult
from .realtime import Frame

MAX_DELAY_S = 0.5  # the most the video is held back to pair boxes with their frames
STALE_S = 2.0  # a result further than this from a frame is not drawn on it (scoring stopped, or a new model)
LAG_WINDOW = 16  # results whose lag sets the delay
DELAY_RISE = 0.25  # how fast the delay grows, s per s: the video plays at 3/4 speed while it catches up


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def interpolate(a: FrameResult, b: FrameResult, t: float) -> FrameResult:
    """``a``'s faces moved ``t`` (0..1) of the way to ``b``'s, track by track, with the nearer result's
    verdicts, scores and heatmaps; a face found in one of the two only stays as the nearer one has it."""
    near, far, s = (a, b, t) if t < 0.5 else (b, a, 1.0 - t)
    others = {f.track_id: f for f in far.faces}
    faces: list[FaceResult] = []
    for face in near.faces:
        other = others.get(face.track_id)
        if other is None:
            faces.append(face)
            continue
        x, y, w, h = (_lerp(p, q, s) for p, q in zip(_xywh(face.box), _xywh(other.box)))
        x0, y0, x1, y1 = (int(round(_lerp(p, q, s))) for p, q in zip(face.crop, other.crop))
        faces.append(replace(face, box=FaceBox(x, y, w, h, face.box.score), crop=(x0, y0, x1, y1)))
    return replace(near, faces=faces)


def _xywh(box: FaceBox) -> tuple[float, float, float, float]:
    return box.x, box.y, box.w, box.h


class FramePairer:
    """Frames and results in, (frame, the result to draw on it) out when the frame is due. See the module."""

    def __init__(self, max_delay_s: float = MAX_DELAY_S, clock: Callable[[], float] = time.perf_counter) -> None:
        self.max_delay_s = float(max_delay_s)
        self._clock = clock
        self._frames: deque[Frame] = deque()
        self._results: deque[FrameResult] = deque()
        self._lags: deque[float] = deque(maxlen=LAG_WINDOW)
        self._gaps: deque[float] = deque(maxlen=LAG_WINDOW)  # between results' arrivals
        self._last_result_at: float | None = None
        self._shown = -1  # index of the frame shown last
        self.delay = 0.0  # how far behind the source frames are shown now (s)
        self._delay_at: float | None = None
        self.dropped = 0  # frames never shown: a newer one was due first, or they aged past the cap

    def reset(self) -> None:
        """Forget everything (a new source: its frame numbers start again)."""
        self._frames.clear()
        self._results.clear()
        self._lags.clear()
        self._gaps.clear()
        self._last_result_at, self._shown = None, -1
        self.delay, self._delay_at = 0.0, None

    def push_frame(self, frame: Frame) -> None:
        """A new frame from the source (in capture order)."""
        self._frames.append(frame)
        limit = frame.captured_at - self.max_delay_s - 0.25  # past the cap: would never be shown
        while self._frames and self._frames[0].captured_at < limit:
            self._frames.popleft()
            self.dropped += 1

    def push_result(self, result: FrameResult, now: float | None = None) -> None:
        """A result of the frame ``result.frame_index`` (one without: of the newest frame pushed)."""
        now = self._clock() if now is None else now
        if result.frame_index < 0:
            newest = self._frames[-1] if self._frames else None
            result = replace(
                result,
                frame_index=newest.index if newest else self._shown,
                captured_at=newest.captured_at if newest else now,
            )
        if self._results and result.frame_index <= self._results[-1].frame_index:
            self._results.clear()  # numbering went back: another scorer or source; start pairing again
        before = self._results[-1].captured_at if self._results else result.captured_at
        self._lags.append(max(0.0, now - before))
        if self._last_result_at is not None:
            self._gaps.append(max(0.0, now - self._last_result_at))
        self._results.append(result)
        self._last_result_at = now
        while len(self._results) > 2 and self._results[1].captured_at < result.captured_at - STALE_S:
            self._results.popleft()

    def _target_delay(self, now: float) -> float:
        """The recent scoring lag, capped; 0 once results have stopped coming (for twice the usual gap between
        them, or STALE_S): the video is then shown as it comes."""
        quiet = min(STALE_S, max(1.5 * self.max_delay_s, 2 * max(self._gaps, default=0.0)))
        if self._last_result_at is None or now - self._last_result_at > quiet:
            return 0.0
        return min(max(self._lags), self.max_delay_s)

    def _update_delay(self, now: float) -> float:
        """Follow the target: down at once (the video jumps ahead), up gently (it plays a little slower for a
        moment) so that a longer lag never freezes the picture."""
        target = self._target_delay(now)
        step = DELAY_RISE * max(0.0, now - self._delay_at) if self._delay_at is not None else 0.0
        self.delay = target if target <= self.delay else min(target, self.delay + step)
        self._delay_at = now
        return self.delay

    def due(self, now: float | None = None) -> tuple[Frame, FrameResult | None] | None:
        """The newest frame due now with the result to draw on it; None when no new frame is due. Older
        frames not shown yet are dropped."""
        now = self._clock() if now is None else now
        delay = self._update_delay(now)
        chosen = None
        for frame in reversed(self._frames):
            if frame.index <= self._shown:
                break
            if frame.captured_at <= now - delay:
                chosen = frame
                break
        if chosen is None:
            return None
        while self._frames and self._frames[0].index <= chosen.index:
            if self._frames.popleft().index < chosen.index:
                self.dropped += 1
        self._shown = chosen.index
        return chosen, self.result_for(chosen)

    def result_for(self, frame: Frame) -> FrameResult | None:
        """The result to draw on ``frame``: its own, else the scored frames around it interpolated, else the
        latest one before it; None when none is near enough in time."""
        before = after = None
        for result in self._results:
            if result.frame_index == frame.index:
                return result
            if result.frame_index < frame.index:
                before = result
            elif after is None:
                after = result
        if before is None or frame.captured_at - before.captured_at > STALE_S:
            return None
        if after is None:
            return before
        t = (frame.index - before.frame_index) / (after.frame_index - before.frame_index)
        return interpolate(before, after, t)
