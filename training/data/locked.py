"""The locked test split: groups that no shipped model ever trains or calibrates on.

``training/locked_split.json`` (committed) lists them per family, with the rule that drew them. Training
leaves them out by default (``TrainConfig.holdout_locked``), so does the cross-validation, and the gate
(:mod:`training.gate`) scores every candidate default on them beside the current default and the teachers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol, Sequence, TypeVar

LOCKED_FILE = Path(__file__).resolve().parents[1] / "locked_split.json"


class _Grouped(Protocol):
    @property
    def group(self) -> str: ...


S = TypeVar("S", bound=_Grouped)  # a Sample, or anything else that has its group


def locked_families(path: Path = LOCKED_FILE) -> dict[str, list[str]]:
    """Family -> its locked groups; ValueError when the file is not the committed layout."""
    try:
        families = json.loads(Path(path).read_text(encoding="utf-8"))["families"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"locked split {path} unreadable: {exc}") from None
    if not isinstance(families, dict) or not all(
        isinstance(v, list) and all(isinstance(g, str) for g in v) for v in families.values()
    ):
        raise ValueError(f"locked split {path}: 'families' must map names to lists of groups")
    return {str(k): list(v) for k, v in families.items()}


def locked_groups(path: Path = LOCKED_FILE) -> frozenset[str]:
    return frozenset(g for groups in locked_families(path).values() for g in groups)


def family_of(group: str) -> str:
    """The family of a group of the shared data: "nuaa", "webcam" or "replay-crops" (the tutorial
    sources have no prefix); a user's own groups are "replay-crops" too, which only the gate's table
    shows, and it reads only the shared data."""
    head = group.split("-", 1)[0]
    return head if head in ("nuaa", "webcam") and "-" in group else "replay-crops"


def without_locked(samples: Sequence[S], path: Path = LOCKED_FILE) -> tuple[list[S], int]:
    """The samples outside the locked groups, and how many were left out."""
    locked = locked_groups(path)
    kept = [s for s in samples if s.group not in locked]
    return kept, len(samples) - len(kept)
