"""The active model on its own: what its signals say about loading, device, engine and threshold, and where
each threshold comes from. A fake model opener (no file is read, nothing scores) and no face detector."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS  # noqa: E402

from liveness_app import paths  # noqa: E402
from liveness_app.core.meta import ModelLoadError  # noqa: E402
from liveness_app.core.threshold import Threshold, ThresholdSource  # noqa: E402
from liveness_app.gui.active_model import ActiveModel  # noqa: E402
from liveness_app.gui.model_loader import LoadFailure  # noqa: E402
from liveness_app.gui.settings import AppSettings  # noqa: E402

pytestmark = pytest.mark.gui
MODEL_THRESHOLD = 0.37


@dataclass
class FakeModel:
    """What the active model reads of a loaded model."""

    path: Path
    device: str
    backend: str
    meta: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(threshold=MODEL_THRESHOLD, name="fake"))
    reason: str = "a fake"

    def describe(self) -> str:
        return f"{self.device} ({self.backend})"


class FakeOpener:
    """Opens any path whose name does not start with "bad"; records where (and on which thread) it ran."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.threads: list[int] = []
        self.refuse_device: str | None = None

    def __call__(self, path: Path, device: str, backend: str) -> FakeModel:
        self.calls.append((path.name, device, backend))
        self.threads.append(threading.get_ident())
        if path.name.startswith("bad") or device == self.refuse_device:
            raise ModelLoadError(f"{path.name} is not a Liveness Studio model")
        return FakeModel(path, device, backend)


@pytest.fixture
def opener() -> FakeOpener:
    return FakeOpener()


@pytest.fixture
def active(qtbot, settings_store, opener) -> Iterator[ActiveModel]:
    model = ActiveModel(None, AppSettings(settings_store), device="cpu", opener=opener)
    yield model
    model.close()


def _activate(qtbot, active: ActiveModel, path: Path, **kwargs: object) -> FakeModel:
    with qtbot.waitSignal(active.model_changed, timeout=TIMEOUT_MS) as changed:
        active.activate(path, **kwargs)
    return changed.args[0]


# -- loading -----------------------------------------------------------------------------------------------
def test_a_model_is_loaded_off_the_gui_thread_and_announced(qtbot, active, opener, tmp_path) -> None:
    shown: list[Threshold] = []
    active.threshold_changed.connect(shown.append)
    with qtbot.waitSignal(active.load_started, timeout=TIMEOUT_MS) as started:
        active.activate(tmp_path / "m.pt")
    assert started.args == [tmp_path / "m.pt"] and active.loading
    qtbot.waitSignal(active.model_changed, timeout=TIMEOUT_MS).wait()
    assert active.model.path == tmp_path / "m.pt"
    qtbot.waitUntil(lambda: not active.loading, timeout=TIMEOUT_MS)  # once the loader's thread has ended
    assert opener.calls == [("m.pt", "cpu", "auto")] and opener.threads[0] != threading.get_ident()
    assert shown == [Threshold.of_model(MODEL_THRESHOLD)] and active.threshold == shown[0]
    assert active.settings.last_model == (tmp_path / "m.pt").resolve()
    assert active.pipeline is None  # no face detector: nothing scores, the model is still the active one


def test_a_refused_file_is_said_with_its_exception_and_the_model_in_use_stays(qtbot, active, tmp_path) -> None:
    good = _activate(qtbot, active, tmp_path / "good.pt")
    changed: list = []
    active.model_changed.connect(changed.append)
    with qtbot.waitSignal(active.load_failed, timeout=TIMEOUT_MS) as failed:
        active.activate(tmp_path / "bad.pt", quiet=True)
    failure = failed.args[0]
    assert isinstance(failure, LoadFailure) and isinstance(failure.error, ModelLoadError)
    assert failure.path == tmp_path / "bad.pt" and failure.request.quiet and failure.instead is None
    assert failure.message == "bad.pt is not a Liveness Studio model"
    assert active.model is good and not changed


def test_at_start_up_a_refused_model_falls_back_to_the_default(qtbot, active, tmp_path, monkeypatch) -> None:
    default = tmp_path / "default.pt"
    default.write_bytes(b"x")
    monkeypatch.setattr(paths, "default_model_path", lambda: default)
    with qtbot.waitSignals([active.load_failed, active.model_changed], timeout=TIMEOUT_MS, order="strict") as both:
        assert active.load_startup(tmp_path / "bad.pt", threshold=None)
    failure = both.all_signals_and_args[0].args[0]
    assert failure.path == tmp_path / "bad.pt" and failure.instead == default and not failure.request.quiet
    assert active.model.path == default


def test_nothing_to_load_at_start_up(active, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(paths, "default_model_path", lambda: tmp_path / "none.pt")
    assert not active.load_startup(None) and not active.loading and active.model is None


# -- device and engine -------------------------------------------------------------------------------------
def test_a_device_switch_reloads_there_and_keeps_the_threshold_in_use(qtbot, active, opener, tmp_path) -> None:
    _activate(qtbot, active, tmp_path / "m.pt")
    active.set_threshold(0.6)
    with qtbot.waitSignals([active.device_changed, active.model_changed], timeout=TIMEOUT_MS) as both:
        assert active.set_device("auto")
    assert both.all_signals_and_args[0].args == ("auto",)
    assert opener.calls[-1] == ("m.pt", "auto", "auto") and active.device_preference == "auto"
    assert active.settings.device == "auto"
    assert active.threshold == Threshold(0.6, ThresholdSource.HAND)
    assert not active.set_device("tpu") and not active.set_backend("tpu")


def test_a_failed_device_switch_keeps_the_old_device_and_model(qtbot, active, opener, tmp_path) -> None:
    model = _activate(qtbot, active, tmp_path / "m.pt")
    opener.refuse_device = "cuda"
    devices: list[str] = []
    active.device_changed.connect(devices.append)
    with qtbot.waitSignal(active.load_failed, timeout=TIMEOUT_MS) as failed:
        active.set_device("cuda")
    assert failed.args[0].request.device == "cuda"
    assert active.device_preference == "cpu" and active.model is model and not devices


def test_without_a_model_a_device_or_engine_is_only_remembered(qtbot, active, opener) -> None:
    with qtbot.waitSignal(active.backend_changed, timeout=TIMEOUT_MS) as changed:
        assert active.set_backend("onnx")
    assert changed.args == ["onnx"] and active.settings.backend == "onnx" and not opener.calls
    with qtbot.waitSignal(active.device_changed, timeout=TIMEOUT_MS):
        assert active.set_device("auto")
    assert active.device_preference == "auto" and not active.loading


# -- where the threshold comes from ------------------------------------------------------------------------
def test_a_threshold_set_by_hand_is_remembered_and_the_models_own_is_not(qtbot, active, tmp_path) -> None:
    model = _activate(qtbot, active, tmp_path / "m.pt")
    with qtbot.waitSignal(active.threshold_changed, timeout=TIMEOUT_MS) as changed:
        active.set_threshold(0.6)
    assert changed.args == [Threshold(0.6, ThresholdSource.HAND)]
    assert active.settings.threshold_override(model.path) == 0.6
    with qtbot.waitSignal(active.threshold_changed, timeout=TIMEOUT_MS) as changed:
        active.set_threshold(0.370)  # what Reset (or typing the model's value) sets
    assert changed.args == [Threshold.of_model(MODEL_THRESHOLD)]
    assert active.settings.threshold_override(model.path) is None

    active.set_threshold(0.42)  # the next time this model is loaded, it is the user's setting again
    assert _reload(qtbot, active, model.path).threshold == Threshold(0.42, ThresholdSource.HAND)


def _reload(qtbot, active: ActiveModel, path: Path) -> ActiveModel:
    _activate(qtbot, active, path.with_name("other.pt"))
    _activate(qtbot, active, path)
    return active


def test_a_threshold_given_for_this_run_is_applied_not_remembered(qtbot, active, tmp_path) -> None:
    model = _activate(qtbot, active, tmp_path / "m.pt", threshold=0.3)
    assert active.threshold == Threshold.for_run(0.3) and active.threshold.describe() == "set for this run"
    assert active.settings.threshold_override(model.path) is None
    active.set_camera("camera 1")  # no calibration for either camera: the run's threshold stays
    assert active.threshold == Threshold.for_run(0.3)


def test_a_calibration_belongs_to_its_camera(qtbot, active, tmp_path) -> None:
    model = _activate(qtbot, active, tmp_path / "m.pt")
    active.set_camera("camera 0")
    with qtbot.waitSignal(active.threshold_changed, timeout=TIMEOUT_MS) as changed:
        active.calibrate_camera(0.123, "EER on your sessions", "2026-12-01")
    calibrated = changed.args[0]
    assert calibrated.source is ThresholdSource.CAMERA and calibrated.value == 0.123
    assert calibrated.describe() == "calibrated to camera 0 (EER on your sessions, 2026-12-01)"

    active.set_camera("camera 1")
    assert active.threshold == Threshold.of_model(MODEL_THRESHOLD)
    active.set_camera("camera 0")
    assert active.threshold == calibrated
    assert _reload(qtbot, active, model.path).threshold == calibrated  # remembered for this model and camera

    active.set_threshold(0.5)  # the user takes over from the calibration
    assert active.threshold.source is ThresholdSource.HAND
    assert active.settings.camera_threshold(model.path, "camera 0") is None


def test_no_calibration_without_a_model_or_a_camera(qtbot, active, tmp_path) -> None:
    active.calibrate_camera(0.2, "EER", "2026-12-01")  # no model yet
    _activate(qtbot, active, tmp_path / "m.pt")
    active.calibrate_camera(0.2, "EER", "2026-12-01")  # no source yet
    assert active.threshold == Threshold.of_model(MODEL_THRESHOLD)
