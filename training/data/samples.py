"""Labelled samples from manifests and the app's recordings (splitting them is :mod:`.splits`).

A :class:`Sample` is one image or one video with a label ("live" is bona fide, any other label names an
attack type) and a *group*: the subject or source it comes from. Splits are made by group, never by
frame or image, because frames of one person in both train and dev make dev scores meaningless.
Samples from label folders are :mod:`training.data.folders`' job; turning samples into face crops is
:mod:`training.data.cache`'s.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from liveness_app.core.manifest_file import read_manifest
from liveness_app.core.sessions import COMPLETE, LIVE, MANIFEST_NAME, VIDEO_EXTS, ManifestError, file_kind, session_path

log = logging.getLogger(__name__)
IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
# Sessions recorded without a subject all share one group: unknown people might be the same person, and
# one big group can never leak across splits, whereas one group per session could.
UNKNOWN_SUBJECT = "subject-unknown"


class DatasetLayoutError(ValueError):
    """A dataset root or manifest does not have the layout its reader expects."""


@dataclass(frozen=True)
class Sample:
    """One labelled image or video.

    ``source_video`` lets a caller say which video an extracted frame image came from, so frames of one
    clip can be kept together; :attr:`video_id` falls back to the file path.
    """

    path: Path
    label: str
    group: str
    kind: str  # "image" | "video"
    precropped: bool = False
    attack_type: str = ""
    source_video: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("image", "video"):
            raise ValueError(f"kind must be 'image' or 'video', got {self.kind!r} for {self.path}")
        if not self.label or not self.group:
            raise ValueError(f"empty label or group for {self.path}")
        if self.label == LIVE and self.attack_type:
            raise ValueError(f"live sample {self.path} has attack_type {self.attack_type!r}")
        if self.label != LIVE and not self.attack_type:
            object.__setattr__(self, "attack_type", self.label)

    @property
    def is_live(self) -> bool:
        return self.label == LIVE

    @property
    def video_id(self) -> str:
        if self.kind == "video":
            return str(self.path)
        return self.source_video or str(self.path)


def kind_of(path: Path) -> str | None:
    """ "image", "video", or None for a file that is neither (by extension)."""
    ext = path.suffix.lower()
    return "image" if ext in IMAGE_EXTS else "video" if ext in VIDEO_EXTS else None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "y")


def load_manifest_csv(csv_path: Path, precropped_prefixes: tuple[str, ...] = ("replay_crops/",)) -> list[Sample]:
    """Samples listed in a ``path,label,attack_type,group`` CSV; paths are relative to the CSV's folder.

    A row is pre-cropped (a tight face crop, no detection needed) when its path starts with one of
    ``precropped_prefixes`` or an optional ``precropped`` column is true. ``attack_type`` is optional.
    """
    csv_path = Path(csv_path)
    base = csv_path.parent
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"path", "label", "group"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetLayoutError(
                f"{csv_path}: missing column(s) {sorted(missing)}; expected path,label,attack_type,group"
            )
        samples = []
        for row_no, row in enumerate(reader, start=2):
            rel = row["path"].strip().replace("\\", "/")
            kind = kind_of(Path(rel))
            if kind is None:
                raise DatasetLayoutError(f"{csv_path}:{row_no}: not an image or video: {rel!r}")
            label = row["label"].strip()
            try:
                samples.append(
                    Sample(
                        path=base / rel,
                        label=label,
                        group=row["group"].strip(),
                        kind=kind,
                        precropped=rel.startswith(precropped_prefixes) or _truthy(row.get("precropped")),
                        attack_type="" if label == LIVE else (row.get("attack_type") or "").strip(),
                    )
                )
            except ValueError as exc:
                raise DatasetLayoutError(f"{csv_path}:{row_no}: {exc}") from exc
    return samples


def load_recordings(root: Path, include_incomplete: bool = False) -> list[Sample]:
    """Sessions recorded by the app: ``root/manifest.json`` (schema: :mod:`liveness_app.core.sessions`).

    Each session gives ``file`` (inside root), ``label``, ``attack_type``, ``subject`` and ``status``;
    the group is the subject. Sessions not marked "complete" ("incomplete", or a "recording" the recorder
    has not finished or recovered) are skipped unless ``include_incomplete``. Entries the schema refuses
    (a file outside the folder, missing fields, ...) are never followed: they are logged and left out.
    A session whose file is there but is not a regular file (a FIFO would block the reader for good, a
    folder or a device is no video) is logged and listed in the result's ``skipped`` with the reason; a
    missing file is left to the crop cache, which lists it as unreadable.
    """
    from training.data.folders import SampleList  # here, not at the top: training.data.folders imports this module

    if not (Path(root) / MANIFEST_NAME).is_file():
        raise DatasetLayoutError(f"cannot read recordings manifest: no file {Path(root) / MANIFEST_NAME}")
    try:
        manifest = read_manifest(Path(root))
    except ManifestError as exc:
        raise DatasetLayoutError(f"cannot read recordings manifest: {exc}") from exc
    for bad in manifest.invalid:
        log.warning("recordings %s: entry %d (%s) left out: %s", root, bad.index, bad.session_id or "no id", bad.reason)
    samples: list[Sample] = []
    skipped: list[tuple[str, str]] = []
    for session in manifest.sessions:
        if session["status"] != COMPLETE and not include_incomplete:
            continue
        path = session_path(Path(root), session["file"])
        kind = file_kind(path)
        if kind not in ("file", "missing"):
            skipped.append((str(path), f"{kind}, not a video file"))
            log.warning(
                "recordings %s: session %s left out: %s is %s, not a video file", root, session["id"], path.name, kind
            )
            continue
        samples.append(
            Sample(
                path=path,
                label=session["label"],
                group=session["subject"] or UNKNOWN_SUBJECT,
                kind=kind_of(path) or "video",
                attack_type=session["attack_type"],
            )
        )
    return SampleList(samples, skipped)


def summarize(samples: Sequence[Sample]) -> dict:
    """JSON-serialisable counts (per label, attack type, kind and group) for a checkpoint's metadata."""
    return {
        "samples": len(samples),
        "live": sum(s.is_live for s in samples),
        "attack": sum(not s.is_live for s in samples),
        "groups": len({s.group for s in samples}),
        "per_label": dict(sorted(Counter(s.label for s in samples).items())),
        "per_attack_type": dict(sorted(Counter(s.attack_type for s in samples if not s.is_live).items())),
        "per_kind": dict(sorted(Counter(s.kind for s in samples).items())),
        "precropped": sum(s.precropped for s in samples),
        "per_group": dict(sorted(Counter(s.group for s in samples).items())),
    }
