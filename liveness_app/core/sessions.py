"""The recordings manifest's schema: the one validation used by the recorder, the app and the training loader.

A recordings folder may come from anywhere (shared, downloaded, hand-edited), so ``manifest.json`` is
untrusted. Reading the file itself (bounded, never blocking, one :class:`ManifestError` whatever the decoder
raised) and writing it back are in :mod:`.manifest_file`. :func:`parse_manifest` checks every entry where
it is read: a bad entry is kept aside as :class:`InvalidEntry` (listed, never followed, never deleted,
written back unchanged). A session's ``file`` must resolve, symlinks included, to a video (by extension) inside the recordings folder that no earlier
entry claims, and never to the store's own files (the manifest, its set-aside copies, the atomic writer's
``*.tmp`` files): deleting a session deletes its file, so a file may belong to one entry only.

Layout::

    recordings/manifest.json   {"version": 1, "sessions": [{id, file, label, attack_type, subject, camera,
                                 width, height, fps, duration_s, frames, date, notes, status}, ...]}
    recordings/<id>.avi        one video per session
"""

from __future__ import annotations

import math
import os
import reprlib
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
VIDEO_EXTS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})  # also what training reads as video
TEMP_SUFFIX = ".tmp"  # core.files.atomic_write's temporary files: <name>.<hex>.tmp beside the target
RECORDING, COMPLETE, INCOMPLETE = "recording", "complete", "incomplete"
STATUSES = (RECORDING, COMPLETE, INCOMPLETE)
LIVE = "live"  # the bona fide label everywhere: recordings, datasets, metrics, the model's classes

# field -> (accepted types, default); bool is excluded from the numeric fields below on purpose
_TEXT_FIELDS = {"attack_type": "", "subject": "", "camera": "", "date": "", "notes": ""}
_COUNT_FIELDS = ("width", "height", "frames", "dropped_frames")
_REAL_FIELDS = ("fps", "duration_s")


class ManifestError(ValueError):
    """The manifest as a whole cannot be used (not JSON, too big, wrong shape, unknown version)."""


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


_SEPARATORS = tuple(sep for sep in ("/", os.sep, os.altsep) if sep)
# A cut-down repr for reasons and table cells: a hostile value may be nested hundreds deep or megabytes long.
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 2, 40, 40, 4, 4


def shown(value: Any) -> str:
    """``value`` as short text for a table cell (text as is, cut; anything else as a short repr)."""
    return value[:60] if isinstance(value, str) else _SHORT.repr(value)


def _q(value: Any) -> str:
    """``value`` quoted and cut for a reason: a refused entry's value may be megabytes long."""
    return _SHORT.repr(value)


def _real_file(base: str, file: Any) -> str:
    """The real path (symlinks followed) of a session's ``file`` under ``base``, itself a real path;
    ValueError when ``file`` is not a relative path to a video inside ``base`` (see :func:`session_path`)."""
    if not isinstance(file, str) or not file.strip():
        raise ValueError("'file' must be a non-empty file name")
    if "\0" in file:  # no OS takes it; os.stat would raise ValueError wherever the file is looked at
        raise ValueError(f"file {_q(file)} holds a NUL character")
    if file in (".", "..") or any(sep in file for sep in _SEPARATORS) or os.path.splitdrive(file)[0]:
        rel = Path(file)
        if rel.is_absolute() or rel.drive or ".." in rel.parts:
            raise ValueError(f"file {_q(file)} points outside the recordings folder")
        real = _follow(os.path.join(base, file), file)
    else:
        # The usual entry, a plain name: one lstat instead of realpath's lstat of every folder on the path,
        # which made validation the biggest cost of a long list at start. Not a link: base/name is real.
        real = os.path.join(base, file)
        if os.path.islink(real):
            real = _follow(real, file)
    if not real.startswith(os.path.join(base, "")):
        raise ValueError(f"file {_q(file)} points outside the recordings folder")
    _check_video_name(file, os.path.basename(real))
    return real


def _follow(path: str, file: str) -> str:
    """``path`` with every symlink followed; ValueError for a loop (realpath stops on it without an error,
    where ``Path.resolve`` raises RuntimeError)."""
    real = os.path.realpath(path)
    if os.path.islink(real):
        raise ValueError(f"file {_q(file)} is a symlink loop")
    return real


def _check_video_name(file: str, name: str) -> None:
    """ValueError unless ``name`` (the real file's name) is a video's and not one of the store's own files."""
    via = "" if os.path.basename(file) == name else f" (it leads to {_q(name)})"
    if name.startswith(MANIFEST_NAME):  # manifest.json and the copies set_aside() keeps
        raise ValueError(f"file {_q(file)} is the session list or a copy of it{via}, not a video")
    if name.lower().endswith(TEMP_SUFFIX):
        raise ValueError(f"file {_q(file)} is a temporary file of the session list{via}, not a video")
    if os.path.splitext(name)[1].lower() not in VIDEO_EXTS:
        raise ValueError(f"file {_q(file)} is not a video{via}: expected {', '.join(sorted(VIDEO_EXTS))}")


def session_path(root: Path, file: Any) -> Path:
    """The session's video, resolved; ValueError when it is not a plain relative path to a video inside
    ``root`` (an absolute path, ``..``, or a symlink leading outside are refused; so are names that are not
    a video's, such as ``manifest.json`` or a ``*.tmp`` file)."""
    return Path(_real_file(os.path.realpath(root), file))


def file_kind(path: Path) -> str:
    """What ``path`` is, found without opening it (opening a FIFO blocks until someone writes to it):
    "file" (a regular file, links followed), "missing", or a phrase such as "a FIFO" or "a folder"."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing" if not os.path.islink(path) else "a symlink to nothing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"  # a symlink loop, no permission, ...
    if stat.S_ISREG(mode):
        return "file"
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _real(value: Any, name: str) -> float:
    try:
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
    except OverflowError:  # an int of hundreds of digits has no float: it is no frame rate or duration
        ok = False
    if not ok:
        raise ValueError(f"{name!r} must be a number >= 0, got {_q(value)}")
    return float(value)


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name!r} must be a whole number >= 0, got {_q(value)}")
    return value


def validate_session(entry: Any, root: Path) -> dict[str, Any]:
    """A normalised copy of one manifest entry; ValueError (the reason) for an entry that cannot be used."""
    return _validate(entry, os.path.realpath(root))[0]


def _validate(entry: Any, base: str) -> tuple[dict[str, Any], str]:
    """:func:`validate_session` with the recordings folder as a real path; also returns the file's real path."""
    if not isinstance(entry, dict):
        raise ValueError(f"an entry must be an object, got {type(entry).__name__}")
    out = dict(entry)
    for name in ("id", "label"):
        if not isinstance(entry.get(name), str) or not entry[name].strip():
            raise ValueError(f"{name!r} is missing or not a non-empty text")
    real = _real_file(base, entry.get("file"))
    for name, default in _TEXT_FIELDS.items():
        value = entry.get(name, default)
        if value is None:
            value = default
        if not isinstance(value, str):
            raise ValueError(f"{name!r} must be text, got {_q(value)}")
        out[name] = value
    for name in _COUNT_FIELDS:
        out[name] = _count(entry.get(name, 0), name)
    for name in _REAL_FIELDS:
        out[name] = _real(entry.get(name, 0.0), name)
    status = entry.get("status")
    if status not in STATUSES:
        raise ValueError(f"'status' must be one of {', '.join(STATUSES)}, got {_q(status)}")
    out["recovered"] = bool(entry.get("recovered", False))
    if out["label"] == LIVE:
        out["attack_type"] = ""
    elif not out["attack_type"]:
        out["attack_type"] = out["label"]
    return out, real


def parse_manifest(data: Any, root: Path) -> Manifest:
    """Validate a decoded manifest: ManifestError for the wrong overall shape, else valid + invalid entries.

    An entry whose id, or whose file (its real path), an earlier valid entry already has is refused:
    deleting one of them would delete the other's video."""
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        raise ManifestError(f'expected {{"version": {MANIFEST_VERSION}, "sessions": [...]}}')
    entries = data.get("sessions", [])
    if not isinstance(entries, list):
        raise ManifestError("'sessions' must be a list")
    base = os.path.realpath(root)
    manifest, ids = Manifest(), set[str]()
    owners: dict[str, str] = {}  # a claimed file's real path (case as the OS compares it) -> the session's id
    for index, entry in enumerate(entries):
        sid: str = entry["id"] if isinstance(entry, dict) and isinstance(entry.get("id"), str) else ""
        try:
            session, real = _validate(entry, base)
            key = os.path.normcase(real)
            if session["id"] in ids:
                raise ValueError(f"id {_q(session['id'])} is listed twice")
            if key in owners:
                raise ValueError(
                    f"file {_q(session['file'])} is already the video of session "
                    f"{_q(owners[key])}: a file belongs to one session only"
                )
        except ValueError as exc:
            manifest.invalid.append(InvalidEntry(index, sid, str(exc), entry))
            continue
        ids.add(session["id"])
        owners[key] = session["id"]
        manifest.sessions.append(session)
    return manifest


def attack_type_of(label: str) -> str:
    """The attack type a recorded label stands for: none for live, else the label itself."""
    return "" if label == LIVE else label


def new_session(
    sid: str, label: str, subject: str, camera: str, size: tuple[int, int], fps: float, notes: str = ""
) -> dict[str, Any]:
    """The entry of a session about to be recorded to ``<sid>.avi``: status "recording", nothing counted."""
    w, h = size
    return {
        "id": sid,
        "file": f"{sid}.avi",
        "label": label,
        "attack_type": attack_type_of(label),
        "subject": subject,
        "camera": camera,
        "width": w,
        "height": h,
        "fps": float(fps),
        "duration_s": 0.0,
        "frames": 0,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "notes": notes,
        "status": RECORDING,
        "dropped_frames": 0,
    }


def settle(session: dict[str, Any], frames: int) -> dict[str, Any]:
    """Set a finished session's frame count, duration and status ("complete", or "incomplete" when no
    frame was written); returns the same dict."""
    fps = session["fps"]
    session.update(
        frames=frames, duration_s=round(frames / fps, 2) if fps else 0.0, status=COMPLETE if frames > 0 else INCOMPLETE
    )
    return session
