"""ONNX export and the ONNX Runtime backend: the same scores and Grad-CAM maps as PyTorch, the metadata
carried along, hostile files refused in words, and the engine choice."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from liveness_app.core.backends import factory as backend_module
from liveness_app.core.backends.factory import LoadedModel, choose_backend
from liveness_app.core.backends.onnx_export import ExportError, ScoreAndCam, export_onnx
from liveness_app.core.backends.onnx_scorer import META_KEY, load_onnx
from liveness_app.core.backends.torch_scorer import LivenessScorer
from liveness_app.core.camera import VideoFileSource
from liveness_app.core.face import FaceDetector
from liveness_app.core.files import file_sha256
from liveness_app.core.model import ModelLoadError, build_model, load_checkpoint, save_checkpoint
from liveness_app.core.pipeline import Pipeline
from liveness_app.core.preprocess import PreprocessSpec, preprocess_face, to_batch
from liveness_app.export import main as export_main
from studio_fakes import make_checkpoint

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "models" / "default.pt", ROOT / "models" / "imagenet-mobilenet-v2.pt"]
THRESHOLDS = (0.0, 0.5, 1.0)  # explain the live logit, whichever the score says, the spoof one


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small checkpoint and its ONNX export (exporting takes seconds: once per module)."""
    folder = tmp_path_factory.mktemp("onnx")
    checkpoint = make_checkpoint(folder / "small.pt", input_size=64, threshold=0.3, name="small")
    export_onnx(checkpoint, folder / "small.onnx")
    return checkpoint, folder / "small.onnx"


def real_crops(spec: PreprocessSpec, detector_path: Path, sample_video: Path, count: int = 6) -> np.ndarray:
    """Faces of the bundled sample video, prepared the app's way."""
    crops = []
    source = VideoFileSource(sample_video, loop=False)
    with FaceDetector(detector_path) as detector:
        for i in range(60):
            frame = source.read()
            if i % 10 == 0:
                crops += [preprocess_face(frame, box, spec) for box in detector.detect(frame, i * 33)]
    source.close()
    assert len(crops) >= count
    return to_batch(crops[:count])


@pytest.mark.parametrize("arch", ["mobilenet_v3_large", "mobilenet_v2"])
def test_grad_cam_as_forward_operations_equals_autograd(arch: str) -> None:
    torch.manual_seed(0)
    model = build_model(arch).eval()
    x = torch.randn(3, 3, 96, 96)
    for threshold in THRESHOLDS:
        with torch.no_grad():
            scores, cams = ScoreAndCam(model)(x, torch.tensor([threshold]))
        reference = LivenessScorer(model)(x, with_cam=True, threshold=threshold)  # autograd through the head
        np.testing.assert_allclose(scores.numpy(), reference.scores, atol=1e-6)
        np.testing.assert_allclose(cams.numpy(), reference.cams, atol=1e-5)


def test_export_matches_pytorch_on_random_and_real_crops(exported, detector_path, sample_video) -> None:
    checkpoint, onnx_path = exported
    model, meta = load_checkpoint(checkpoint)
    scorer, onnx_meta, notes = load_onnx(onnx_path)
    assert onnx_meta == meta  # preprocessing, threshold, class names, training and data summary, name
    assert notes["source_sha256"] == file_sha256(checkpoint) and notes["source"] == "small.pt"
    random = np.random.default_rng(1).standard_normal((5, 3, 64, 64)).astype(np.float32)
    for batch in (random, real_crops(meta.preprocessing, detector_path, sample_video)):
        for threshold in THRESHOLDS:
            ours = LivenessScorer(model)(batch, with_cam=True, threshold=threshold)
            theirs = scorer(batch, with_cam=True, threshold=threshold)
            np.testing.assert_allclose(theirs.scores, ours.scores, atol=1e-5)
            np.testing.assert_allclose(theirs.cams, ours.cams, atol=1e-4)
    assert scorer(random, with_cam=False).cams is None


@pytest.mark.parametrize("checkpoint", SHIPPED, ids=lambda p: p.stem)
def test_shipped_onnx_files_are_exports_of_the_shipped_checkpoints(
    checkpoint: Path, detector_path, sample_video
) -> None:
    """models/*.onnx travel with models/*.pt (the lean bundle has only them): they must not drift."""
    scorer, meta, notes = load_onnx(checkpoint.with_suffix(".onnx"))
    assert notes["source_sha256"] == file_sha256(checkpoint), (
        f"re-export: liveness-export --model {checkpoint} --out {checkpoint.with_suffix('.onnx')}"
    )
    model, own = load_checkpoint(checkpoint)
    assert meta == own
    crops = real_crops(meta.preprocessing, detector_path, sample_video)
    ours, theirs = LivenessScorer(model)(crops, True, meta.threshold), scorer(crops, True, meta.threshold)
    np.testing.assert_allclose(theirs.scores, ours.scores, atol=1e-5)
    np.testing.assert_allclose(theirs.cams, ours.cams, atol=1e-4)


def test_pipeline_gives_the_same_verdicts_in_both_engines(exported, detector_path, sample_video) -> None:
    checkpoint, _ = exported
    engines = {name: LoadedModel.open(checkpoint, "cpu", name) for name in ("torch", "onnx")}
    assert {m.backend for m in engines.values()} == {"torch", "onnx"}
    results = {}
    with FaceDetector(detector_path) as detector:
        for name, model in engines.items():
            source, pipeline = VideoFileSource(sample_video, loop=False), Pipeline(detector, model, heatmap=True)
            results[name] = [pipeline.process(source.read(), i * 33) for i in range(8)]
            source.close()
    for torch_result, onnx_result in zip(results["torch"], results["onnx"]):
        assert [f.verdict for f in torch_result.faces] == [f.verdict for f in onnx_result.faces]
        for a, b in zip(torch_result.faces, onnx_result.faces):
            assert a.score == pytest.approx(b.score, abs=1e-5)
            np.testing.assert_allclose(a.heatmap, b.heatmap, atol=1e-4)


# -- the engine choice -----------------------------------------------------------------------------------
def test_auto_measures_both_engines_and_an_onnx_file_always_runs_in_onnx_runtime(tmp_path: Path) -> None:
    assert choose_backend(tmp_path / "m.pt", "auto", "auto")[0] == "race"  # both installed: measured at load
    assert choose_backend(tmp_path / "m.pt", "torch")[0] == "torch"
    engine, reason = choose_backend(tmp_path / "m.onnx", "torch")
    assert engine == "onnx" and "ONNX file" in reason
    with pytest.raises(ValueError, match="backend must be one of"):
        choose_backend(tmp_path / "m.pt", "tensorrt")


def test_without_torch_a_checkpoint_is_refused_with_the_way_out(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(backend_module, "installed", lambda module: module != "torch")
    with pytest.raises(ModelLoadError, match="m.pt is a PyTorch checkpoint.*liveness-export"):
        choose_backend(tmp_path / "m.pt", "auto")
    assert choose_backend(tmp_path / "m.onnx", "auto")[0] == "onnx"


def test_a_checkpoint_runs_in_onnx_runtime_through_its_sibling_or_a_cached_export(exported, tmp_path) -> None:
    checkpoint, onnx_path = exported
    beside = LoadedModel.open(checkpoint, "cpu", "onnx", cache_dir=tmp_path / "cache")
    assert beside.backend == "onnx" and beside.path == checkpoint and onnx_path.name in beside.reason
    assert not list((tmp_path / "cache").glob("*.onnx"))  # the sibling was the export of this very file
    other = make_checkpoint(tmp_path / "small.pt", input_size=64, seed=3)  # a different model, same name
    (tmp_path / "small.onnx").write_bytes(onnx_path.read_bytes())  # ... beside a stale export
    fresh = LoadedModel.open(other, "cpu", "onnx", cache_dir=tmp_path / "cache")
    cached = list((tmp_path / "cache").glob("small-*.onnx"))
    assert len(cached) == 1 and cached[0].name in fresh.reason
    again = LoadedModel.open(other, "cpu", "onnx", cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").glob("small-*.onnx")) == cached and cached[0].name in again.reason  # once


def test_a_model_with_lbp_fusion_is_refused_by_the_exporter_and_auto_scores_it_in_pytorch(tmp_path: Path) -> None:
    spec = PreprocessSpec(64, 0.25, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    from liveness_app.core.model import ModelMeta

    path = tmp_path / "lbp.pt"
    save_checkpoint(
        path,
        build_model(lbp_grid=2, spec=spec),
        ModelMeta("mobilenet_v3_large", spec, model_args={"dropout": 0.2, "lbp_grid": 2}),
    )
    with pytest.raises(ExportError, match="lbp.pt: models with colour-LBP fusion"):
        export_onnx(path, tmp_path / "lbp.onnx")
    assert not (tmp_path / "lbp.onnx").exists()
    auto = LoadedModel.open(path, "cpu", "auto", cache_dir=tmp_path / "cache")
    assert auto.backend == "torch" and "colour-LBP" in auto.reason  # auto falls back, saying why
    with pytest.raises(ModelLoadError, match="cannot run it in ONNX Runtime: lbp.pt: models with colour-LBP"):
        LoadedModel.open(path, "cpu", "onnx", cache_dir=tmp_path / "cache")


# -- hostile files ---------------------------------------------------------------------------------------
def _foreign_graph(path: Path, metadata: dict | None = None, size: int = 64) -> Path:
    """A valid ONNX graph that is not ours (a plain Identity), optionally claiming our metadata."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, size, size])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 3, size, size])
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "foreign", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    if metadata is not None:
        helper.set_model_props(model, {META_KEY: json.dumps(metadata)})
    onnx.save(model, path)
    return path


def test_hostile_onnx_files_are_refused_in_words(exported, tmp_path: Path) -> None:
    _, good = exported
    meta = json.loads({p.key: p.value for p in onnx.load(good).metadata_props}[META_KEY])
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(good.read_bytes()[:50_000])
    cases = {
        corrupt: "corrupt.onnx: not a readable ONNX model",
        _foreign_graph(tmp_path / "foreign.onnx"): "not a Liveness Studio one",
        _foreign_graph(tmp_path / "claims.onnx", meta): "inputs .* are not",
        _foreign_graph(tmp_path / "badmeta.onnx", {**meta, "threshold": 7}): "badmeta.onnx: .*not a probability",
        _foreign_graph(tmp_path / "notmap.onnx", [1, 2]): "not a mapping",
        tmp_path / "missing.onnx": "missing.onnx: no such file",
    }
    for path, message in cases.items():
        with pytest.raises(ModelLoadError, match=message):
            LoadedModel.open(path, "cpu", "auto")


def test_export_command(exported, tmp_path: Path, capsys) -> None:
    checkpoint, _ = exported
    out = tmp_path / "cli.onnx"
    assert export_main(["--model", str(checkpoint), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    stages = [line for line in captured.err.splitlines() if line.startswith("[")]  # a minute is not silent
    assert [s[:5] for s in stages] == ["[1/3]", "[2/3]", "[3/3]"] and all(s.endswith(" s") for s in stages), stages
    line = captured.out.strip()
    assert line.startswith(f"wrote {out}") and "scores within" in line and "[torch.onnx]" not in line
    assert load_onnx(out)[1].name == "small"
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    assert export_main(["--model", str(tmp_path / "junk.pt"), "--out", str(tmp_path / "junk.onnx")]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("liveness-export: error: junk.pt")
    assert export_main(["--model", str(checkpoint), "--out", str(tmp_path / "x.pt")]) == 2


def test_the_onnx_backend_needs_no_torch(tmp_path: Path) -> None:
    """What the lean bundle runs: the self-test on the shipped ONNX model with torch (and training)
    unimportable."""
    import subprocess

    code = (
        "import sys; sys.modules.update(dict.fromkeys(['torch', 'torchvision', 'training'])); "
        "from liveness_app import selftest; import liveness_app.core.pipeline; "
        f"status = selftest.run(model_path=__import__('pathlib').Path({str(ROOT / 'models' / 'default.onnx')!r})); "
        "assert sys.modules['torch'] is None; sys.exit(status)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "LIVENESS_STUDIO_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SELF-TEST OK" in done.stdout and "ONNX Runtime" in done.stdout
