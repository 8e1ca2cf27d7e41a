"""Adapt to my camera, offscreen and CI-sized: the guided dialog records, calibrates, fine-tunes and offers to
switch; a threshold calibrated to a camera applies to that camera only and leaves the model file as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS, TINY, TRAIN_TIMEOUT_MS, click, wait_result  # noqa: E402
from PyQt6.QtWidgets import QDialog  # noqa: E402

pytestmark = pytest.mark.gui


def test_adapt_to_my_camera_records_calibrates_fine_tunes_and_offers_to_switch(qtbot, window) -> None:
    wait_result(qtbot, window)
    window.model_menu.adapt_action.trigger()  # the menu entry opens the guided flow
    menu_dialog = next(w for w in window.findChildren(QDialog) if w.windowTitle() == "Adapt to my camera")
    menu_dialog.close()
    dialog = window.open_adapt_dialog(part_seconds=(0.5, 0.35, 0.35), recipe={**TINY, "epochs": 1, "epoch_size": 16})
    assert not dialog.adapt_button.isEnabled() and not dialog.skip_button.isEnabled()  # live cannot be skipped
    dialog.sample_warning.go_on.setChecked(True)  # the bundled sample plays: a try-out (test_adapt_progress.py)
    for action in ("record", "skip", "record", "skip"):  # live; no phone; a print; no screen
        step = dialog._step
        click(qtbot, dialog.skip_button if action == "skip" else dialog.record_button)
        qtbot.waitUntil(lambda: dialog._step == step + 1, timeout=TIMEOUT_MS)
    assert [len(dialog.recorded[label]) for label in ("live", "print")] == [3, 3]
    assert len(window.recording_panel.sessions()) == 6  # listed in the Recording panel like any other
    train, held = dialog.samples()
    assert len(train) == 4 and len(held) == 2 and {s.label for s in held} == {"live", "print"}

    assert dialog.adapt_button.isEnabled()
    click(qtbot, dialog.adapt_button)
    assert dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.outcome is not None and not dialog.is_busy, timeout=TRAIN_TIMEOUT_MS)
    assert dialog.result_label.text() == dialog.outcome["headline"] and not dialog.table.isHidden()
    assert dialog.table.cell("adapted", "acer").endswith("%") and dialog.progress.value() == dialog.progress.maximum()
    assert dialog.progress_label.text().startswith("Done in ")
    assert {"before", "calibrated", "adapted", "sentence"} <= set(dialog.outcome)
    assert not dialog.use_model_button.isHidden()
    choices = {
        "adapted": dialog.use_model_button,
        "calibrated": dialog.use_threshold_button,
        "kept": dialog.keep_button,
    }
    assert [c for c, b in choices.items() if b.isDefault()] == [dialog.outcome["chosen"]]  # one is recommended
    assert choices[dialog.outcome["chosen"]].text().endswith("(recommended)")

    with qtbot.waitSignal(window.active_model.model_changed, timeout=TIMEOUT_MS) as changed:
        click(qtbot, dialog.use_model_button)
    assert changed.args[0].path == dialog.outcome["model_path"]


def test_a_threshold_calibrated_to_a_camera_is_remembered_for_that_camera_only(
    qtbot, window, sample_video, tmp_path
) -> None:
    model = window.active_model.model
    window.active_model.calibrate_camera(0.123, "EER on your sessions", "2026-12-01")
    assert window.active_model.pipeline.threshold == pytest.approx(0.123)
    assert "calibrated to sample.mp4" in window.threshold.spin.toolTip()
    assert window.settings.camera_threshold(model.path, "sample.mp4")["threshold"] == pytest.approx(0.123)
    other = tmp_path / "other.mp4"
    other.write_bytes(sample_video.read_bytes())
    window.open_source(str(other))  # another camera: the model's own threshold
    assert window.active_model.pipeline.threshold == pytest.approx(model.meta.threshold)
    window.open_source(str(sample_video))  # back: the calibration for this camera
    assert window.active_model.pipeline.threshold == pytest.approx(0.123)
    assert load_checkpoint_threshold(model.path) == pytest.approx(model.meta.threshold)  # the file is untouched


def load_checkpoint_threshold(path: Path) -> float:
    from liveness_app.core.model import load_checkpoint

    return load_checkpoint(path)[1].threshold
