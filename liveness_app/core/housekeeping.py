"""What a killed process leaves behind in the user data folder, cleaned at the next start.

* temporary files of the atomic writer (``<name>.<8 hex>.tmp``: a model being installed or exported, a
  training state, a manifest, a crop cache's index), in the folders the project writes such files to (not
  among the thousands of cached crops);
* Adapt runs (``runs/adapted-*``): the flow installs the adapted model into ``models/`` and never resumes,
  so a run whose model was installed keeps its logs and loses its resumable state (``last_state.pt``, tens
  of MB), and a run that never installed one (the app was killed) is removed whole.

Only what has not changed for :data:`QUIET_S` is touched, so another instance at work is left alone.
Training runs of ``liveness-train`` keep their state: ``--resume`` needs it.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from .files import remove_stale_temporaries

log = logging.getLogger(__name__)
QUIET_S = 3600.0
ADAPT_PREFIX = "adapted-"


def _quiet(folder: Path, now: float) -> bool:
    """No file in ``folder`` changed in the last :data:`QUIET_S` seconds (links not followed)."""
    try:
        newest = folder.stat().st_mtime
        for root, _, files in os.walk(folder, followlinks=False):
            for name in files:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
    except OSError:
        return False
    return now - newest > QUIET_S


def clean_leftovers(user_dir: Path, models_dir: Path, now: float | None = None) -> list[Path]:
    """Remove the leftovers described above under ``user_dir``; returns what was removed (and logs it)."""
    now = time.time() if now is None else now
    user_dir = Path(user_dir)
    flat = [user_dir, Path(models_dir), user_dir / "onnx-cache", user_dir / "recordings", user_dir / "cache"]
    flat += [p for p in (user_dir / "cache").glob("*") if p.is_dir() and not p.is_symlink()]
    removed = [path for folder in flat for path in remove_stale_temporaries(folder, QUIET_S)]
    removed += remove_stale_temporaries(user_dir / "runs", QUIET_S, recursive=True)
    runs = user_dir / "runs"
    for run in sorted(runs.glob(ADAPT_PREFIX + "*")) if runs.is_dir() else []:
        if not run.is_dir() or run.is_symlink() or not _quiet(run, now):
            continue
        if (Path(models_dir) / f"{run.name}.pt").is_file():  # finished: the model lives in models/
            for root, _, files in os.walk(run, followlinks=False):
                if "last_state.pt" in files:
                    (Path(root) / "last_state.pt").unlink(missing_ok=True)
                    removed.append(Path(root) / "last_state.pt")
        else:
            shutil.rmtree(run, ignore_errors=True)
            removed.append(run)
    for path in removed:
        log.info("removed a leftover of an interrupted run: %s", path)
    return removed
