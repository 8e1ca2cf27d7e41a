"""The recordings manifest's schema: the one reader used by the recorder, the app and the training loader.

A recordings folder may come from anywhere (shared, downloaded, hand-edited), so ``manifest.json`` is
untrusted. :func:`parse_manifest` checks every entry where it is read: a bad entry is kept aside as
:class:`InvalidEntry` (listed, never followed, never deleted, written back unchanged), and a session's
``file`` must resolve, symlinks included, to a path inside the recordings folder.

Layout::

    recordings/manifest.json   {"version": 1, "sessions": [{id, file, label, attack_type, subject, camera,
                                 width, height, fps, duration_s, frames, date, notes, status}, ...]}
    recordings/<id>.avi        one video per session
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
RECORDING, COMPLETE, INCOMPLETE = "recording", "complete", "incomplete"
STATUSES = (RECORDING, COMPLETE, INCOMPLETE)
LIVE = "live"  # the bona fide label everywhere: recordings, datasets, metrics, the model's classes

# field -> (accepted types, default); bool is excluded from the numeric fields below on purpose
_TEXT_FIELDS = {"attack_type": "", "subject": "", "camera": "", "date": "", "notes": ""}
_COUNT_FIELDS = ("width", "height", "frames", "dropped_frames")
_REAL_FIELDS = ("fps", "duration_s")


class ManifestError(ValueError):
    """The manifest as a whole cannot be used (not JSON, wrong shape, unknown version)."""


@dataclass(frozen=True)
class InvalidEntry:
    """A manifest entry that was refused, with the reason; ``raw`` is written back as it was."""

    index: int
    session_id: str
    reason: str
    raw: Any


@dataclass
class Manifest:
    """The valid sessions (normalised copies) and the refused entries of one manifest."""

    sessions: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[InvalidEntry] = field(default_factory=list)


def session_path(root: Path, file: Any) -> Path:
    """The session's video, resolved; ValueError when it is not a plain relative path inside ``root``."""
    if not isinstance(file, str) or not file.strip():
        raise ValueError("'file' must be a non-empty file name")
    rel = Path(file)
    if rel.is_absolute() or rel.drive or ".." in rel.parts:
        raise ValueError(f"file {file!r} points outside the recordings folder")
    base = Path(root).resolve()
    path = (base / rel).resolve()  # follows symlinks: a link inside that points outside is refused too
    if not path.is_relative_to(base) or path == base:
        raise ValueError(f"file {file!r} points outside the recordings folder")
    return path


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name!r} must be a number >= 0, got {value!r}")
    return float(value)


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name!r} must be a whole number >= 0, got {value!r}")
    return value


def validate_session(entry: Any, root: Path) -> dict[str, Any]:
    """A normalised copy of one manifest entry; ValueError (the reason) for an entry that cannot be used."""
    if not isinstance(entry, dict):
        raise ValueError(f"an entry must be an object, got {type(entry).__name__}")
    out = dict(entry)
    for name in ("id", "label"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise ValueError(f"{name!r} is missing or not a non-empty text")
    session_path(root, entry.get("file"))
    for name, default in _TEXT_FIELDS.items():
        value = entry.get(name, default)
        if value is None:
            value = default
        if not isinstance(value, str):
            raise ValueError(f"{name!r} must be text, got {value!r}")
        out[name] = value
    for name in _COUNT_FIELDS:
        out[name] = _count(entry.get(name, 0), name)
    for name in _REAL_FIELDS:
        out[name] = _real(entry.get(name, 0.0), name)
    if entry.get("status") not in STATUSES:
        raise ValueError(f"'status' must be one of {', '.join(STATUSES)}, got {entry.get('status')!r}")
    out["recovered"] = bool(entry.get("recovered", False))
    if out["label"] == LIVE:
        out["attack_type"] = ""
    elif not out["attack_type"]:
        out["attack_type"] = out["label"]
    return out


def parse_manifest(data: Any, root: Path) -> Manifest:
    """Validate a decoded manifest: ManifestError for the wrong overall shape, else valid + invalid entries."""
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        raise ManifestError(f"expected {{\"version\": {MANIFEST_VERSION}, \"sessions\": [...]}}")
    entries = data.get("sessions", [])
    if not isinstance(entries, list):
        raise ManifestError("'sessions' must be a list")
    manifest, seen = Manifest(), set()
    for index, entry in enumerate(entries):
        sid = entry.get("id") if isinstance(entry, dict) and isinstance(entry.get("id"), str) else ""
        try:
            session = validate_session(entry, root)
            if session["id"] in seen:
                raise ValueError(f"id {session['id']!r} is listed twice")
        except ValueError as exc:
            manifest.invalid.append(InvalidEntry(index, sid, str(exc), entry))
            continue
        seen.add(session["id"])
        manifest.sessions.append(session)
    return manifest


def read_manifest(root: Path) -> Manifest:
    """The manifest in ``root`` (an empty one when there is none); ManifestError when it is unusable."""
    path = Path(root) / MANIFEST_NAME
    if not path.exists():
        return Manifest()
    if not path.is_file():
        raise ManifestError(f"{path} is not a regular file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path} cannot be read: {exc}") from exc
    try:
        return parse_manifest(data, root)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from exc


def attack_type_of(label: str) -> str:
    """The attack type a recorded label stands for: none for live, else the label itself."""
    return "" if label == LIVE else label


def new_session(sid: str, label: str, subject: str, camera: str, size: tuple[int, int], fps: float,
                notes: str = "") -> dict[str, Any]:
    """The entry of a session about to be recorded to ``<sid>.avi``: status "recording", nothing counted."""
    w, h = size
    return {"id": sid, "file": f"{sid}.avi", "label": label, "attack_type": attack_type_of(label),
            "subject": subject, "camera": camera, "width": w, "height": h, "fps": float(fps), "duration_s": 0.0,
            "frames": 0, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "notes": notes,
            "status": RECORDING, "dropped_frames": 0}


def settle(session: dict[str, Any], frames: int) -> dict[str, Any]:
    """Set a finished session's frame count, duration and status ("complete", or "incomplete" when no
    frame was written); returns the same dict."""
    fps = session["fps"]
    session.update(frames=frames, duration_s=round(frames / fps, 2) if fps else 0.0,
                   status=COMPLETE if frames > 0 else INCOMPLETE)
    return session


def manifest_payload(sessions: list[dict[str, Any]], invalid: list[InvalidEntry]) -> dict[str, Any]:
    """What is written back: valid sessions, and refused entries as they were (nothing is lost)."""
    return {"version": MANIFEST_VERSION, "sessions": list(sessions) + [bad.raw for bad in invalid]}
