"""The training settings of the Training panel (name, epochs, input size, architecture, device, options)
and the :class:`TrainConfig` they make."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping, Sequence

import torch
from PyQt6.QtGui import QStandardItemModel
from PyQt6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QSpinBox, QWidget

from training.config import FINETUNE, TrainConfig

from ... import paths
from ...core.device import CHOICES as DEVICES
from ...core.pipeline import LoadedModel

INPUT_SIZES = (128, 160, 224)
ARCH_CHOICES = (("mobilenet_v3_large", "MobileNetV3-Large"), ("mobilenet_v2", "MobileNetV2 (ImageNet start)"))
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# DataLoader worker processes are not used from the app: forking a process that runs Qt and capture
# threads is unsafe, and a frozen app cannot spawn them. The crops are cached, so loading is cheap.
APP_DEFAULTS: dict[str, Any] = {"workers": 0}


def stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _disable_entry(combo: QComboBox, row: int) -> None:
    """Grey out one entry of ``combo``, whose (default) model is a QStandardItemModel."""
    model = combo.model()
    item = model.item(row) if isinstance(model, QStandardItemModel) else None
    assert item is not None
    item.setEnabled(False)


class TrainingForm(QWidget):
    """The settings; "Fine-tune the active model" (on by default) keeps the base's input and architecture."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name_edit = QLineEdit(f"my-model-{datetime.now():%Y%m%d}")
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 500)
        self.epochs_spin.setValue(10)
        self.size_combo = QComboBox()
        self.size_combo.addItems([str(s) for s in INPUT_SIZES])
        # 224 px is the recipe's default; on a CPU-only machine 128 px trains several times faster.
        self.size_combo.setCurrentText("224" if torch.cuda.is_available() else "128")
        self.arch_combo = QComboBox()
        for arch, text in ARCH_CHOICES:
            self.arch_combo.addItem(text, arch)
        weights = paths.imagenet_weights("mobilenet_v2")
        self.arch_combo.setToolTip(
            "MobileNetV3-Large is the shipped architecture (trained from scratch). "
            "MobileNetV2 starts from ImageNet weights: "
            + (str(weights) if weights else "fetch them once with 'python scripts/fetch_imagenet_weights.py'")
        )
        if weights is None:
            _disable_entry(self.arch_combo, 1)
        self.init_check = QCheckBox("Fine-tune the active model (short schedule)")
        self.init_check.setToolTip(
            "Start from the model in use, keep its architecture and preprocessing, and "
            "train briefly on your data (about a minute on a CPU); off: train a new "
            "model from the settings above"
        )
        self.init_check.setChecked(True)
        self.init_check.toggled.connect(self._on_init_toggled)
        self.lbp_check = QCheckBox("Fuse LBP texture features")
        self.lbp_check.setToolTip(
            "Add colour-LBP texture histograms (Y, Cb, Cr on a 2x2 grid) to the CNN's "
            "features: a classic print/replay cue; slightly slower to score"
        )
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICES))
        if not torch.cuda.is_available():
            _disable_entry(self.device_combo, DEVICES.index("cuda"))
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        for label, widget in (
            ("Model name:", self.name_edit),
            ("Epochs:", self.epochs_spin),
            ("Input size:", self.size_combo),
            ("Architecture:", self.arch_combo),
            ("Device:", self.device_combo),
            ("", self.lbp_check),
            ("", self.init_check),
        ):
            form.addRow(label, widget)
        self._on_init_toggled(self.init_check.isChecked())

    def set_idle(self, idle: bool) -> None:
        """Settings can change only between runs; fine-tuning keeps the base's choices greyed."""
        for w in (self.name_edit, self.epochs_spin, self.device_combo, self.init_check):
            w.setEnabled(idle)
        for w in (self.size_combo, self.arch_combo, self.lbp_check):
            w.setEnabled(idle and not self.init_check.isChecked())

    def config(self, sources: Sequence[str], active: LoadedModel | None, overrides: Mapping[str, Any]) -> TrainConfig:
        """The run's configuration from the widgets and ``overrides``; raises ValueError when invalid."""
        name = self.name_edit.text().strip()
        if not NAME_RE.fullmatch(name):
            raise ValueError(f"model name {name!r}: use letters, digits, '.', '_' or '-' (it becomes a file name)")
        root = paths.user_data_dir()
        values: dict[str, Any] = {
            **APP_DEFAULTS,
            "data": tuple(sources),
            "name": name,
            "out_dir": str(root / "runs" / f"{name}-{stamp()}"),
            "cache_dir": str(root / "cache"),
            "epochs": self.epochs_spin.value(),
            "input_size": int(self.size_combo.currentText()),
            "device": self.device_combo.currentText(),
            "install": True,
            "lbp_grid": 2 if self.lbp_check.isChecked() else 0,
            **self._arch_values(),
        }
        if self.init_check.isChecked() and active is not None:  # the base's architecture and input win
            values = {
                **values,
                **FINETUNE,
                "epochs": self.epochs_spin.value(),
                "init": str(active.path),
                "arch": "mobilenet_v3_large",
                "lbp_grid": 0,
                "pretrained": "",
            }
        return TrainConfig(**{**values, **overrides})

    def _on_init_toggled(self, on: bool) -> None:
        """Fine-tuning keeps the base's input size, architecture and texture branch: those choices go."""
        for widget in (self.size_combo, self.arch_combo, self.lbp_check):
            widget.setEnabled(not on)
        self.epochs_spin.setValue(FINETUNE["epochs"] if on else 10)

    def _arch_values(self) -> dict[str, Any]:
        arch = self.arch_combo.currentData()
        if arch == "mobilenet_v3_large":
            return {"arch": arch}
        weights = paths.imagenet_weights(arch)
        if weights is None:
            raise ValueError(f"no ImageNet weights for {arch}: run 'python scripts/fetch_imagenet_weights.py' once")
        return {"arch": arch, "pretrained": str(weights), "lr": 5e-4}
