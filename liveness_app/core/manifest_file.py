"""The recordings manifest as a file: read bounded and without blocking, decoded into one error, written back.

What the decoded manifest must hold, and each entry's validation, is :mod:`.sessions`' schema;
:func:`read_manifest` refuses a file that is not a regular file, is over :data:`MAX_MANIFEST_BYTES` or does
not decode (as one :class:`~.sessions.ManifestError`, whatever the decoder raised), then hands the decoded
value to :func:`~.sessions.parse_manifest`. :func:`manifest_text` is what
:class:`~.recorder.SessionStore` writes back.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from .sessions import MANIFEST_NAME, MANIFEST_VERSION, InvalidEntry, Manifest, ManifestError, parse_manifest

# 100,000 sessions take about 30 MB; a bigger file is not one the app wrote, and decoding it could take
# minutes and gigabytes before the window opens.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def read_manifest(root: Path) -> Manifest:
    """The manifest in ``root`` (an empty one when there is none); ManifestError when it is unusable."""
    path = Path(root) / MANIFEST_NAME
    if not os.path.lexists(path):
        return Manifest()
    data = _decode(path, _read_bytes(path))
    try:
        return parse_manifest(data, root)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from exc


def _read_bytes(path: Path) -> bytes:
    """The manifest's bytes; ManifestError when it is not a regular file or is over MAX_MANIFEST_BYTES.
    Opened without blocking and checked on the open file: a FIFO put there after a check would block."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise ManifestError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ManifestError(f"{path} is not a regular file")
        if info.st_size > MAX_MANIFEST_BYTES:
            raise ManifestError(
                f"{path} is {info.st_size / 2**20:.0f} MiB, over the "
                f"{MAX_MANIFEST_BYTES // 2**20} MiB a session list may have"
            )
        try:
            data = handle.read(MAX_MANIFEST_BYTES + 1)  # bounded: the file may grow after the check
        except OSError as exc:
            raise ManifestError(f"{path} cannot be read: {exc.strerror or exc}") from exc
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{path} is over the {MAX_MANIFEST_BYTES // 2**20} MiB a session list may have")
    return data


def _decode(path: Path, data: bytes) -> Any:
    """The JSON in ``data``; ManifestError for anything the decoder refuses. Not only JSONDecodeError: a
    number of over 4,300 digits raises a plain ValueError, deep nesting RecursionError, and a huge value
    MemoryError, and each of them must not stop the app at every start."""
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError as exc:
        raise ManifestError(f"{path} cannot be read: it is nested too deeply") from exc
    except MemoryError as exc:
        raise ManifestError(f"{path} cannot be read: it does not fit in memory") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path} cannot be read: {exc}") from exc
    except ValueError as exc:  # e.g. int's max_str_digits; its advice to call sys.set_int_max_str_digits is cut
        raise ManifestError(f"{path} cannot be read: {str(exc).split(';')[0]}") from exc


def manifest_text(sessions: list[dict[str, Any]], invalid: list[InvalidEntry]) -> str:
    """What is written back: valid sessions, then refused entries as they were (nothing is lost), one entry
    per line. Each line is encoded by json's C encoder; ``json.dump(..., indent=1)`` takes the pure-Python
    one, seconds for 100,000 sessions on every recording started or stopped. ValueError or RecursionError
    for a refused entry that cannot be encoded again."""
    entries = [json.dumps(entry) for entry in list(sessions) + [bad.raw for bad in invalid]]
    body = "\n" + ",\n".join(entries) + "\n" if entries else ""
    return f'{{"version": {MANIFEST_VERSION}, "sessions": [{body}]}}\n'
