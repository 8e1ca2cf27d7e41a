"""Hostile recordings manifests, as the core tests write them: an entry and a manifest file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio_fakes import session_entry


def entry(sid: str, file: str, **extra: Any) -> dict[str, Any]:
    """A valid complete live session of ``ann`` whose video is ``file``; ``extra`` overrides any field."""
    return session_entry(sid, file, **extra)


def write_manifest(root: Path, sessions: list[Any]) -> Path:
    """``root/manifest.json`` listing ``sessions`` as they are; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"version": 1, "sessions": sessions}))
    return root
