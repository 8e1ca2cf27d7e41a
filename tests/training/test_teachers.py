"""training.teachers: external liveness models as specs, their own crops, a runner, cached scores and the
rules that combine them. The real teachers are not in the repository (research weights): a tiny ONNX graph
written here stands in for one, with a known output."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from liveness_app import paths
from liveness_app.core.face import FaceBox
from liveness_app.core.meta import ModelLoadError
from studio_fakes import TINY_TEACHER_SPEC as SPEC
from studio_fakes import tiny_teacher
from training.data.cache import CropCache
from training.data.samples import Sample
from training.teachers import load_teachers
from training.teachers.combine import RULES, fit_combiner
from training.teachers.crops import clip_square, reflect_square, shift_inside, teacher_input
from training.teachers.runner import p_live
from training.teachers.scores import TeacherScoreCache
from training.teachers.spec import SpecError, builtin_specs, load_spec, spec_from_dict


@pytest.fixture()
def teacher_dir(tmp_path: Path) -> Path:
    return tiny_teacher(tmp_path / "teachers").parent


def test_the_four_builtin_specs_read_as_the_teachers_readme_says() -> None:
    specs = {name: load_spec(name)[0] for name in builtin_specs()}
    assert set(specs) == {"silentface-v2", "silentface-v1se", "face-antispoof", "hyperfas"}
    assert (specs["silentface-v2"].crop_scale, specs["silentface-v1se"].crop_scale) == (2.7, 4.0)
    assert specs["silentface-v2"].colour == "bgr" and specs["silentface-v2"].divisor == 1.0
    assert specs["face-antispoof"].output == "logit_pair" and specs["face-antispoof"].size == 128
    assert specs["hyperfas"].threshold == 0.95 and specs["hyperfas"].offset == 127.5
    assert all(len(s.sha256) == 64 for s in specs.values())


@pytest.mark.parametrize(
    "change, field",
    [
        ({"file": "../../etc/passwd"}, "file"),
        ({"size": 5}, "size"),
        ({"colour": "cmyk"}, "colour"),
        ({"threshold": 2}, "threshold"),
        ({"crop": {"rule": "magic", "scale": 1}}, "crop.rule"),
        ({"scaling": {"offset": 0, "divisor": 0}}, "divisor"),
        ({"size": True}, "size"),
        ({"name": "a b/c"}, "name"),
        ({"sha256": "zz"}, "sha256"),
    ],
)
def test_a_spec_out_of_place_is_refused_naming_the_field(change: dict, field: str) -> None:
    with pytest.raises(SpecError, match=field.split(".")[-1]):
        spec_from_dict({**SPEC, **change}, "my.json")


def test_unreadable_and_missing_specs_say_so(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SpecError, match="not a readable JSON"):
        load_spec(str(tmp_path / "bad.json"))
    with pytest.raises(SpecError, match="neither a built-in"):
        load_spec("no-such-teacher")


def test_each_crop_rule_cuts_as_its_authors_did() -> None:
    frame = np.arange(480 * 640 * 3, dtype=np.uint32).reshape(480, 640, 3).astype(np.uint8)
    box = FaceBox(590.0, 200.0, 40.0, 80.0)  # near the right edge
    silent = shift_inside(frame, box, 2.7)  # 108 x 216 box, shifted left to stay inside, never padded
    assert silent.shape[:2] == (217, 109)
    assert np.array_equal(silent[0, -1], frame[132, 639])
    big = shift_inside(frame, FaceBox(300, 200, 100, 200), 4.0)  # the scale is lowered to fit the frame
    assert big.shape[0] <= 480 and big.shape[1] <= 640
    reflected = reflect_square(frame, box, 1.5)  # square of 1.5 x 80, reflected past the edge
    assert reflected.shape[:2] == (120, 120)
    clipped = clip_square(frame, box, 1.2)  # square of 96, clipped at the edge: not square
    assert clipped.shape[:2] == (96, 640 - 562)


def test_teacher_input_applies_colour_order_and_scaling() -> None:
    spec = spec_from_dict(SPEC, "t")
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[..., 2] = 255  # red in BGR
    x = teacher_input(frame, FaceBox(30, 30, 40, 40), spec)
    assert x.shape == (3, 32, 32) and x.dtype == np.float32
    assert np.allclose(x[0], 1.0) and np.allclose(x[2], 0.0)  # RGB order, /255


def test_outputs_are_read_the_specs_way() -> None:
    spec = spec_from_dict(SPEC, "t")
    assert p_live(np.array([[2.0, 0.0], [0.0, 2.0]]), spec) == pytest.approx([0.8808, 0.1192], abs=1e-4)
    soft = spec_from_dict({**SPEC, "output": {"kind": "softmax", "live_index": 1}}, "t")
    assert p_live(np.array([[0.2, 0.7, 0.1]]), soft) == pytest.approx([0.7])
    with pytest.raises(ModelLoadError, match="not probabilities"):
        p_live(np.array([[3.0, 7.0, 1.0]]), soft)


def test_a_model_file_that_is_not_the_one_the_spec_names_is_refused(teacher_dir: Path) -> None:
    spec = {**SPEC, "sha256": "0" * 64}
    (teacher_dir / "pinned.json").write_text(json.dumps(spec))
    with pytest.raises(ModelLoadError, match="not the file the spec names"):
        load_teachers([str(teacher_dir / "pinned.json")])


def test_teacher_scores_are_cached_and_aligned_with_the_cached_crops(tmp_path: Path, teacher_dir: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    red, dark = np.full((120, 100, 3), 40, np.uint8), np.full((120, 100, 3), 40, np.uint8)
    red[..., 2] = 230  # red channel high: the tiny teacher says live
    dark[..., 2] = 20  # red channel low: attack
    cv2.imwrite(str(data / "red.png"), red)
    cv2.imwrite(str(data / "dark.png"), dark)
    # tight face crops: no detector involved, each image is its own face box
    samples = [
        Sample(data / "red.png", "live", "g", "image", precropped=True),
        Sample(data / "dark.png", "print", "g", "image", precropped=True),
    ]
    detector = paths.default_detector_path()
    items = CropCache(tmp_path / "cache", detector, 0.25).build(samples)
    assert len(items) == 2
    teachers = load_teachers([str(teacher_dir / "tiny.json")])
    cache = TeacherScoreCache(tmp_path / "cache", detector, 16, teachers)
    scores = cache.build(items)
    assert set(scores) == {p for item in items for p in item.crop_paths}
    live, attack = (float(scores[item.crop_paths[0]][0]) for item in items)
    assert live > 0.5 > attack
    again = TeacherScoreCache(tmp_path / "cache", detector, 16, teachers)
    assert again.steps(items).__next__ is not None
    assert all(len(t) == 2 for t in again.tables)  # read back from disk: nothing left to score
    assert again.build(items).keys() == scores.keys()


@pytest.mark.parametrize("rule", RULES)
def test_every_combination_rule_fits_on_dev_and_is_recorded(rule: str) -> None:
    rng = np.random.default_rng(0)
    live = rng.random(400) < 0.5
    good = np.clip(np.where(live, 0.8, 0.2) + rng.normal(0, 0.15, 400), 0.01, 0.99)
    noise = rng.random(400)
    comb = fit_combiner(rule, ["good", "noise"], np.stack([good, noise], 1), live)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(live, comb(np.stack([good, noise], 1))) > 0.75
    record = comb.to_dict()
    assert record["rule"] == rule and record["teachers"] == ["good", "noise"] and record["dev_auc"]["good"] > 0.9
    if rule in ("stack", "best"):
        assert abs(record["weights"][0]) > abs(record["weights"][1])


def test_a_corrupt_or_foreign_score_cache_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    from training.teachers.scores import _load

    bad = tmp_path / "scores.json"
    bad.write_text("{not json")
    assert _load(bad) == {}
    bad.write_text(json.dumps({"scores": {"a": [0.2, 0.9], "b": [1.5], "c": "x", "d": [None]}}))
    assert _load(bad) == {"a": [0.2, 0.9]}  # only lists of probabilities are kept


def test_a_locked_split_file_out_of_layout_is_refused(tmp_path: Path) -> None:
    from training.data.locked import locked_families

    bad = tmp_path / "locked.json"
    for text in ("[]", '{"families": {"nuaa": "nuaa-0001"}}', "{oops"):
        bad.write_text(text)
        with pytest.raises(ValueError, match="locked split"):
            locked_families(bad)
