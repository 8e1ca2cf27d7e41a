"""External teachers in use: a student learning their combined soft scores, ``liveness-eval --compare``, and
the gate a candidate default passes on the locked split. The tiny ONNX stand-in of :func:`tiny_teacher`
plays the external model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liveness_app.core.model import load_checkpoint
from studio_fakes import tiny_dataset, tiny_teacher, tiny_train_config
from training.data.locked import family_of, locked_families, locked_groups, without_locked
from training.eval.evaluate import evaluate_model
from training.fit.loop import fit
from training.gate import markdown, run_gate


def test_a_student_learns_the_teachers_and_its_metadata_names_them(tmp_path: Path) -> None:
    data = tiny_dataset(tmp_path / "data", per_class=6)
    spec = tiny_teacher(tmp_path / "teachers")
    cfg = tiny_train_config(
        tmp_path, data, epochs=1, install=False, teachers=(str(spec),), teacher_rule="stack", kd_weight=0.5
    )
    events = list(fit(cfg))
    assert any(e.kind == "cache" and "teachers" in e.message for e in events)
    _, meta = load_checkpoint(tmp_path / "run" / "best.pt")
    record = meta.training["data"]["teachers"]
    assert record["teachers"][0]["name"] == "tiny" and len(record["teachers"][0]["sha256"]) == 64
    assert record["combination"]["rule"] == "stack" and record["dev_crops"] > 0
    assert 0 < record["train_crops_with_target"] <= record["train_crops"]
    assert meta.training["recipe"]["teachers"] == [str(spec)]


def test_eval_compares_an_external_model_on_the_same_frames(tmp_path: Path) -> None:
    data = tiny_dataset(tmp_path / "data", per_class=6)
    list(fit(tiny_train_config(tmp_path, data, epochs=1, install=False)))
    spec = tiny_teacher(tmp_path / "teachers")
    out = tmp_path / "report"
    metrics = evaluate_model(
        tmp_path / "run" / "best.pt",
        [f"cropped:{data}"],
        out,
        cache_dir=tmp_path / "cache",
        device="cpu",
        compare=[str(spec)],
    )
    tiny = metrics["compare"]["tiny"]
    assert tiny["scored"] == metrics["frame"]["n"] and tiny["missing"] == 0
    assert tiny["own_threshold"]["frame"]["threshold"] == 0.5
    assert tiny["our_threshold"]["frame"]["threshold"] == pytest.approx(metrics["frame"]["threshold"])
    assert tiny["own_threshold"]["frame"]["auc"] == tiny["our_threshold"]["frame"]["auc"]  # same scores
    assert set(tiny["own_threshold"]["frame"]["apcer"]) == {"print"}
    assert json.loads((out / "metrics.json").read_text())["compare"]["tiny"]["sha256"]
    assert "Compared with external models" in (out / "report.md").read_text()


def test_the_gate_fails_a_candidate_worse_than_the_current_default(tmp_path: Path) -> None:
    data = tiny_dataset(tmp_path / "data", per_class=6)
    list(fit(tiny_train_config(tmp_path, data, epochs=2, install=False)))
    trained = tmp_path / "run" / "best.pt"
    list(fit(tiny_train_config(tmp_path, data, epochs=1, install=False, lr=0.0, out_dir=str(tmp_path / "untrained"))))
    untrained = tmp_path / "untrained" / "best.pt"
    spec = tiny_teacher(tmp_path / "teachers")
    args = dict(
        data=[f"cropped:{data}"],
        teachers=[str(spec)],
        teachers_dir=None,
        cache_dir=tmp_path / "cache",
        locked=frozenset({"subj1", "subj2"}),
    )
    result = run_gate(untrained, trained, **args, margin=0.0)
    models = result["models"]
    assert set(models) == {"candidate", "current default", "tiny"} and result["groups"] == ["subj1", "subj2"]
    assert models["current default"]["saw_locked_groups"] == ["subj1", "subj2"]  # it trained on them: flagged
    cand, cur = models["candidate"]["families"]["all"]["auc"], models["current default"]["families"]["all"]["auc"]
    assert result["passed"] == (cand >= cur)
    assert "trained on locked groups" in markdown(result)
    assert run_gate(trained, trained, **args)["passed"]  # the same file never fails its own gate


def test_the_committed_locked_split_holds_a_fifth_of_each_family() -> None:
    families = locked_families()
    assert set(families) == {"nuaa", "replay-crops", "webcam"}
    assert all(family_of(g) == fam for fam, groups in families.items() for g in groups)
    counts = json.loads((Path(__file__).resolve().parents[2] / "training" / "locked_split.json").read_text())["images"]
    assert all(counts[f] > 0 for f in families)

    class S:
        def __init__(self, group: str) -> None:
            self.group = group

    kept, dropped = without_locked([S("nuaa-0003"), S("nuaa-0001"), S("my-own")])
    assert [s.group for s in kept] == ["nuaa-0001", "my-own"] and dropped == 1
    assert "nuaa-0003" in locked_groups()
