"""*Auto* keeps the engine that scores faster on this machine, measured at load (``backends.race``); the
timings here come from a fake clock, so no test depends on the machine's speed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from liveness_app.core.backends import race
from liveness_app.core.backends.factory import LoadedModel
from liveness_app.core.backends.onnx_copies import ExportUnavailable
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
