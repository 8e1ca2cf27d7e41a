"""After adapting to a camera: which model to keep (:func:`training.adapt.recommend`) and the advice that
explains it."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "kept, adapted, calibrated, n, expected",
    [
        (0.0, 0.0, 0.0, 100, "kept"),  # the dev sessions cannot tell them apart: nothing changes
        (0.0, 0.1, 0.0, 100, "kept"),
        (0.2, 0.0, 0.0, 100, "calibrated"),  # a tie between two changes: the smaller one
        (0.2, 0.1, 0.05, 100, "calibrated"),
        (0.2, 0.05, 0.1, 100, "adapted"),
        (0.05, 0.1, 0.1, 100, "kept"),
        (0.05, 0.04, 0.1, 100, "kept"),  # one point better is not evidence
        (0.10, 0.03, 0.1, 100, "adapted"),
        (0.10, 0.03, 0.1, 12, "kept"),  # 7 points on 12 frames of a class: under two frames' worth (8.3 points)
        (0.20, 0.03, 0.2, 12, "adapted"),
    ],
)
def test_the_model_is_kept_unless_a_change_is_better_on_dev_by_more_than_a_few_frames(
    kept, adapted, calibrated, n, expected
) -> None:
    from training.adapt import ADVICE, recommend

    counts = {"n_live": n, "n_attack": 3 * n}
    judged = {
        "kept": {"acer": kept, **counts},
        "adapted": {"acer": adapted, **counts},
        "calibrated": {"acer": calibrated, **counts},
    }
    assert recommend(judged) == expected
    assert set(ADVICE) == set(judged)


def test_the_advice_explains_a_recommendation_the_held_out_sessions_do_not_bear_out() -> None:
    from training.adapt import ADAPTED_NOT_BETTER, ADVICE, advice, sentence

    same = {"acer": 0.5, "bpcer": 1.0, "apcer": 0.0, "n_live": 16, "n_attack": 16}
    text = sentence(same, same) + advice("adapted", better_on_held_out=False)
    assert text.startswith("The adapted model is not better") and text.endswith(ADAPTED_NOT_BETTER)
    assert "dev sessions" in ADAPTED_NOT_BETTER and "switches back" in ADAPTED_NOT_BETTER
    assert advice("adapted", better_on_held_out=True) == ""
    assert advice("kept", better_on_held_out=True) == ADVICE["kept"]
    assert advice("calibrated", better_on_held_out=False) == ADVICE["calibrated"]
