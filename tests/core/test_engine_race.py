"""*Auto* keeps the engine that scores faster on this machine, measured at load (``backends.race``); the
timings here come from a fake clock, so no test depends on the machine's speed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnxruntime
import pytest

from liveness_app.core.backends import factory, race
from liveness_app.core.backends.factory import LoadedModel
from liveness_app.core.backends.onnx_copies import ExportUnavailable
from liveness_app.core.backends.onnx_scorer import OnnxScorer, ProviderUnavailable
from liveness_app.core.backends.race import RaceMemory, fastest, time_scorer
from liveness_app.core.meta import ModelLoadError
from liveness_app.core.scores import ScoreOutput
from studio_fakes import make_checkpoint


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeScorer:
    """Advances the fake clock by ``ms`` a call; records the calls' shapes and Grad-CAM flags."""

    clock: FakeClock
    ms: float
    backend: str = "torch"
    device_type: str = "cpu"

    def __post_init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], bool]] = []

    def describe(self) -> str:
        return self.backend

    def __call__(self, batch: np.ndarray, with_cam: bool = False, threshold: float = 0.5) -> ScoreOutput:
        self.calls.append((batch.shape, with_cam))
        self.clock.now += self.ms / 1e3
        return ScoreOutput(np.full(len(batch), 0.5, np.float32), None)


@dataclass
class FakeModel:
    scorer: FakeScorer
    input_size: int = 64

    @property
    def meta(self):  # only what time_scorer reads
        class P:
            input_size = self.input_size

        class M:
            preprocessing = P()

        return M()


def test_a_scorer_is_warmed_up_then_timed_on_one_face_with_its_map() -> None:
    clock = FakeClock()
    model = FakeModel(FakeScorer(clock, 7.0))
    assert time_scorer(model, calls=5, clock=clock) == pytest.approx(7.0)  # type: ignore[arg-type]
    assert len(model.scorer.calls) == 6 and all(c == ((1, 3, 64, 64), True) for c in model.scorer.calls)


def test_the_faster_engine_is_kept_and_the_reason_gives_both_figures() -> None:
    clock = FakeClock()
    slow, quick = FakeModel(FakeScorer(clock, 9.0)), FakeModel(FakeScorer(clock, 2.5, backend="onnx"))
    timer = lambda m: time_scorer(m, clock=clock)  # noqa: E731
    model, name, reason = fastest([("PyTorch", lambda: slow), ("ONNX Runtime", lambda: quick)], timer)  # type: ignore[list-item]
    assert model is quick and name == "ONNX Runtime"
    assert reason.startswith("ONNX Runtime (auto: fastest here, 2.5 ms a face against PyTorch 9.0 ms")
    model, _, _ = fastest([("PyTorch", lambda: quick), ("ONNX Runtime", lambda: slow)], timer)  # type: ignore[list-item]
    assert model is quick  # whichever engine it is: the measurement decides, not the order


def test_an_engine_that_cannot_open_is_passed_over_and_named() -> None:
    clock = FakeClock()
    torch_model = FakeModel(FakeScorer(clock, 9.0))

    def no_export() -> LoadedModel:
        raise ExportUnavailable("this model fuses colour-LBP histograms")

    model, _, reason = fastest([("PyTorch", lambda: torch_model), ("ONNX Runtime", no_export)], lambda m: 1.0)  # type: ignore[list-item]
    assert model is torch_model and "ONNX Runtime could not open: this model fuses colour-LBP" in reason

    def broken() -> LoadedModel:
        raise ModelLoadError("bad.pt: not a checkpoint")

    with pytest.raises(ModelLoadError, match="not a checkpoint"):
        fastest([("PyTorch", broken), ("ONNX Runtime", no_export)])


def test_auto_opens_a_checkpoint_in_the_engine_it_measured_faster(tmp_path: Path) -> None:
    checkpoint = make_checkpoint(tmp_path / "small.pt", input_size=64, name="small")
    model = LoadedModel.open(checkpoint, "cpu", "auto", cache_dir=tmp_path / "cache")
    assert "measured at load" in model.reason and "ms a face against" in model.reason
    assert model.backend in ("torch", "onnx") and model.path == checkpoint
    out = model.scorer(np.zeros((2, 3, 64, 64), np.float32), with_cam=True)
    assert out.scores.shape == (2,)


def test_the_outcome_is_remembered_and_measured_again_when_the_model_changes(tmp_path: Path, monkeypatch) -> None:
    checkpoint = make_checkpoint(tmp_path / "small.pt", input_size=64, name="small")
    cache = tmp_path / "cache"
    first = LoadedModel.open(checkpoint, "cpu", "auto", cache_dir=cache)
    races: list[int] = []
    real = race.fastest
    monkeypatch.setattr(race, "fastest", lambda c: races.append(1) or real(c))
    again = LoadedModel.open(checkpoint, "cpu", "auto", cache_dir=cache)
    assert races == [] and again.backend == first.backend  # opened directly: no torch import for nothing
    assert again.reason.split(";")[0] == first.reason.split(";")[0]
    make_checkpoint(checkpoint, input_size=64, name="small2")  # a new file at the same path
    LoadedModel.open(checkpoint, "cpu", "auto", cache_dir=cache)
    assert races == [1]


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '{"k": {"engine": "TensorRT", "reason": "x"}}',
        '{"k": {"engine": "PyTorch", "reason": 5}}',
    ],
)
def test_a_corrupt_or_foreign_memory_is_ignored(tmp_path: Path, text: str) -> None:
    (tmp_path / "engine-race.json").write_text(text)
    memory = RaceMemory(tmp_path)
    assert memory.recall("k") is None
    memory.remember("k", "PyTorch", "PyTorch (auto: ...)")
    assert memory.recall("k") == ("PyTorch", "PyTorch (auto: ...)")


# -- ONNX Runtime's CUDA provider: a third candidate where it is listed, refused where it falls back ---------
CUDA_LISTED = ["CUDAExecutionProvider", "CPUExecutionProvider"]


class FakeSession:
    """What :class:`OnnxScorer` reads of a session: its thread count and the providers that run it."""

    def __init__(self, providers: list[str]) -> None:
        self.providers = providers

    def get_session_options(self) -> SimpleNamespace:
        return SimpleNamespace(intra_op_num_threads=2)

    def get_providers(self) -> list[str]:
        return self.providers


def test_an_onnx_scorer_says_which_provider_runs_it() -> None:
    on_cuda, on_cpu = OnnxScorer(FakeSession(CUDA_LISTED)), OnnxScorer(FakeSession(["CPUExecutionProvider"]))
    assert on_cuda.device_type == "cuda" and on_cuda.describe() == "cuda (ONNX Runtime)"
    assert on_cpu.device_type == "cpu" and on_cpu.describe() == "cpu x2 (ONNX Runtime)"


def _candidates(monkeypatch, listed: list[str]) -> list[list[str]]:
    """Lists the names each race is offered; the race itself is a fake that opens nothing."""
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: listed)
    seen: list[list[str]] = []
    fake = SimpleNamespace(path=Path("m.pt"), meta=None, scorer=FakeScorer(FakeClock(), 1.0), reason="fake")

    def race_names(candidates):
        seen.append([name for name, _ in candidates])
        return fake, candidates[0][0], "fake race"

    monkeypatch.setattr(race, "fastest", race_names)
    return seen


@pytest.mark.parametrize(
    ("listed", "device", "offered"),
    [
        (["CPUExecutionProvider"], "auto", ["PyTorch", "ONNX Runtime"]),  # the CPU build: as before
        (CUDA_LISTED, "cpu", ["PyTorch", "ONNX Runtime"]),  # the CPU was chosen
        (CUDA_LISTED, "auto", ["PyTorch", "ONNX Runtime", "ONNX Runtime (CUDA)"]),
        (CUDA_LISTED, "cuda", ["PyTorch", "ONNX Runtime", "ONNX Runtime (CUDA)"]),
    ],
)
def test_onnx_runtime_on_cuda_is_a_candidate_where_listed_and_the_cpu_not_chosen(
    tmp_path: Path, monkeypatch, listed: list[str], device: str, offered: list[str]
) -> None:
    seen = _candidates(monkeypatch, listed)
    (tmp_path / "m.pt").write_bytes(b"not opened: the race is a fake")
    LoadedModel.open(tmp_path / "m.pt", device, "auto", cache_dir=tmp_path / "cache")
    assert seen == [offered]


def test_a_remembered_cuda_winner_that_is_gone_or_fails_is_measured_again(tmp_path: Path, monkeypatch) -> None:
    model = tmp_path / "m.pt"
    model.write_bytes(b"not opened")
    memory = RaceMemory(tmp_path / "cache")
    memory.remember(memory.key(model, "auto"), "ONNX Runtime (CUDA)", "ONNX Runtime (CUDA) (auto: ...)")
    assert memory.recall(memory.key(model, "auto")) == ("ONNX Runtime (CUDA)", "ONNX Runtime (CUDA) (auto: ...)")
    seen = _candidates(monkeypatch, ["CPUExecutionProvider"])  # onnxruntime-gpu replaced by the CPU build
    LoadedModel.open(model, "auto", "auto", cache_dir=tmp_path / "cache")
    assert seen == [["PyTorch", "ONNX Runtime"]]

    memory.remember(memory.key(model, "auto"), "ONNX Runtime (CUDA)", "ONNX Runtime (CUDA) (auto: ...)")
    seen = _candidates(monkeypatch, CUDA_LISTED)  # listed, but its libraries are gone

    def no_cuda(path: Path, reason: str, cache_dir: Path | None, gpu: bool = False) -> LoadedModel:
        raise ProviderUnavailable("m.onnx: ONNX Runtime's CUDA provider did not start")

    monkeypatch.setattr(factory, "_open_onnx", no_cuda)
    LoadedModel.open(model, "auto", "auto", cache_dir=tmp_path / "cache")
    assert seen == [["PyTorch", "ONNX Runtime", "ONNX Runtime (CUDA)"]]


def test_a_cuda_provider_that_falls_back_to_the_cpu_is_passed_over_in_words(tmp_path: Path, monkeypatch) -> None:
    """ORT runs on the CPU when CUDA's libraries are missing; the race must not time that as CUDA."""
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: CUDA_LISTED)
    asked: list[list[str]] = []
    real_session = onnxruntime.InferenceSession

    def falls_back(data, options, providers):  # as ORT does without CUDA's libraries
        asked.append(list(providers))
        return real_session(data, options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(onnxruntime, "InferenceSession", falls_back)
    real = race.fastest
    monkeypatch.setattr(race, "fastest", lambda c: real(c, lambda m: 0.0 if m.backend == "onnx" else 1.0))
    checkpoint = make_checkpoint(tmp_path / "small.pt", input_size=64, name="small")
    model = LoadedModel.open(checkpoint, "auto", "auto")
    assert CUDA_LISTED in asked and ["CPUExecutionProvider"] in asked
    assert "ONNX Runtime (CUDA) could not open: " in model.reason and "CUDA provider did not start" in model.reason
    assert model.backend == "onnx" and model.device_type == "cpu"  # the CPU candidate, which did open
    assert model.scorer(np.zeros((2, 3, 64, 64), np.float32), with_cam=True).scores.shape == (2,)
