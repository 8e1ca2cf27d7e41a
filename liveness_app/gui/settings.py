"""What the app remembers between sessions, typed, over a plain JSON store (:mod:`.settings_store`).

The store is ``settings.json`` in the user data folder (:mod:`.settings_store`: plain JSON, never a
pickle); tests inject one on a temporary file. Values the user passed on the command line or in the config
file win over these.

A settings file is untrusted like any file: every value is read with its type checked, and a value of the
wrong type or out of range is ignored (logged) in favour of the default, so the app always starts.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QByteArray

from .. import paths
from ..core import BACKEND_CHOICES, DEVICE_CHOICES
from .settings_store import SettingsFile, default_store

log = logging.getLogger(__name__)
BUNDLED = "bundled:"  # prefix of a model shipped with the app: resolved against this install's models/


def model_key(path: Path) -> str:
    """How a model is remembered: a bundled model by name, so that another install (a new version, the
    frozen executable next to a source checkout) uses its own copy and never a stale file; others by path."""
    path = Path(path).resolve()
    try:
        return BUNDLED + path.relative_to(paths.bundled_models_dir().resolve()).as_posix()
    except ValueError:
        return str(path)


def model_from_key(key: str) -> Path | None:
    """The model a saved key names; None for a ``bundled:`` name that would leave the models folder."""
    if key.startswith(BUNDLED):
        base = paths.bundled_models_dir().resolve()
        path = (base / key[len(BUNDLED) :]).resolve()
        if not path.is_relative_to(base):
            log.warning("settings: %r points outside the bundled models; ignored", key)
            return None
        return path
    return Path(key)


def _json_map(text: Any, key: str) -> dict[str, Any]:
    """A setting stored as a JSON object; {} (logged) for anything else."""
    try:
        data = json.loads(text) if isinstance(text, str) and text else {}
    except (ValueError, RecursionError):  # bad JSON, a 5,000-digit number, nesting thousands deep
        data = None
    if not isinstance(data, dict):
        log.warning("settings: %s is not a JSON mapping; ignored", key)
        return {}
    return data


def _threshold_map(data: dict[str, Any]) -> dict[str, float]:
    """Saved thresholds: entries that are not a probability (text, NaN, 1.7) are dropped."""
    out = {}
    for key, value in data.items():
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and 0.0 <= value <= 1.0
        ):
            out[str(key)] = float(value)
        else:
            log.warning("settings: threshold %r for %s is not a probability; ignored", value, key)
    return out


class AppSettings:
    """Last model, device, per-model threshold overrides, overlay toggles, geometry, last source."""

    def __init__(self, store: SettingsFile | None = None) -> None:
        self.store = store if store is not None else default_store()

    def _str(self, key: str) -> str | None:
        """A text value; anything else (a list, a number) is ignored with a log line."""
        value = self.store.value(key, "")
        if not isinstance(value, str):
            log.warning("settings: %s is not text (%r); ignored", key, value)
            return None
        return value or None

    @property
    def last_model(self) -> Path | None:
        value = self._str("model/last")
        return model_from_key(value) if value else None

    @last_model.setter
    def last_model(self, path: Path) -> None:
        self.store.setValue("model/last", model_key(path))

    def _choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        value = self._str(key)
        if value is not None and value not in choices:
            log.warning("settings: %s %r is not one of %s; ignored", key, value, ", ".join(choices))
            return None
        return value

    @property
    def device(self) -> str | None:
        return self._choice("model/device", DEVICE_CHOICES)

    @device.setter
    def device(self, value: str) -> None:
        self.store.setValue("model/device", value)

    @property
    def backend(self) -> str | None:
        return self._choice("model/backend", BACKEND_CHOICES)

    @backend.setter
    def backend(self, value: str) -> None:
        self.store.setValue("model/backend", value)

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
        value = self.store.value(f"overlay/{name}", default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):  # how an INI file stores a bool
            return value.lower() == "true"
        log.warning("settings: overlay/%s is not true/false (%r); using %s", name, value, default)
        return default

    def set_overlay(self, name: str, on: bool) -> None:
        self.store.setValue(f"overlay/{name}", bool(on))

    # Thresholds are keyed by model path; paths contain '/' (a group separator in the old INI store), so the map is
    # kept as one JSON value.
    def _thresholds(self) -> dict[str, float]:
        return _threshold_map(_json_map(self.store.value("model/thresholds", "{}"), "model/thresholds"))

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

    # Thresholds calibrated to one camera ("Calibrate to this camera", the guided flow), per model and
    # camera: {"<model key>|<camera>": {"threshold": t, "rule": ..., "date": ...}}; the model file is untouched.
    def _camera_map(self) -> dict[str, dict]:
        data = _json_map(self.store.value("model/camera_thresholds", "{}"), "model/camera_thresholds")
        valid = _threshold_map({k: v.get("threshold") for k, v in data.items() if isinstance(v, dict)})
        return {k: {**data[k], "threshold": t} for k, t in valid.items()}

    def camera_threshold(self, model_path: Path, camera: str) -> dict | None:
        """The calibration of this model to this camera (``threshold``, ``rule``, ``date``), or None."""
        return self._camera_map().get(f"{model_key(model_path)}|{camera}")

    def set_camera_threshold(self, model_path: Path, camera: str, info: dict | None) -> None:
        data = self._camera_map()
        key = f"{model_key(model_path)}|{camera}"
        if info is None:
            data.pop(key, None)
        else:
            data[key] = {
                "threshold": round(float(info["threshold"]), 4),
                "rule": str(info.get("rule", "")),
                "date": str(info.get("date", "")),
            }
        self.store.setValue("model/camera_thresholds", json.dumps(data))

    # The window layout is Qt's own bytes, kept as base64 text (the store holds plain values only).
    def _bytes(self, key: str) -> QByteArray | None:
        value = self.store.value(key)
        if not isinstance(value, str) or not value.startswith("base64:"):
            return None
        try:
            return QByteArray(base64.b64decode(value[len("base64:") :], validate=True))
        except (binascii.Error, ValueError):
            log.warning("settings: %s is not base64; ignored", key)
            return None

    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    def window_state(self) -> QByteArray | None:
        return self._bytes("window/state")

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        for key, value in (("window/geometry", geometry), ("window/state", state)):
            self.store.setValue(key, "base64:" + base64.b64encode(value.data()).decode("ascii"))

    def sync(self) -> None:
        self.store.sync()
