"""Label folders: samples from the plain layout ``root/<label>/<files>``, symlinks followed once per folder.

Dangling links, symlink loops and unreadable folders never stop a scan: they are logged and listed, with
the reason, in the result's ``skipped``. File names need not be UTF-8 (on Linux they are bytes): a sample
keeps its real path to open, while its label, group and any skipped entry get the name's display form
(``face-\\xff.png``), which the CSV files, logs and the model's data summary they reach can all hold.
The sample type and the other readers are in :mod:`training.data.samples`.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from pathlib import Path
from typing import Iterable, Iterator

from liveness_app.core.files import display_path
from training.data.samples import DatasetLayoutError, Sample, kind_of

log = logging.getLogger(__name__)


def _default_group(rel: Path, kind: str) -> str:
    # Subfolders under the label folder (if any) are part of the id; the label folder itself is not,
    # so that live and attack files of one subject land in the same group.
    core = rel.stem if kind == "video" else rel.stem.split("_", 1)[0]
    prefix = "/".join(rel.parent.parts)
    return display_path(f"{prefix}/{core}" if prefix else core)


def _regex_group(pattern: re.Pattern[str], rel: Path) -> str:
    match = pattern.search(rel.as_posix())
    if match is None:
        raise DatasetLayoutError(f"group pattern {pattern.pattern!r} does not match {rel.as_posix()!r}")
    if "subject" in pattern.groupindex:
        found = match.group("subject")
    else:
        found = match.group(1) if pattern.groups else match.group(0)
    return display_path(found) if found else ""  # an optional group that did not match: no group


class SampleList(list[Sample]):
    """Samples found by a folder scan, in order; ``skipped`` lists (path, reason) for the entries that
    could not be read: dangling symlinks, symlink loops, unreadable folders."""

    def __init__(self, samples: Iterable[Sample] = (), skipped: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(samples)
        self.skipped = list(skipped)


def _broken_link(path: Path, exc: OSError) -> str:
    try:
        target = display_path(os.readlink(path))
    except OSError:
        target = "?"
    if exc.errno == errno.ELOOP:
        return f"symlink loop: {target} never resolves to a file or folder"
    if exc.errno == errno.ENOENT:
        return f"dangling symlink: its target {target} does not exist"
    return f"unreadable: {exc.strerror or exc}"


def _stat(path: Path, skipped: list[tuple[str, str]]) -> os.stat_result | None:
    """``path``'s stat (links followed), or None with the reason added to ``skipped``."""
    try:
        return path.stat()
    except OSError as exc:
        skipped.append(
            (display_path(path), _broken_link(path, exc) if path.is_symlink() else f"unreadable: {exc.strerror or exc}")
        )
        return None


def _new_folder(path: Path, info: os.stat_result, seen: set[tuple[int, int]], skipped: list[tuple[str, str]]) -> bool:
    """True the first time a folder is met; a folder met again (through a link back to a folder above it,
    or a second link to it) is a loop or a duplicate of files already found, and is skipped."""
    key = (info.st_dev, info.st_ino)
    if key not in seen:
        seen.add(key)
        return True
    how = f"links to {display_path(os.readlink(path))}, " if path.is_symlink() else "reached through a symlink, "
    skipped.append((display_path(path), f"symlink loop or duplicate: {how}a folder already scanned"))
    return False


def _walk(folder: Path, seen: set[tuple[int, int]], skipped: list[tuple[str, str]]) -> Iterator[Path]:
    """Regular files below ``folder`` in sorted path order, following folder links once per folder
    (so a loop ends); dangling links, loops and unreadable folders go to ``skipped``."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        skipped.append((display_path(folder), f"unreadable folder: {exc.strerror or exc}"))
        return
    for name in names:
        path = folder / name
        info = _stat(path, skipped)
        if info is None:
            continue
        if stat.S_ISDIR(info.st_mode):
            if _new_folder(path, info, seen, skipped):
                yield from _walk(path, seen, skipped)
        elif stat.S_ISREG(info.st_mode):
            yield path


def _label_folders(root: Path, skipped: list[tuple[str, str]]) -> tuple[list[Path], set[tuple[int, int]]]:
    """The non-hidden folders (or links to folders) in ``root``, and the set of folders seen so far."""
    root_info = root.stat()
    seen = {(root_info.st_dev, root_info.st_ino)}
    folders = []
    for path in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        info = _stat(path, skipped)
        if info is not None and stat.S_ISDIR(info.st_mode) and _new_folder(path, info, seen, skipped):
            folders.append(path)
    return folders, seen


def scan_label_folders(root: Path, precropped: bool = False, group_pattern: str | None = None) -> SampleList:
    """Samples from the plain layout ``root/<label>/<files>`` (subfolders below a label folder allowed).

    Images: .jpg .jpeg .png .bmp .webp; videos: .mp4 .avi .mov .mkv .webm; anything else is ignored.
    The group (subject id) is, by default, the file stem for a video and the stem's prefix before the
    first "_" for an image (``alice_017.jpg`` -> ``alice``), each prefixed by any subfolders between the
    label folder and the file. ``group_pattern`` is a regex searched in that path relative to the label
    folder; its ``subject`` named group, else its first group, else the whole match, is the group.

    Symlinks are followed, a folder only once: a link back to a folder above it (a loop) or to one
    already scanned, a dangling link and an unreadable folder are logged and listed, with the reason,
    in the result's ``skipped`` (a :class:`SampleList` is a list of the samples).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root} is not a folder; expected root/<label>/<files>")
    pattern = re.compile(group_pattern) if group_pattern else None
    skipped: list[tuple[str, str]] = []
    samples = []
    label_dirs, seen = _label_folders(root, skipped)
    for label_dir in label_dirs:
        for path in _walk(label_dir, seen, skipped):
            kind = kind_of(path)
            if kind is None:
                continue
            rel = path.relative_to(label_dir)
            group = _regex_group(pattern, rel) if pattern else _default_group(rel, kind)
            samples.append(Sample(path, display_path(label_dir.name), group, kind, precropped=precropped))
    shown = "; ".join(f"{path} ({reason})" for path, reason in skipped[:3])
    if skipped:
        log.warning(
            "%s: skipped %d entr%s: %s%s",
            root,
            len(skipped),
            "y" if len(skipped) == 1 else "ies",
            shown,
            " ..." if len(skipped) > 3 else "",
        )
    if not samples:
        raise DatasetLayoutError(
            f"no images or videos found in {root}/<label>/ folders"
            + (f" (skipped {len(skipped)}: {shown})" if skipped else "")
        )
    return SampleList(samples, skipped)
