"""Adapt to my camera says what it is doing: a warning before recording the bundled sample video as "you,
live", a countdown while a take records, and the result as a small table with one sentence. Offscreen; every
wait bounds a hang, none measures a speed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS, click  # noqa: E402
from PyQt6.QtCore import Qt  # noqa: E402

pytestmark = pytest.mark.gui


def test_recording_the_sample_video_waits_until_the_user_says_it_is_a_try_out(
    qtbot, window, sample_video: Path, tmp_path: Path
) -> None:
    dialog = window.open_adapt_dialog(part_seconds=(0.5, 0.35, 0.35))
    qtbot.waitUntil(lambda: window.recording_panel.recorder_service.ready, timeout=TIMEOUT_MS)
    dialog._show_step()
    assert not dialog.sample_warning.isHidden() and "bundled sample video" in dialog.sample_warning.label.text()
    assert "you, live" in dialog.sample_warning.label.text()
    assert not dialog.record_button.isEnabled()  # held back ...
    dialog.sample_warning.go_on.setChecked(True)
    assert dialog.record_button.isEnabled()  # ... until the user goes on
    dialog.sample_warning.go_on.setChecked(False)
    camera = tmp_path / "my-camera.mp4"  # any other source: no warning
    shutil.copy(sample_video, camera)
    window.open_source(str(camera))
    qtbot.waitUntil(lambda: dialog.sample_warning.isHidden() and dialog.record_button.isEnabled(), timeout=TIMEOUT_MS)


def test_a_take_counts_down_its_seconds(qtbot, window) -> None:
    dialog = window.open_adapt_dialog(part_seconds=(1.5, 0.75, 0.75))  # a 3 s take
    assert dialog.record_button.text() == "Record 3 s"
    dialog.sample_warning.go_on.setChecked(True)
    qtbot.waitUntil(dialog.record_button.isEnabled, timeout=TIMEOUT_MS)
    seen: list[tuple[int, str]] = []
    dialog.take.countdown.connect(lambda left: seen.append((left, dialog.instruction.text())))
    click(qtbot, dialog.record_button)
    qtbot.waitUntil(lambda: dialog._step == 1, timeout=TIMEOUT_MS)  # the take is over: the next step
    counts = [left for left, _ in seen]
    assert counts[0] == 3 and counts == sorted(set(counts), reverse=True)  # 3, 2, 1 (as many as were seen)
    assert all(f"Recording Live: {left} s left." in text for left, text in seen)
    assert len(dialog.recorded["live"]) == 3 and not dialog.take.active
    assert "Step 2 of 4" in dialog.instruction.text()


def judged(bpcer: float, apcer: float) -> dict[str, float]:
    return {"bpcer": bpcer, "apcer": apcer, "acer": (bpcer + apcer) / 2, "n_live": 40, "n_attack": 40}


def test_the_result_is_a_small_table_and_one_sentence(qtbot, window, tmp_path: Path) -> None:
    from training.adapt import headline

    dialog = window.open_adapt_dialog()
    result = {
        "before": judged(0.25, 0.10),
        "calibrated": judged(0.10, 0.10),
        "adapted": judged(0.05, 0.0),
        "chosen": "adapted",
        "calibrated_threshold": 0.3,
        "model_path": tmp_path / "adapted.pt",
        "sentence": "The adapted model makes fewer errors on your held-out sessions: a long story.",
    }
    result["headline"] = headline(result)
    dialog.show_outcome(result)
    table = dialog.table
    assert not table.isHidden() and (table.rowCount(), table.columnCount()) == (3, 3)
    assert [table.verticalHeaderItem(r).text() for r in range(3)] == [
        "Your model as it is",
        "Calibrated threshold",
        "Adapted model",
    ]
    assert [table.horizontalHeaderItem(c).text().split()[0] for c in range(3)] == ["BPCER", "APCER", "ACER"]
    assert table.cell("before", "bpcer") == "25.0 %" and table.cell("adapted", "acer") == "2.5 %"
    assert table.item(2, 0).font().bold() and not table.item(0, 0).font().bold()  # the recommended row
    sentence = dialog.result_label.text()
    assert sentence.startswith("Recommended: the adapted model") and sentence.count(". ") == 0
    assert "17.5 %" in sentence and "2.5 %" in sentence  # held-out ACER before and adapted
    assert dialog.use_model_button.isDefault() and dialog.use_model_button.text().endswith("(recommended)")
    assert not dialog.use_model_button.isHidden()
    assert table.verticalScrollBarPolicy() != Qt.ScrollBarPolicy.ScrollBarAlwaysOn
