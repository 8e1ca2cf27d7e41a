"""Importers for public face anti-spoofing datasets, each turning a dataset root into samples.

Labels follow the app's convention: "live" is bona fide, anything else names the attack type ("print",
"print-cut", "paper-cut", "replay", "mask"). Groups are subject ids prefixed with the dataset name, so
that a subject never lands in two splits and two datasets' "client001" stay apart. Every importer
uses the app's own face detector later (:mod:`training.data.cache`), never the dataset's face boxes, so
that training crops look like the crops the app makes at run time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from liveness_app.core.files import display_path
from liveness_app.core.sessions import LIVE, MANIFEST_NAME
from training.data.folders import scan_label_folders
from training.data.samples import DatasetLayoutError, Sample, kind_of, load_manifest_csv, load_recordings

__all__ = [
    "DatasetLayoutError",
    "IMPORTERS",
    "load_any",
    "celeba_spoof",
    "oulu_npu",
    "replay_attack",
    "casia_fasd",
    "msu_mfsd",
    "CELEBA_SPOOF_TYPES",
]

# CelebA-Spoof spoof types (index 40 of a label vector): 1-3 photo/poster/A4, 4-6 face/upper-body/region
# masks cut from paper, 7-9 PC/pad/phone screens, 10 3D mask.
CELEBA_SPOOF_TYPES: dict[int, str] = {
    0: LIVE,
    1: "print",
    2: "print",
    3: "print",
    4: "paper-cut",
    5: "paper-cut",
    6: "paper-cut",
    7: "replay",
    8: "replay",
    9: "replay",
    10: "mask",
}
_CELEBA_TYPE_INDEX = 40
_OULU_FILES = {"1": LIVE, "2": "print", "3": "print", "4": "replay", "5": "replay"}
_REPLAY_ATTACK_MEDIA = {"print": "print", "mobile": "replay", "highdef": "replay"}
_CASIA_FILES = {
    "1": LIVE,
    "2": LIVE,
    "HR_1": LIVE,
    "3": "print",
    "4": "print",
    "HR_2": "print",
    "5": "print-cut",
    "6": "print-cut",
    "HR_3": "print-cut",
    "7": "replay",
    "8": "replay",
    "HR_4": "replay",
}
_MSU_MEDIA = {"printed_photo": "print", "ipad_video": "replay", "iphone_video": "replay"}


@dataclass(frozen=True)
class _VideoLayout:
    """A video dataset: split folders under the root, files matched by a regex on their path below the
    split folder; ``label_of`` returns None for a file that is not a sample."""

    expected: str
    folders: tuple[str, ...]
    glob: str
    name_re: re.Pattern[str]
    label_of: Callable[[re.Match[str]], str | None]
    group_of: Callable[[re.Match[str], str], str]


def _scan_videos(root: Path, layout: _VideoLayout) -> list[Sample]:
    root = Path(root)
    present = [root / f for f in layout.folders if (root / f).is_dir()]
    if not present:
        raise DatasetLayoutError(f"{root}: none of {', '.join(layout.folders)} found; expected {layout.expected}")
    samples = []
    for folder in present:
        for path in sorted(folder.glob(layout.glob)):
            match = layout.name_re.match(path.relative_to(folder).as_posix())
            label = layout.label_of(match) if match else None
            if match is None or label is None or not path.is_file():
                continue
            # Groups are text in summaries and CSV files; a folder name need not be UTF-8.
            samples.append(Sample(path, label, display_path(layout.group_of(match, folder.name)), "video"))
    if not samples:
        raise DatasetLayoutError(f"{root}: no files named as expected; expected {layout.expected}")
    return samples


_OULU = _VideoLayout(
    expected="{Train,Dev,Test}_files/Phone_Session_User_File.avi (e.g. 1_1_01_1.avi)",
    folders=("Train_files", "Dev_files", "Test_files"),
    glob="*.avi",
    name_re=re.compile(r"(?P<phone>\d+)_(?P<session>\d+)_(?P<user>\d+)_(?P<file>\d+)\.avi$"),
    label_of=lambda m: _OULU_FILES.get(m["file"]),
    group_of=lambda m, split: f"oulu-{m['user']}",
)
_REPLAY_ATTACK = _VideoLayout(
    expected="{train,devel,test}/{real,attack/fixed,attack/hand}/*.mov "
    "(attack_(highdef|mobile|print)_clientNNN_... for attacks)",
    folders=("train", "devel", "test"),
    glob="**/*.mov",
    name_re=re.compile(
        r"(?P<where>real|attack/(?:fixed|hand))/"
        r"(?:attack_(?P<medium>highdef|mobile|print)_)?client(?P<client>\d+)_"
    ),
    label_of=lambda m: LIVE if m["where"] == "real" else _REPLAY_ATTACK_MEDIA.get(m["medium"] or ""),
    group_of=lambda m, split: f"replayattack-{int(m['client']):03d}",
)
# CASIA-FASD numbers its subjects 1..20 in train_release and 1..30 in test_release: different people,
# so the split folder is part of the group.
_CASIA = _VideoLayout(
    expected="{train_release,test_release}/<subject>/<n>.avi with n in 1-8 or HR_1-HR_4",
    folders=("train_release", "test_release"),
    glob="*/*.avi",
    name_re=re.compile(r"(?P<subject>[^/]+)/(?P<file>HR_\d|\d+)\.avi$"),
    label_of=lambda m: _CASIA_FILES.get(m["file"]),
    group_of=lambda m, split: f"casia-{split.split('_')[0]}-{m['subject']}",
)
_MSU = _VideoLayout(
    expected="scene01/{real,attack}/(real|attack)_clientNNN_....(mov|mp4)",
    folders=("scene01",),
    glob="*/*",
    name_re=re.compile(
        r"(?P<where>real|attack)/(?P=where)_client(?P<client>\d+)_(?P<rest>.*)"
        r"\.(?:mov|mp4)$"
    ),
    label_of=lambda m: (
        LIVE if m["where"] == "real" else next((label for key, label in _MSU_MEDIA.items() if key in m["rest"]), None)
    ),
    group_of=lambda m, split: f"msu-{int(m['client']):03d}",
)


def oulu_npu(root: Path) -> list[Sample]:
    """OULU-NPU: ``root/{Train,Dev,Test}_files/Phone_Session_User_File.avi``.

    File 1 is live, 2-3 print, 4-5 replay; the group is the user.
    """
    return _scan_videos(root, _OULU)


def replay_attack(root: Path) -> list[Sample]:
    """Idiap Replay-Attack: ``root/{train,devel,test}/{real,attack/{fixed,hand}}/*.mov``.

    Attack files are ``attack_(highdef|mobile|print)_clientNNN_...``: print -> "print", the screens
    (mobile, highdef) -> "replay". The group is the client id; ``enroll/`` is not read.
    """
    return _scan_videos(root, _REPLAY_ATTACK)


def casia_fasd(root: Path) -> list[Sample]:
    """CASIA-FASD: ``root/{train,test}_release/<subject>/<n>.avi``.

    1, 2, HR_1 live; 3, 4, HR_2 warped print -> "print"; 5, 6, HR_3 cut print -> "print-cut";
    7, 8, HR_4 -> "replay". The group is the split and the subject (numbers repeat across splits).
    """
    return _scan_videos(root, _CASIA)


def msu_mfsd(root: Path) -> list[Sample]:
    """MSU-MFSD: ``root/scene01/{real,attack}/*.mov|mp4`` named ``(real|attack)_clientNNN_...``.

    Attacks whose name has printed_photo -> "print", ipad_video or iphone_video -> "replay";
    the group is the client id.
    """
    return _scan_videos(root, _MSU)


def _celeba_types(root: Path) -> dict[str, int]:
    types: dict[str, int] = {}
    for name in ("train_label.json", "test_label.json"):
        path = root / "metas" / "intra_test" / name
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, RecursionError) as exc:
                raise DatasetLayoutError(f"{path}: not readable JSON ({str(exc)[:160]})") from None
            if not isinstance(data, dict):
                raise DatasetLayoutError(f"{path}: expected a JSON object of image -> labels")
            for key, values in data.items():
                if (
                    isinstance(values, list)
                    and len(values) > _CELEBA_TYPE_INDEX
                    and isinstance(values[_CELEBA_TYPE_INDEX], int)
                ):
                    types[key.replace("\\", "/")] = int(values[_CELEBA_TYPE_INDEX])
    return types


def celeba_spoof(root: Path) -> list[Sample]:
    """CelebA-Spoof: ``root/Data/{train,test}/<subject_id>/{live,spoof}/*.jpg|png``.

    The ``*_BB.txt`` face boxes next to the images are not used (see the module docstring). Spoof types
    come from ``root/metas/intra_test/{train,test}_label.json`` (key ``Data/train/<id>/spoof/<file>``,
    index 40 of the value), mapped by :data:`CELEBA_SPOOF_TYPES`; without that file, or for an image it
    does not list, a spoof image is labelled "spoof". The group is the subject id.
    """
    root = Path(root)
    splits = [root / "Data" / s for s in ("train", "test") if (root / "Data" / s).is_dir()]
    if not splits:
        raise DatasetLayoutError(f"{root}: expected Data/{{train,test}}/<subject_id>/{{live,spoof}}/")
    types = _celeba_types(root)
    samples = []
    for split in splits:
        for path in sorted(split.glob("*/*/*")):
            where = path.parent.name
            if where not in (LIVE, "spoof") or kind_of(path) != "image":
                continue
            label = LIVE
            if where == "spoof":
                label = CELEBA_SPOOF_TYPES.get(types.get(path.relative_to(root).as_posix(), -1), "spoof")
                # A label file that calls an image in spoof/ live is wrong about it: trust the folder.
                label = "spoof" if label == LIVE else label
            samples.append(Sample(path, label, display_path(f"celeba-{path.parent.parent.name}"), "image"))
    if not samples:
        raise DatasetLayoutError(f"{root}: no images in Data/{{train,test}}/<subject_id>/{{live,spoof}}/")
    return samples


def _manifest(path: Path) -> list[Sample]:
    path = Path(path)
    return load_manifest_csv(path / "manifest.csv" if path.is_dir() else path)


IMPORTERS: dict[str, Callable[[Path], list[Sample]]] = {
    "celeba_spoof": celeba_spoof,
    "celeba": celeba_spoof,
    "oulu_npu": oulu_npu,
    "oulu": oulu_npu,
    "replay_attack": replay_attack,
    "replayattack": replay_attack,
    "casia_fasd": casia_fasd,
    "casia": casia_fasd,
    "msu_mfsd": msu_mfsd,
    "msu": msu_mfsd,
    "manifest": _manifest,
    "recordings": load_recordings,
    "folders": scan_label_folders,
    # root/<label>/<files> whose images are already tight face crops: no detection, same resize/normalise
    "cropped": lambda root: scan_label_folders(root, precropped=True),
}


def load_any(spec: str) -> list[Sample]:
    """Samples from ``NAME:PATH`` (NAME a key of :data:`IMPORTERS`, e.g. ``oulu:/data/OULU``) or a bare
    path: a manifest CSV (or a folder holding ``manifest.csv``), a recordings folder (holds
    ``manifest.json``) or a ``root/<label>/<files>`` folder."""
    name, sep, rest = spec.partition(":")
    # A one-letter prefix is a Windows drive ("C:\\data"), never an importer name.
    if sep and name.lower() in IMPORTERS:
        return IMPORTERS[name.lower()](Path(rest))
    path = Path(spec)
    if not path.exists():
        raise DatasetLayoutError(
            f"{spec!r}: no such path; give a path or NAME:PATH with NAME one of {', '.join(sorted(IMPORTERS))}"
        )
    if path.is_file() or (path / "manifest.csv").is_file():
        return _manifest(path)
    if (path / MANIFEST_NAME).is_file():
        return load_recordings(path)
    return scan_label_folders(path)
