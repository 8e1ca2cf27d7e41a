"""A threshold carries where it came from, decided when it is set (no Qt here)."""

from __future__ import annotations

import math

import pytest

from liveness_app.core.threshold import Threshold, ThresholdSource


def test_each_way_of_setting_a_threshold_records_its_source() -> None:
    assert Threshold.of_model(0.37) == Threshold(0.37, ThresholdSource.MODEL)
    assert Threshold.for_run(0.3).source is ThresholdSource.RUN
    assert Threshold.by_hand(0.6, model_value=0.37) == Threshold(0.6, ThresholdSource.HAND)
    cal = Threshold.calibrated(0.123, "camera 0", "EER on your sessions", "2026-12-01")
    assert cal.source is ThresholdSource.CAMERA and cal.value == 0.123
    assert cal.describe() == "calibrated to camera 0 (EER on your sessions, 2026-12-01)"
    assert "(EER" in Threshold.calibrated(0.2, "camera 1").describe()  # no rule named: the default one


def test_a_value_set_by_hand_that_the_control_cannot_tell_from_the_models_is_the_models() -> None:
    """The control shows three decimals: 0.414 typed for a model calibrated at 0.4137 is the model's own
    threshold, exactly (what Reset sets); 0.415 is the user's."""
    same = Threshold.by_hand(0.414, model_value=0.4137)
    assert same.is_models and same.value == 0.4137
    assert not Threshold.by_hand(0.415, model_value=0.4137).is_models


def test_the_phrase_for_each_source_is_the_one_the_control_shows() -> None:
    assert Threshold.of_model(0.5).describe() == "the model's"
    assert Threshold(0.4, ThresholdSource.HAND).describe() == "your setting"
    assert Threshold.for_run(0.4).describe() == "set for this run"


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, math.inf, "0.5"])
def test_a_threshold_is_a_probability(bad: object) -> None:
    with pytest.raises(ValueError, match="probability"):
        Threshold(bad, ThresholdSource.HAND)  # type: ignore[arg-type]


def test_a_threshold_is_a_frozen_value() -> None:
    threshold = Threshold.of_model(0.5)
    with pytest.raises(AttributeError):
        threshold.value = 0.2  # type: ignore[misc]
    assert threshold == Threshold.of_model(0.5) and hash(threshold) == hash(Threshold.of_model(0.5))
