"""Picking a recording's label (names from the label list, descriptions as tooltips) and subject."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLineEdit, QWidget


def fill_label_combo(combo: QComboBox, labels: list[dict[str, Any]], current: str = "") -> None:
    """Label names as items, their descriptions as tooltips (on the item and on the combo itself)."""
    combo.clear()
    for lab in labels:
        combo.addItem(lab["name"])
        combo.setItemData(combo.count() - 1, str(lab.get("description", "")), Qt.ItemDataRole.ToolTipRole)
    combo.currentIndexChanged.connect(
        lambda i: combo.setToolTip(str(combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or ""))
    )
    if current:
        combo.setCurrentText(current)
    combo.setToolTip(str(combo.currentData(Qt.ItemDataRole.ToolTipRole) or ""))


def ask_relabel(parent: QWidget, labels: list[dict[str, Any]], label: str, subject: str) -> tuple[str, str] | None:
    """Label and subject for a recorded session, or None when cancelled (tests replace this function)."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("Relabel session")
    combo, subject_edit = QComboBox(dialog), QLineEdit(subject, dialog)
    fill_label_combo(combo, labels, label)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form = QFormLayout(dialog)
    form.addRow("Label:", combo)
    form.addRow("Subject:", subject_edit)
    form.addRow(buttons)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return combo.currentText(), subject_edit.text().strip()
