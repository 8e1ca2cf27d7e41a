"""Both kinds of model file on every command line that takes one (issue 25, item 5): a ``.pt`` checkpoint and
the ``.onnx`` export of it score the same crops alike in ``liveness-eval``, ``training.calibrate`` and the
gate; where weights are trained (``liveness-train --init``/``--teacher``, adapting, the adaptation
benchmark) an ``.onnx`` is one clear error line that names the ``.pt`` to use instead."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from train_cli import assert_one_clear_error, run_train_cli

from liveness_app.core.backends.factory import require_checkpoint
from liveness_app.core.backends.onnx_export import export_onnx
from liveness_app.core.meta import ModelLoadError
from studio_fakes import make_checkpoint, tiny_dataset

SIZE = 32  # exported and scored in seconds; the graph is the shipped models' with a smaller input


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small checkpoint and its export beside it, as models/ ships them (exporting takes seconds: once)."""
    folder = tmp_path_factory.mktemp("pair")
    checkpoint = make_checkpoint(folder / "small.pt", input_size=SIZE, threshold=0.5, name="small")
    export_onnx(checkpoint, folder / "small.onnx")
    return checkpoint, folder / "small.onnx"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_dataset(tmp_path_factory.mktemp("data"), per_class=4, groups=2)


def test_eval_takes_an_onnx_model_and_prints_a_table(pair, data: Path, tmp_path: Path, capsys) -> None:
    from training.eval.evaluate import main

    checkpoint, onnx = pair
    rows = {}
    for model in (checkpoint, onnx):
        out = tmp_path / model.suffix[1:]
        assert (
            main(
                [
                    "--model",
                    str(model),
                    "--data",
                    f"cropped:{data}",
                    "--out",
                    str(out),
                    "--device",
                    "cpu",
                    "--cache-dir",
                    str(tmp_path / "cache"),
                ]
            )
            == 0
        )
        captured = capsys.readouterr()
        assert "not a readable weights-only checkpoint" not in captured.err
        lines = captured.out.splitlines()
        assert lines[1].split()[:3] == ["level", "AUC", "EER"] and lines[2].startswith("frame")
        assert "{" not in captured.out and "None" not in captured.out and " %" in lines[2]
        assert "the evaluation set is small" in captured.err  # 8 crops of each class
        rows[model.suffix] = [float(r["score"]) for r in _csv(out / "predictions_frames.csv")]
        assert (out / "gradcam_grid.png").is_file()
    # the same crops, the same scores: the export computes what its checkpoint does
    np.testing.assert_allclose(rows[".onnx"], rows[".pt"], atol=1e-4)
    assert not (tmp_path / "onnx" / "tsne.png").exists()  # an ONNX graph gives no embeddings to plot


def test_the_report_summarises_what_the_model_was_trained_on(pair, data: Path, tmp_path: Path) -> None:
    """The model table shows counts and a few groups, never the per-group table and skipped-file list."""
    from liveness_app.core.meta import ModelMeta
    from liveness_app.core.model import build_model, read_checkpoint, save_checkpoint
    from training.eval.evaluate import evaluate_model

    meta = ModelMeta.from_dict(read_checkpoint(pair[0]))
    training = {
        "data": {
            "train": {
                "samples": 3000,
                "groups": 40,
                "per_label": {"live": 1000, "print": 2000},
                "per_group": {f"person-{i}": 75 for i in range(40)},
            },
            "dev_groups": ["person-40", "person-41"],
            "skipped_files": [{"path": f"/data/{i}.jpg", "reason": "no face"} for i in range(200)],
            "skipped": 200,
        }
    }
    model = tmp_path / "described.pt"
    save_checkpoint(model, build_model(), ModelMeta(**{**meta.__dict__, "training": training}))
    evaluate_model(model, [f"cropped:{data}"], tmp_path / "out", cache_dir=tmp_path / "cache", device="cpu")
    row = next(
        line for line in (tmp_path / "out" / "report.md").read_text().splitlines() if line.startswith("| trained_on")
    )
    assert "train: 3,000 samples (live 1,000, print 2,000) from 40 groups" in row and "and 37 more" in row
    assert "200 file(s) skipped" in row and "/data/1.jpg" not in row and len(row) < 400


def test_calibrate_and_the_gate_score_an_onnx_model(
    pair, data: Path, tmp_path: Path, capsys, detector_path: Path
) -> None:
    from training.calibrate import main
    from training.fit.prepare import load_samples
    from training.gate import score_model

    checkpoint, onnx = pair
    assert main(["--model", str(onnx), "--data", f"cropped:{data}", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("threshold for this camera (EER rule): ") and "{" not in out and "None" not in out
    assert main(["--model", str(onnx), "--data", f"cropped:{data}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rule"] == "eer"
    samples = load_samples([f"cropped:{data}"])[0]
    scores = [score_model(m, samples, tmp_path / "cache", detector_path, 8)[3] for m in (checkpoint, onnx)]
    np.testing.assert_allclose(scores[1], scores[0], atol=1e-4)


def test_fine_tuning_from_an_onnx_model_names_the_checkpoint(pair, data: Path, tmp_path: Path, capsys) -> None:
    checkpoint, onnx = pair
    rc, err = run_train_cli(capsys, tmp_path, "--data", f"cropped:{data}", "--init", str(onnx), "--finetune")
    assert_one_clear_error(
        rc,
        err,
        f"{onnx} is an ONNX model: fine-tuning (--init) needs PyTorch weights",
        f"use {checkpoint} (the checkpoint it was exported from)",
    )
    rc, err = run_train_cli(capsys, tmp_path, "--data", f"cropped:{data}", "--teacher", str(onnx))
    assert_one_clear_error(rc, err, f"{onnx} is an ONNX model: distilling from it (--teacher)", str(checkpoint))


def test_an_onnx_file_that_is_not_an_export_still_gets_a_clear_line(tmp_path: Path) -> None:
    junk = tmp_path / "mine.onnx"
    junk.write_bytes(b"not a graph")
    with pytest.raises(
        ModelLoadError,
        match=r"mine.onnx is an ONNX model: fine-tuning needs PyTorch weights; "
        r"use its \.pt checkpoint",
    ):
        require_checkpoint(junk, "fine-tuning")
    (tmp_path / "mine.pt").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"use .*mine\.pt instead"):
        require_checkpoint(junk, "fine-tuning")
    assert require_checkpoint(tmp_path / "mine.pt", "fine-tuning") == tmp_path / "mine.pt"


def test_adapting_an_onnx_model_is_refused_before_any_work(pair, data: Path, tmp_path: Path, capsys) -> None:
    from training.adapt import adapt_to_camera
    from training.studies.adapt_bench import main as bench_main

    checkpoint, onnx = pair
    with pytest.raises(SystemExit) as exc:
        bench_main(["--data", f"cropped:{data}", "--model", str(onnx), "--out", str(tmp_path / "bench")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"use {checkpoint}" in err.splitlines()[-1]
    with pytest.raises(ModelLoadError, match="adapting it to a camera"):
        next(adapt_to_camera(onnx, [], [], tmp_path / "adapt", "x"))


def _csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))
