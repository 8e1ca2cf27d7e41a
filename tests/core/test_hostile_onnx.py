"""ONNX files built to hurt: external data that reads the user's files, loops that never end, graphs that
swell to gigabytes, copies of a checkpoint that lie about what they compute, and scores that are not
probabilities. Each is refused before it can do harm, in words, and the app keeps what it has."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from liveness_app.core.backends import onnx_guard
from liveness_app.core.backends.factory import LoadedModel
from liveness_app.core.backends.onnx_copies import RECORD_NAME, SHIPPED_RECORD
from liveness_app.core.backends.onnx_export import export_onnx
from liveness_app.core.backends.onnx_scorer import META_KEY
from liveness_app.core.files import file_sha256
from liveness_app.core.meta import ModelLoadError
from liveness_app.core.pipeline import Pipeline
from liveness_app.core.scores import ScoreOutput, ScoreRangeError, check_scores
from studio_fakes import make_checkpoint

ROOT = Path(__file__).resolve().parents[2]
SIZE = 64


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A small checkpoint, its export and the export's metadata (once per module: exporting takes seconds)."""
    folder = tmp_path_factory.mktemp("hostile-onnx")
    checkpoint = make_checkpoint(folder / "small.pt", input_size=SIZE, threshold=0.3, name="small")
    export_onnx(checkpoint, folder / "export.onnx")
    props = {p.key: p.value for p in onnx.load(folder / "export.onnx").metadata_props}
    return checkpoint, folder / "export.onnx", json.loads(props[META_KEY])


def _graph(path: Path, nodes: list, metadata: dict | None, initializers: list | None = None) -> Path:
    """A graph with our inputs and outputs built from ``nodes`` (which must produce ``score`` and ``cam``)."""
    io = (
        [
            helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, SIZE, SIZE]),
            helper.make_tensor_value_info("threshold", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("score", TensorProto.FLOAT, ["n"]),
            helper.make_tensor_value_info("cam", TensorProto.FLOAT, ["n", SIZE, SIZE]),
        ],
    )
    axes = [
        helper.make_tensor(f"axes{''.join(map(str, a))}", TensorProto.INT64, [len(a)], a) for a in ([0], [1], [1, 2, 3])
    ]  # opset 18: the reductions take their axes as an input
    graph = helper.make_graph(nodes, "hostile", *io, initializer=(initializers or []) + axes)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    if metadata is not None:
        helper.set_model_props(model, {META_KEY: json.dumps(metadata)})
    path.write_bytes(model.SerializeToString())
    return path


def _constant_live(path: Path, metadata: dict, value: float = 1.0) -> Path:
    """Answers ``value`` for every face (``cam`` all zero), whatever it is shown."""
    nodes = [
        helper.make_node("ReduceMean", ["input", "axes123"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["z", "value"], ["score"]),
        helper.make_node("ReduceMean", ["input", "axes1"], ["c"], keepdims=0),
        helper.make_node("Mul", ["c", "zero"], ["cam"]),
    ]
    return _graph(
        path,
        nodes,
        metadata,
        [
            helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
            helper.make_tensor("value", TensorProto.FLOAT, [], [value]),
        ],
    )


def test_a_graph_with_external_data_is_refused_before_onnx_runtime_opens_it(pair, tmp_path, monkeypatch) -> None:
    _, _, meta = pair
    secret = tmp_path / "sub" / ".ssh" / "id_rsa"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(b"\0" * 16)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [4], [0.0] * 4)
    weight.data_location = TensorProto.EXTERNAL
    weight.ClearField("float_data")
    weight.external_data.add(key="location", value="sub/.ssh/id_rsa")
    path = _constant_live(tmp_path / "reads.onnx", meta)
    model = onnx.load(path)
    model.graph.initializer.append(weight)
    path.write_bytes(model.SerializeToString())
    import onnxruntime

    monkeypatch.chdir(tmp_path)  # where the relative location would be read from
    monkeypatch.setattr(onnxruntime, "InferenceSession", lambda *a, **k: pytest.fail("ONNX Runtime opened it"))
    with pytest.raises(ModelLoadError, match="reads.onnx: its weights point to external data .*sub/.ssh/id_rsa"):
        LoadedModel.open(path, "cpu", "auto")


@pytest.mark.parametrize("op", ["Loop", "Scan", "If", "custom.Evil"])
def test_loops_subgraphs_and_custom_operators_are_refused(pair, tmp_path, op) -> None:
    _, _, meta = pair
    domain, _, name = op.rpartition(".")
    path = _constant_live(tmp_path / "op.onnx", meta)
    model = onnx.load(path)
    model.graph.node.append(helper.make_node(name, ["input"], ["extra"], domain=domain))
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelLoadError, match=f"uses the operator '{op}'"):
        LoadedModel.open(path, "cpu", "auto")


def test_a_trial_run_that_does_not_finish_is_abandoned(pair) -> None:
    """A bound on a hang, not a speed: the child is given no time at all, so it must be abandoned."""
    _, good, _ = pair
    with pytest.raises(ModelLoadError, match="did not finish a trial run"):
        onnx_guard.trial_run(good.read_bytes(), "slow.onnx", SIZE, 1, timeout_s=0.001)


@pytest.mark.skipif(sys.platform != "linux", reason="the memory limit is enforced on Linux only")
def test_a_graph_that_swells_to_gigabytes_is_refused(pair, tmp_path) -> None:
    _, _, meta = pair
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1 << 16, 1 << 16])  # 16 GiB of float32
    nodes = [
        helper.make_node("ReduceMean", ["input", "axes123"], ["m"], keepdims=0),
        helper.make_node("Expand", ["m", "shape"], ["huge"]),
        helper.make_node("ReduceMean", ["huge", "axes0"], ["score"], keepdims=0),
        helper.make_node("ReduceMean", ["input", "axes1"], ["cam"], keepdims=0),
    ]
    path = _graph(tmp_path / "swells.onnx", nodes, meta, [shape])
    with pytest.raises(ModelLoadError, match="swells.onnx: .*(memory|fails on a trial input)"):
        LoadedModel.open(path, "cpu", "auto")


def test_a_graph_that_is_sensible_only_on_a_blank_face_is_refused(pair, tmp_path) -> None:
    _, _, meta = pair
    nodes = [
        helper.make_node("Abs", ["input"], ["a"]),
        helper.make_node("ReduceMax", ["a", "axes123"], ["score"], keepdims=0),  # 0 on a blank face
        helper.make_node("ReduceMean", ["a", "axes1"], ["c"], keepdims=0),
        helper.make_node("Mul", ["c", "zero"], ["cam"]),
    ]
    path = _graph(tmp_path / "wild.onnx", nodes, meta, [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])])
    with pytest.raises(ModelLoadError, match="wild.onnx: .*not 1 probabilities"):
        LoadedModel.open(path, "cpu", "auto")


def test_scores_outside_0_1_stop_scoring_at_run_time(tiny_model, detector_path, sample_video) -> None:
    assert check_scores(np.array([0.0, 1.0]), 2).dtype == np.float32
    for bad in ([22.8], [float("nan")], [-0.1], [0.5, 0.5]):
        with pytest.raises(ScoreRangeError, match="not probabilities"):
            check_scores(np.array(bad), 1)
    from liveness_app.core.camera import VideoFileSource
    from liveness_app.core.face import FaceDetector

    model = LoadedModel.open(tiny_model, "cpu", "torch")
    wild = lambda batch, with_cam=False, threshold=0.5: ScoreOutput(np.full(len(batch), 22.8, np.float32), None)  # noqa: E731
    object.__setattr__(model, "scorer", type("Wild", (), {"__call__": staticmethod(wild), "backend": "torch"})())
    video = VideoFileSource(sample_video)
    with FaceDetector(detector_path) as detector:
        pipeline = Pipeline(detector, model)
        with pytest.raises(ScoreRangeError):
            for i in range(30):
                pipeline.process(video.read(), i * 33)
    video.close()


def test_a_sibling_that_lies_about_its_source_is_not_used(pair, tmp_path) -> None:
    checkpoint, good, meta = pair
    own = make_checkpoint(tmp_path / "mine.pt", input_size=SIZE, threshold=0.3, name="mine", seed=5)
    digest = file_sha256(own)
    lying = {**meta, "onnx": {**meta["onnx"], "source_sha256": digest}}
    _constant_live(tmp_path / "mine.onnx", lying)  # always "live", claiming to be mine.pt's export
    cache = tmp_path / "cache"
    model = LoadedModel.open(own, "cpu", "onnx", cache_dir=cache)
    assert "mine.onnx" not in model.reason and list(cache.glob("mine-*.onnx"))  # a fresh export instead
    reference = LoadedModel.open(own, "cpu", "torch")
    x = np.random.default_rng(1).standard_normal((2, 3, SIZE, SIZE)).astype(np.float32)
    np.testing.assert_allclose(model.scorer(x).scores, reference.scorer(x).scores, atol=1e-4)
    assert model.meta.threshold == pytest.approx(0.3) and model.meta.name == "mine"


def test_another_networks_export_with_the_right_hash_is_not_used(pair, tmp_path) -> None:
    _, _, _ = pair
    v3 = make_checkpoint(tmp_path / "v3.pt", input_size=SIZE, threshold=0.3, name="v3", seed=2)
    other = make_checkpoint(tmp_path / "other.pt", input_size=SIZE, threshold=0.8, name="other", seed=7)
    export_onnx(other, tmp_path / "v3.onnx", source_sha256=file_sha256(v3))  # another network, v3's hash
    model = LoadedModel.open(v3, "cpu", "onnx", cache_dir=tmp_path / "cache")
    assert "v3.onnx," not in model.reason + "," and model.meta.threshold == pytest.approx(0.3)


def test_a_corrupt_cached_copy_is_exported_again(pair, tmp_path) -> None:
    checkpoint, _, _ = pair
    cache = tmp_path / "cache"
    first = LoadedModel.open(checkpoint, "cpu", "onnx", cache_dir=cache)
    (copy,) = cache.glob("small-*.onnx")
    copy.write_bytes(copy.read_bytes()[:1000])  # damaged
    again = LoadedModel.open(checkpoint, "cpu", "onnx", cache_dir=cache)
    assert again.backend == "onnx" and copy.stat().st_size > 100_000 and again.meta == first.meta
    assert file_sha256(copy) in (cache / RECORD_NAME).read_text()


def test_the_shipped_record_names_the_shipped_exports() -> None:
    """models/onnx-copies.json lets the app trust models/*.onnx without a comparison at every start; it
    must name exactly the shipped pairs (liveness-export updates it when it writes into models/)."""
    record = json.loads((ROOT / "models" / SHIPPED_RECORD).read_text())
    for checkpoint in (ROOT / "models").glob("*.pt"):
        exported = checkpoint.with_suffix(".onnx")
        assert file_sha256(exported) in record.get(file_sha256(checkpoint), []), (
            f"liveness-export --model {checkpoint} --out {exported}"
        )
        onnx_guard.trial_run(exported.read_bytes(), exported.name, 128, 1, reference=checkpoint)


def test_closing_the_app_abandons_a_trial_in_flight(pair) -> None:
    """A window that closes while a hostile graph is on trial must not wait for the trial's time limit."""
    import threading

    _, good, _ = pair
    failure: list[BaseException] = []

    def trial() -> None:
        try:
            onnx_guard.trial_run(good.read_bytes(), "long.onnx", SIZE, 1, timeout_s=600)
        except ModelLoadError as exc:
            failure.append(exc)

    import multiprocessing
    import time

    thread = threading.Thread(target=trial)
    thread.start()
    deadline = time.monotonic() + 60
    while not multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.005)  # until the trial's child exists
    onnx_guard.abort_trials()  # what the window's model loader calls on close
    thread.join(60)  # a bound on a hang: the trial's own limit is ten minutes
    assert not thread.is_alive() and "cancelled" in str(failure[0])
    onnx_guard.trial_run(good.read_bytes(), "later.onnx", SIZE, 1)  # trials started later run as usual


def test_a_video_named_in_bytes_that_are_not_utf8_opens_without_crashing(tmp_path, sample_video) -> None:
    import os

    from liveness_app.core.camera import VideoFileSource

    try:
        odd = Path(os.fsdecode(bytes(tmp_path) + b"/clip-\xff.mp4"))
        odd.write_bytes(sample_video.read_bytes())
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    source = VideoFileSource(odd)
    assert source.read() is not None
    source.close()
