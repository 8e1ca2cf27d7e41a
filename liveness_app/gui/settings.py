"""What the app remembers between sessions, typed, over a QSettings store.

Tests inject a QSettings on a temporary INI file; the app uses ``QSettings("LivenessStudio",
"LivenessStudio")``. Values the user passed on the command line or in the config file win over these.
"""
from __future__ import annotations

import json
from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings

from .. import paths

ORGANIZATION = APPLICATION = "LivenessStudio"
BUNDLED = "bundled:"  # prefix of a model shipped with the app: resolved against this install's models/


def model_key(path: Path) -> str:
    """How a model is remembered: a bundled model by name, so that another install (a new version, the
    frozen executable next to a source checkout) uses its own copy and never a stale file; others by path."""
    path = Path(path).resolve()
    try:
        return BUNDLED + path.relative_to(paths.bundled_models_dir().resolve()).as_posix()
    except ValueError:
        return str(path)


def model_from_key(key: str) -> Path:
    if key.startswith(BUNDLED):
        return paths.bundled_models_dir() / key[len(BUNDLED):]
    return Path(key)


def default_qsettings() -> QSettings:
    return QSettings(ORGANIZATION, APPLICATION)


class AppSettings:
    """Last model, device, per-model threshold overrides, overlay toggles, geometry, last source."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else default_qsettings()

    def _str(self, key: str) -> str | None:
        value = self.store.value(key, "", type=str)
        return value or None

    @property
    def last_model(self) -> Path | None:
        value = self._str("model/last")
        return model_from_key(value) if value else None

    @last_model.setter
    def last_model(self, path: Path) -> None:
        self.store.setValue("model/last", model_key(path))

    @property
    def device(self) -> str | None:
        return self._str("model/device")

    @device.setter
    def device(self, value: str) -> None:
        self.store.setValue("model/device", value)

    @property
    def last_source(self) -> str | None:
        return self._str("source/last")

    @last_source.setter
    def last_source(self, spec: str) -> None:
        self.store.setValue("source/last", spec)

    @property
    def snapshot_dir(self) -> Path | None:
        value = self._str("snapshot/dir")
        return Path(value) if value else None

    @snapshot_dir.setter
    def snapshot_dir(self, path: Path) -> None:
        self.store.setValue("snapshot/dir", str(path))

    def overlay(self, name: str, default: bool) -> bool:
        return self.store.value(f"overlay/{name}", default, type=bool)

    def set_overlay(self, name: str, on: bool) -> None:
        self.store.setValue(f"overlay/{name}", bool(on))

    # Thresholds are keyed by model path; paths contain '/' (a QSettings group separator), so the map is
    # kept as one JSON value.
    def _thresholds(self) -> dict[str, float]:
        try:
            data = json.loads(self.store.value("model/thresholds", "{}", type=str) or "{}")
        except json.JSONDecodeError:
            return {}
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def threshold_override(self, model_path: Path) -> float | None:
        """The threshold the user chose for this model, or None for the model's calibrated one."""
        return self._thresholds().get(model_key(model_path))

    def set_threshold_override(self, model_path: Path, value: float | None) -> None:
        data = self._thresholds()
        key = model_key(model_path)
        if value is None:
            data.pop(key, None)
        else:
            data[key] = round(float(value), 4)
        self.store.setValue("model/thresholds", json.dumps(data))

    def geometry(self) -> QByteArray | None:
        value = self.store.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self.store.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.store.setValue("window/geometry", geometry)
        self.store.setValue("window/state", state)

    def sync(self) -> None:
        self.store.sync()
