"""Models in the window: unusable files refused (from the menu, at start-up, from the open dialog) with the
current model kept, the threshold control, and snapshots. Offscreen, tiny models on the CPU."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import torch

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS, garbage_model, wait_result  # noqa: E402

from liveness_app import paths  # noqa: E402
from liveness_app.gui import dialogs  # noqa: E402
from studio_fakes import make_checkpoint  # noqa: E402

pytestmark = pytest.mark.gui


# -- models ----------------------------------------------------------------------------------------------
def _foreign_pickle(path: Path) -> Path:
    torch.save({"weights": torch.zeros(3), "epoch": 3}, path)
    return path


def _mismatched(path: Path) -> Path:
    data = torch.load(make_checkpoint(path), weights_only=True)
    data["state_dict"].pop(next(iter(data["state_dict"])))
    torch.save(data, path)
    return path


@pytest.mark.parametrize("make_bad", [garbage_model, _foreign_pickle, _mismatched])
def test_unusable_model_is_refused_and_current_stays(qtbot, make_window, warnings_shown, make_bad) -> None:
    bad = make_bad(paths.user_models_dir() / "bad.pt")
    window = make_window()
    window.model_views.refresh_menu()
    with qtbot.waitSignal(window.active_model.load_failed, timeout=TIMEOUT_MS):
        window.model_menu.action_for(bad).trigger()

    assert len(warnings_shown) == 1 and "bad.pt" in warnings_shown[0]
    assert window.active_model.pipeline.model.meta.name == "tiny"
    assert window.model_menu.action_for(window.active_model.model.path).isChecked()
    assert not window.model_menu.action_for(bad).isChecked()
    wait_result(qtbot, window, lambda r: r.model_name == "tiny")


def test_a_refused_model_at_start_up_falls_back_to_the_bundled_default(
    qtbot, make_window, warnings_shown, tmp_path
) -> None:
    window = make_window(model=garbage_model(tmp_path / "corrupt.pt"))
    qtbot.waitUntil(lambda: window.active_model.model is not None, timeout=TIMEOUT_MS)
    assert window.active_model.model.path == paths.default_model_path()
    assert "corrupt.pt" in warnings_shown[0] and "default.pt is loaded instead" in warnings_shown[0]


def test_unusable_model_at_start_up_leaves_a_running_window(
    qtbot, make_window, warnings_shown, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(paths, "default_model_path", lambda: tmp_path / "no-default.pt")  # nothing to fall back to
    window = make_window(model=garbage_model(tmp_path / "corrupt.pt"))
    qtbot.waitUntil(lambda: bool(warnings_shown), timeout=TIMEOUT_MS)  # shown once the window is up
    assert "corrupt.pt" in warnings_shown[0] and "without verdicts" in warnings_shown[0]
    assert window.active_model.model is None and window.active_model.pipeline is None
    assert window.model_panel.field("Name") == "no model loaded"
    assert not window.threshold.isEnabled()
    qtbot.waitUntil(lambda: "no model" in window.status.stats_label.text(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.view.painted > 0, timeout=TIMEOUT_MS)  # the video still plays

    with qtbot.waitSignal(window.active_model.model_changed, timeout=TIMEOUT_MS):  # and scoring starts
        window.active_model.activate(make_checkpoint(tmp_path / "good.pt", name="good"))
    assert wait_result(qtbot, window).model_name == "good"


def test_open_model_dialog_refuses_a_foreign_file(qtbot, make_window, warnings_shown, tmp_path, monkeypatch) -> None:
    foreign = _foreign_pickle(tmp_path / "foreign.pt")
    monkeypatch.setattr(dialogs, "ask_model_file", lambda parent, start: foreign)
    window = make_window()
    with qtbot.waitSignal(window.active_model.load_failed, timeout=TIMEOUT_MS):
        window.model_menu.open_action.trigger()
    assert len(warnings_shown) == 1 and "not a Liveness Studio model" in warnings_shown[0]
    assert window.active_model.model.meta.name == "tiny"


def test_threshold_control_defaults_to_the_models_and_resets(qtbot, make_window, tmp_path) -> None:
    model = make_checkpoint(tmp_path / "calibrated.pt", threshold=0.37, name="calibrated")
    window = make_window(model=model)
    assert window.threshold.value == pytest.approx(0.37)
    assert window.active_model.pipeline.threshold == pytest.approx(0.37)
    assert not window.threshold.reset_button.isEnabled()

    window.threshold.spin.setValue(0.6)
    assert window.active_model.pipeline.threshold == pytest.approx(0.6)
    wait_result(qtbot, window, lambda r: r.threshold == pytest.approx(0.6))
    window.threshold.reset_button.click()
    assert window.active_model.pipeline.threshold == pytest.approx(0.37)
    assert window.settings.threshold_override(model) is None


def test_snapshot_writes_png(qtbot, make_window) -> None:
    window = make_window()
    wait_result(qtbot, window)
    qtbot.waitUntil(lambda: window.view.current_image() is not None, timeout=TIMEOUT_MS)
    window.menu_actions.snapshot.trigger()
    shots = list((paths.user_data_dir() / "snapshots").glob("*.png"))
    assert len(shots) == 1
    image = cv2.imread(str(shots[0]))
    assert image is not None and image.shape == (480, 640, 3)
    assert str(shots[0]) in window.status.currentMessage()
