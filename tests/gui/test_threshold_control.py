"""The threshold control shows a threshold with its source: its tooltip and its reset button read the source,
never a comparison of floats. Offscreen, no model."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS  # noqa: E402
from PyQt6.QtCore import Qt  # noqa: E402

from liveness_app.core.threshold import Threshold, ThresholdSource  # noqa: E402
from liveness_app.gui.panels.info import ThresholdControl  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def control(qtbot) -> ThresholdControl:
    widget = ThresholdControl()
    qtbot.addWidget(widget)
    return widget


def test_the_tooltip_and_the_reset_button_follow_the_source(control) -> None:
    assert control.source == "" and not control.reset_button.isEnabled()
    control.set_threshold(Threshold.of_model(0.37), model_value=0.37)
    assert control.value == pytest.approx(0.37) and not control.reset_button.isEnabled()
    assert control.spin.toolTip().endswith("this value: the model's")
    calibrated = Threshold.calibrated(0.37, "camera 0", "EER", "2026-12-01")  # the model's value, another source
    control.set_threshold(calibrated, model_value=0.37)
    assert control.reset_button.isEnabled() and control.source == calibrated.describe()
    control.set_threshold(Threshold(0.6, ThresholdSource.HAND), model_value=0.37)
    assert control.reset_button.isEnabled() and "your setting" in control.spin.toolTip()
    assert "0.370" in control.reset_button.toolTip()


def test_reset_asks_for_the_models_exact_threshold(qtbot, control) -> None:
    control.set_threshold(Threshold(0.6, ThresholdSource.HAND), model_value=0.4137)
    with qtbot.waitSignal(control.changed, timeout=TIMEOUT_MS) as changed:
        control.reset_button.click()
    assert changed.args == [0.4137] and control.value == pytest.approx(0.414)


def test_showing_the_value_being_typed_leaves_the_typing_alone(qtbot, control) -> None:
    """Every keystroke is a change that comes back as the threshold in use: it must not reformat the text
    under the cursor ("0.4" -> "0.400" would turn the next "5" into 0.4005)."""
    control.set_threshold(Threshold.of_model(0.37), model_value=0.37)
    control.changed.connect(lambda value: control.set_threshold(Threshold.by_hand(value, 0.37), 0.37))
    control.spin.selectAll()
    qtbot.keyClicks(control.spin, "0.45")
    assert control.value == pytest.approx(0.45)
    assert control.threshold == Threshold(control.value, ThresholdSource.HAND)
    qtbot.keyClick(control.spin, Qt.Key.Key_Return)
