"""The settings file: one JSON object of plain values, so reading it can never run code.

``QSettings`` stores any value it cannot write as text as ``@Variant(...)``, and PyQt turns a
``PyQt_PyObject`` variant back into a Python object with ``pickle`` the moment ``value()`` is called,
before any type check: a hand-edited settings file could run a command at start-up. So the app keeps its
settings in ``settings.json`` (text, numbers, true/false: nothing else can be stored or read back), in the
user data folder, written whole through the one atomic writer.

Settings written by earlier versions (an INI file: ``$LIVENESS_STUDIO_HOME/settings.ini``, or the
platform's ``LivenessStudio.conf``) are imported once: every ``@Variant(...)`` line is dropped unread (and
logged) before Qt sees the file, and only text values are kept.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import tempfile
from pathlib import Path
from typing import Any

from .. import paths
from ..core.files import atomic_write_text

log = logging.getLogger(__name__)
FILE_NAME = "settings.json"
MAX_BYTES = 4 * 2**20  # the app writes a few KB; a bigger file is not ours
Plain = str | bool | int | float


def _plain(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, bool, int))


def _read(path: Path) -> dict[str, Any]:
    """The stored mapping; {} (logged) for a missing, huge, unreadable or non-object file. Values are kept
    as decoded (text, numbers, lists, ...): each is type-checked where it is used."""
    try:
        if not path.is_file():
            return {}
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{path.stat().st_size} bytes is too big for a settings file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON, bad UTF-8, a 5,000-digit int
        log.warning("settings: %s cannot be read (%s); starting from the defaults", path, str(exc)[:200])
        return {}
    if not isinstance(data, dict):
        log.warning("settings: %s is not a JSON object; starting from the defaults", path)
        return {}
    return data


class SettingsFile:
    """A ``QSettings``-like store (``value``, ``setValue``, ``remove``, ``sync``, ``fileName``) over a JSON
    file. Values are written on :meth:`sync` (and when the app closes); only plain values are accepted."""

    def __init__(self, path: Path, legacy: Path | None = None) -> None:
        self.path = Path(path)
        fresh = not self.path.exists()
        self._data = _read(self.path)
        self._dirty = False
        if fresh and legacy is not None and legacy.is_file():
            self._data.update(import_legacy_ini(legacy))
            self._dirty = bool(self._data)

    def fileName(self) -> str:  # noqa: N802 (QSettings' name: the window code takes either)
        return str(self.path)

    def value(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def setValue(self, key: str, value: Plain) -> None:  # noqa: N802
        if not _plain(value):
            raise TypeError(f"settings hold text, numbers and true/false only, not {type(value).__name__}")
        if self._data.get(key) != value:
            self._data[key] = value
            self._dirty = True

    def remove(self, key: str) -> None:
        if self._data.pop(key, None) is not None:
            self._dirty = True

    def sync(self) -> None:
        """Write the file if anything changed; a failure (disk full, read-only folder) is logged, and the
        previous file stays whole."""
        if not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(self._data, indent=1, sort_keys=True))
            self._dirty = False
        except OSError as exc:
            log.warning("settings: cannot save %s (%s); they will be tried again", self.path, exc)


def default_store() -> SettingsFile:
    """``settings.json`` in the user data folder (``LIVENESS_STUDIO_HOME`` moves it), importing the
    settings of an earlier version's INI file the first time."""
    return SettingsFile(paths.user_data_dir() / FILE_NAME, legacy=legacy_settings_file())


def legacy_settings_file() -> Path | None:
    """Where an earlier version kept its settings, when that was a file (not the Windows registry)."""
    import os

    if os.environ.get("LIVENESS_STUDIO_HOME"):
        return paths.user_data_dir() / "settings.ini"
    from PyQt6.QtCore import QSettings

    name = Path(QSettings("LivenessStudio", "LivenessStudio").fileName())  # a path; nothing is read yet
    return name if name.suffix in (".conf", ".ini") else None


def import_legacy_ini(path: Path) -> dict[str, Plain]:
    """Text values (and the window layout) of an old QSettings INI file. Lines holding a ``@Variant``
    (which Qt would unpickle) are removed from a private copy before Qt reads it."""
    from PyQt6.QtCore import QByteArray, QSettings

    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        log.warning("settings: cannot import %s (%s)", path, exc)
        return {}
    safe = [line for line in lines if "@Variant(" not in line]
    if len(safe) < len(lines):
        log.warning("settings: %d value(s) of %s hold Python objects; refused unread", len(lines) - len(safe), path)
    out: dict[str, Plain] = {}
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "legacy.ini"
        copy.write_text("\n".join(safe), encoding="utf-8")
        store = QSettings(str(copy), QSettings.Format.IniFormat)
        for key in store.allKeys():
            value = store.value(key)
            if isinstance(value, QByteArray):  # the window layout
                out[key] = "base64:" + base64.b64encode(value.data()).decode("ascii")
            elif isinstance(value, str):
                out[key] = value
        del store
    log.info("settings: imported %d value(s) from %s", len(out), path)
    return out
