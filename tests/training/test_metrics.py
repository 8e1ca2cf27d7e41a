"""Tests for training.eval.rates and training.eval.metrics on small, hand-computed examples."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from training.eval import metrics as m
from training.eval import rates as r
from training.eval import thresholds as T

# A hand-checked set at threshold 0.5 (accepted as live when score >= 0.5):
#   live   .9 .8 .4 .7     -> .4 rejected              BPCER = 1/4
#   print  .6 .2 .1 .3     -> .6 accepted              APCER = 1/4
#   replay .55 .7 .1 .2    -> .55, .7 accepted         APCER = 2/4
#   mask   .1              -> nothing accepted         APCER = 0
KNOWN_SCORES = [0.9, 0.8, 0.4, 0.7, 0.6, 0.2, 0.1, 0.3, 0.55, 0.7, 0.1, 0.2, 0.1]
KNOWN_LABELS = ["live"] * 4 + ["print"] * 4 + ["replay"] * 4 + ["mask"]


def test_apcer_bpcer_by_hand():
    apcer, bpcer = r.apcer_bpcer(KNOWN_SCORES, KNOWN_LABELS, 0.5)
    assert apcer == pytest.approx({"mask": 0.0, "print": 0.25, "replay": 0.5})
    assert bpcer == pytest.approx(0.25)


def test_acer_uses_worst_attack_and_hter_pools_attacks():
    # ACER = (max APCER + BPCER)/2 = (0.5 + 0.25)/2
    assert r.acer(KNOWN_SCORES, KNOWN_LABELS, 0.5) == pytest.approx(0.375)
    # FAR pools the 9 attacks: 3 accepted -> 1/3; FRR = 1/4
    assert r.hter(KNOWN_SCORES, KNOWN_LABELS, 0.5) == pytest.approx((1 / 3 + 1 / 4) / 2)


def test_score_equal_to_threshold_is_accepted():
    apcer, bpcer = r.apcer_bpcer([0.5, 0.5], ["live", "print"], 0.5)
    assert bpcer == 0.0
    assert apcer == {"print": 1.0}


def test_separable_case_gives_auc_one_and_eer_zero():
    scores = [0.1, 0.2, 0.3, 0.8, 0.9, 0.95]
    is_live = [False, False, False, True, True, True]
    rate, thr = r.eer(scores, is_live)
    assert rate == 0.0
    assert 0.3 < thr <= 0.8
    result = m.compute_all(scores, ["print"] * 3 + ["live"] * 3, thr)["frame"]
    assert result["auc"] == 1.0
    assert result["eer"] == 0.0
    assert result["bpcer"] == 0.0 and result["apcer"] == {"print": 0.0}
    assert result["accuracy"] == 1.0


def test_eer_exact_crossing():
    # At threshold .65: FAR = 1/4 (.65 accepted), FRR = 1/4 (.6 rejected).
    scores = [0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.65]
    is_live = [True] * 4 + [False] * 4
    rate, thr = r.eer(scores, is_live)
    assert rate == pytest.approx(0.25)
    assert thr == pytest.approx(0.65)


def test_eer_interpolates_between_operating_points():
    # live .9 .8 .3, attacks .6 .2 .1 .7.  At .7: FAR 1/4, FRR 1/3; at .6: FAR 1/2, FRR 1/3.
    # FRR - FAR goes 1/12 -> -1/6, crossing a third of the way: EER = 1/4 + 1/3 * 1/4 = 1/3,
    # threshold = .7 - 1/3 * .1.
    rate, thr = r.eer([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.7], [True] * 3 + [False] * 4)
    assert rate == pytest.approx(1 / 3)
    assert thr == pytest.approx(0.7 - 0.1 / 3)


def test_eer_needs_both_classes():
    with pytest.raises(ValueError, match="one class"):
        r.eer([0.2, 0.4], [True, True])


def test_threshold_for_bpcer_on_grid():
    live = np.arange(1, 21) / 20.0  # 20 live scores .05 .. 1.0 -> at most 1 may be rejected
    attacks = np.array([0.05, 0.08, 0.12, 0.5])
    scores = np.concatenate([live, attacks])
    is_live = np.r_[np.ones(20, bool), np.zeros(4, bool)]
    thr = T.threshold_for_bpcer(scores, is_live, 0.05)
    assert thr == pytest.approx(0.10)
    labels = ["live"] * 20 + ["print"] * 4
    _, bpcer = r.apcer_bpcer(scores, labels, thr)
    assert bpcer == pytest.approx(0.05)


@pytest.mark.parametrize("n_live", [7, 19, 20, 21, 100, 333])
@pytest.mark.parametrize("target", [0.0, 0.05, 0.1, 0.29])
def test_threshold_for_bpcer_is_highest_valid(n_live, target):
    rng = np.random.default_rng(n_live)
    live = rng.beta(5, 2, n_live).round(2)  # rounding creates ties
    attacks = rng.beta(2, 5, 50)
    scores = np.concatenate([live, attacks])
    is_live = np.r_[np.ones(n_live, bool), np.zeros(50, bool)]
    thr = T.threshold_for_bpcer(scores, is_live, target)
    assert np.mean(live < thr) <= target + 1e-12
    # any higher threshold breaks the BPCER target, so APCER cannot be lowered further
    assert np.mean(live < np.nextafter(thr, np.inf)) > target


def test_threshold_for_bpcer_rejects_bad_input():
    with pytest.raises(ValueError, match="no live"):
        T.threshold_for_bpcer([0.1, 0.2], [False, False])
    with pytest.raises(ValueError, match="target"):
        T.threshold_for_bpcer([0.1, 0.2], [True, False], target=1.5)


def test_roc_and_det_points_agree():
    scores = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.7]
    is_live = [True] * 3 + [False] * 4
    fpr, tpr, thr = r.roc_points(scores, is_live)
    assert thr[0] == np.inf and fpr[0] == 0 and tpr[-1] == 1
    apcer, bpcer, det_thr = r.det_points(scores, is_live)
    for a, b, t in zip(apcer, bpcer, det_thr):
        j = int(np.flatnonzero(thr == t)[0])
        assert a == pytest.approx(fpr[j]) and b == pytest.approx(1 - tpr[j])


def test_video_level_mean_and_median():
    scores = [0.1, 0.2, 0.9, 0.8, 0.6, 0.5]
    vids = ["a", "a", "b", "b", "b", "c"]
    labels = ["print", "print", "live", "live", "live", "replay"]
    v_scores, v_labels, v_ids = m.video_level(scores, vids, labels)
    assert v_ids == ["a", "b", "c"]
    assert v_labels == ["print", "live", "replay"]
    assert v_scores == pytest.approx([0.15, (0.9 + 0.8 + 0.6) / 3, 0.5])
    med, _, _ = m.video_level(scores, vids, labels, how="median")
    assert med == pytest.approx([0.15, 0.8, 0.5])


def test_video_level_rejects_mixed_labels_and_unknown_mode():
    with pytest.raises(ValueError, match="mixed labels"):
        m.video_level([0.1, 0.9], ["a", "a"], ["live", "print"])
    with pytest.raises(ValueError, match="how"):
        m.video_level([0.1], ["a"], ["live"], how="max")


def test_compute_all_frame_and_video():
    vids = ["l1", "l1", "l2", "l3", "p1", "p1", "p2", "p2", "r1", "r2", "r2", "r3", "m1"]
    result = m.compute_all(KNOWN_SCORES, KNOWN_LABELS, 0.5, video_ids=vids)
    assert set(result) == {"frame", "video"}
    frame = result["frame"]
    for key in (
        "auc",
        "eer",
        "eer_threshold",
        "threshold",
        "bpcer",
        "apcer",
        "acer",
        "hter",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "confusion_matrix",
        "n_live",
        "n_attack",
    ):
        assert key in frame
    # rows true [spoof, live], cols predicted: 9 attacks (3 accepted), 4 live (1 rejected)
    assert frame["confusion_matrix"] == [[6, 3], [1, 3]]
    assert frame["n_live"] == 4 and frame["n_attack"] == 9
    assert frame["precision"] == pytest.approx(3 / 6)
    assert frame["recall"] == pytest.approx(3 / 4)
    assert frame["f1"] == pytest.approx(2 * 0.5 * 0.75 / 1.25)
    assert frame["accuracy"] == pytest.approx(9 / 13)
    assert frame["acer"] == pytest.approx(0.375)
    assert frame["worst_attack"] == "replay"
    video = result["video"]
    # videos: l1 .85, l2 .4, l3 .7 | p1 .4, p2 .2 | r1 .55, r2 .4, r3 .2 | m1 .1
    assert video["n_live"] == 3 and video["n_attack"] == 6
    assert video["bpcer"] == pytest.approx(1 / 3)
    assert video["apcer"] == pytest.approx({"mask": 0.0, "print": 0.0, "replay": 1 / 3})
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_compute_all_single_class_is_handled():
    result = m.compute_all([0.2, 0.7, 0.9], ["live"] * 3, 0.5)
    frame = result["frame"]
    assert set(result) == {"frame"}
    assert frame["auc"] is None and frame["eer"] is None and frame["eer_threshold"] is None
    assert any("only live" in note for note in frame["notes"])
    assert frame["bpcer"] == pytest.approx(1 / 3)
    assert frame["apcer"] == {} and frame["acer"] is None and frame["hter"] is None
    attacks = m.compute_all([0.2, 0.7], ["print", "replay"], 0.5)["frame"]
    assert attacks["auc"] is None and attacks["bpcer"] is None and attacks["recall"] is None
    assert attacks["apcer"] == {"print": 0.0, "replay": 1.0}
    json.dumps(attacks, allow_nan=False)


def test_compute_all_rejects_empty_nan_and_mismatch():
    with pytest.raises(ValueError, match="empty"):
        m.compute_all([], [], 0.5)
    with pytest.raises(ValueError, match="NaN"):
        m.compute_all([0.1, math.nan], ["live", "print"], 0.5)
    with pytest.raises(ValueError, match="labels"):
        m.compute_all([0.1, 0.2], ["live"], 0.5)


def test_calibrate():
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.beta(5, 2, 200), rng.beta(2, 5, 150)])
    labels = ["live"] * 200 + ["print"] * 100 + ["replay"] * 50
    cal = T.calibrate(scores, labels)
    assert set(cal) >= {"eer_threshold", "bpcer5_threshold"}
    _, bpcer = r.apcer_bpcer(scores, labels, cal["bpcer5_threshold"])
    assert bpcer <= 0.05
    rate, thr = r.eer(scores, r.live_mask(labels))
    assert cal["eer_threshold"] == thr and cal["eer"] == rate
    json.dumps(cal, allow_nan=False)


def test_per_attack_breakdown_separates_each_attack_from_bona_fide() -> None:
    from training.eval.metrics import compute_all

    scores = [0.9, 0.8, 0.7, 0.1, 0.2, 0.75, 0.95]
    labels = ["live", "live", "live", "print", "print", "replay", "replay"]
    per = compute_all(scores, labels, threshold=0.5)["frame"]["per_attack"]
    assert per["print"]["auc"] == 1.0 and per["print"]["apcer"] == 0.0
    # replay: live beats 0.75 twice (0.9, 0.8) and 0.95 never -> 2 of 6 live/replay pairs ordered right
    assert per["replay"]["auc"] == pytest.approx(1 / 3) and per["replay"]["apcer"] == 1.0
    assert per["replay"]["acer"] == 0.5 and per["print"]["bpcer"] == 0.0


def test_collapsed_model_is_flagged() -> None:
    from training.eval.metrics import compute_all

    scores = [0.5333 + 1e-6 * i for i in range(10)]
    labels = ["print"] * 5 + ["live"] * 5
    frame = compute_all(scores, labels, threshold=0.5333)["frame"]
    assert frame["auc"] == 1.0  # perfect ranking by noise ...
    assert any("collapsed" in n for n in frame["notes"])  # ... which the metrics must not hide


def test_log_loss_live_by_hand_and_ranks_a_wider_margin_first() -> None:
    labels = ["live", "print"]
    assert m.log_loss_live([0.8, 0.4], labels) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    # both separate these perfectly (EER 0, AUC 1); the loss still prefers scores far from the threshold
    assert m.log_loss_live([0.99, 0.01], labels) < m.log_loss_live([0.6, 0.4], labels)
    assert math.isfinite(m.log_loss_live([1.0, 0.0], ["print", "live"]))  # clipped, never inf
    assert m.log_loss_live([], []) == float("inf")
