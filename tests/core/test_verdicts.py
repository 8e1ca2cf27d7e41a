"""The verdict rule of a tracked face: a clear verdict at once when a new face scores far from the threshold,
UNCERTAIN only near it or while there is too little evidence; and the words the overlay puts on it."""

from __future__ import annotations

import numpy as np
import pytest

from liveness_app.core.face import FaceBox
from liveness_app.core.overlay import OverlayOptions, draw_result, score_text
from liveness_app.core.pipeline import FaceResult, FrameResult
from liveness_app.core.smoothing import ScoreSmoother, SmoothingConfig, Verdict, logit


def first_verdicts(scores: list[float], threshold: float, config: SmoothingConfig | None = None) -> list[Verdict]:
    smoother = ScoreSmoother(config or SmoothingConfig())
    return [smoother.update(s, threshold)[1] for s in scores]


@pytest.mark.parametrize(
    ("score", "threshold", "verdict"),
    [
        (0.02, 0.198, Verdict.SPOOF),  # the case: far below the shipped model's threshold
        (0.02, 0.5, Verdict.SPOOF),
        (0.97, 0.5, Verdict.LIVE),
        (0.6, 0.198, Verdict.LIVE),  # 1.8 apart in log-odds
        (0.3, 0.5, Verdict.UNCERTAIN),  # 0.85 apart in log-odds: too near for one frame
        (0.1, 0.198, Verdict.UNCERTAIN),
        (0.5, 0.5, Verdict.UNCERTAIN),
    ],
)
def test_a_new_face_gets_a_verdict_on_its_first_frame_only_when_far_from_the_threshold(
    score: float, threshold: float, verdict: Verdict
) -> None:
    assert first_verdicts([score], threshold) == [verdict]


def test_far_means_a_margin_in_log_odds() -> None:
    config = SmoothingConfig(early_logit_margin=1.5)
    for threshold in (0.1, 0.2, 0.5, 0.8):
        just_far = 1 / (1 + np.exp(-(logit(threshold) - 1.51)))
        just_near = 1 / (1 + np.exp(-(logit(threshold) - 1.49)))
        assert first_verdicts([float(just_far)], threshold, config) == [Verdict.SPOOF]
        assert first_verdicts([float(just_near)], threshold, config) == [Verdict.UNCERTAIN]


def test_with_enough_frames_only_the_small_margin_applies() -> None:
    # 0.4 against 0.5 is near for a new face, clear once three frames agree
    assert first_verdicts([0.4, 0.4, 0.4, 0.4], 0.5) == [Verdict.UNCERTAIN] * 2 + [Verdict.SPOOF] * 2
    assert first_verdicts([0.47, 0.47, 0.47, 0.47], 0.5)[-1] == Verdict.UNCERTAIN  # within 0.05: always


def test_an_early_verdict_is_withdrawn_when_the_next_frame_disagrees() -> None:
    assert first_verdicts([0.02, 0.9], 0.5) == [Verdict.SPOOF, Verdict.UNCERTAIN]  # mean 0.46: no evidence


def face(verdict: Verdict, smoothed: float, box: FaceBox = FaceBox(40, 40, 60, 60)) -> FaceResult:
    return FaceResult(box, 1, smoothed, smoothed, verdict, (30, 30, 110, 110))


def test_the_label_says_the_number_is_p_live_against_the_threshold() -> None:
    assert score_text(face(Verdict.SPOOF, 0.07), 0.5) == "SPOOF  P(live) 0.07 < 0.50"
    assert score_text(face(Verdict.LIVE, 0.91), 0.198) == "LIVE  P(live) 0.91 >= 0.20"
    assert score_text(face(Verdict.UNCERTAIN, 0.48), 0.5) == "UNCERTAIN  P(live) 0.48 ~ 0.50"
    assert score_text(face(Verdict.SPOOF, 0.07), 0.5, with_score=False) == "SPOOF"


def test_the_view_carries_a_legend_and_a_heatmap_colour_bar_when_the_heatmap_is_shown() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    with_map = face(Verdict.LIVE, 0.9)
    with_map.heatmap = np.full((2, 2), 0.5, np.float32)
    result = FrameResult(0, [with_map], {}, model_name="m", threshold=0.5)
    plain = draw_result(frame, result, OverlayOptions(box=False, score=False))
    legend = draw_result(frame, result, OverlayOptions(box=False))
    bottom = slice(200, 240)
    assert not plain[bottom].any() and legend[bottom].any()  # the legend line sits along the bottom
    heat = draw_result(frame, result, OverlayOptions(box=False, score=False, heatmap=True))
    corner = heat[120:, 160:]  # bottom right, away from the face
    assert not plain[120:, 160:].any()
    assert (corner[..., 0] > 200).any() and (corner[..., 2] > 200).any()  # a ramp from blue (low) to red (high)
