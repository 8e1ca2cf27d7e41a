"""Hostile recordings manifests, as the core tests write them: an entry and a manifest file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def entry(sid: str, file: str, **extra: Any) -> dict[str, Any]:
    """A valid complete live session of ``ann`` whose video is ``file``; ``extra`` overrides any field."""
    return {
        "id": sid,
        "file": file,
        "label": "live",
        "subject": "ann",
        "fps": 30.0,
        "frames": 3,
        "duration_s": 0.1,
        "date": "2026-01-01T00:00:00+00:00",
        "status": "complete",
        **extra,
    }


def write_manifest(root: Path, sessions: list[Any]) -> Path:
    """``root/manifest.json`` listing ``sessions`` as they are; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps({"version": 1, "sessions": sessions}))
    return root
