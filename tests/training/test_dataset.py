"""training.data.samples and training.data.folders: manifests, label folders, recordings, group splits and summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.data.folders import scan_label_folders
from training.data.samples import (
    UNKNOWN_SUBJECT,
    DatasetLayoutError,
    Sample,
    load_manifest_csv,
    load_recordings,
    summarize,
)
from training.data.splits import split_by_group


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_sample_attack_type_and_ids() -> None:
    attack = Sample(Path("a/x.jpg"), "print", "g1", "image", source_video="clip7")
    assert attack.attack_type == "print" and not attack.is_live
    assert attack.video_id == "clip7"
    live = Sample(Path("a/y.mp4"), "live", "g1", "video")
    assert live.is_live and live.attack_type == "" and live.video_id == str(Path("a/y.mp4"))
    assert Sample(Path("a/z.jpg"), "live", "g1", "image").video_id == str(Path("a/z.jpg"))
    with pytest.raises(ValueError):
        Sample(Path("a/x.jpg"), "live", "g1", "image", attack_type="print")
    with pytest.raises(ValueError):
        Sample(Path("a/x.gif"), "live", "g1", "gif")


def test_manifest_csv_marks_precropped(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text(
        "path,label,attack_type,group\n"
        "nuaa_train/live/0001_a.jpg,live,,nuaa-0001\n"
        "nuaa_train/print/0001_b.jpg,print,print,nuaa-0001\n"
        "replay_crops/replay/Bob_3.jpg,replay,replay,Bob\n"
        "replay_crops/live/Bob_4.jpg,live,,Bob\n"
        "clips/c.mp4,replay,,carol\n"
    )
    samples = load_manifest_csv(tmp_path / "manifest.csv")
    assert [s.precropped for s in samples] == [False, False, True, True, False]
    assert samples[0].path == tmp_path / "nuaa_train/live/0001_a.jpg"
    assert [s.attack_type for s in samples] == ["", "print", "replay", "", "replay"]
    assert samples[-1].kind == "video" and samples[2].group == "Bob"
    none = load_manifest_csv(tmp_path / "manifest.csv", precropped_prefixes=())
    assert not any(s.precropped for s in none)


def test_manifest_csv_precropped_column_and_errors(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,label,group,precropped\nx/a.png,live,g,yes\nx/b.png,live,g,\n")
    assert [s.precropped for s in load_manifest_csv(tmp_path / "m.csv")] == [True, False]
    (tmp_path / "bad.csv").write_text("file,label\na.jpg,live\n")
    with pytest.raises(DatasetLayoutError, match="group"):
        load_manifest_csv(tmp_path / "bad.csv")
    (tmp_path / "bad2.csv").write_text("path,label,group\na.txt,live,g\n")
    with pytest.raises(DatasetLayoutError, match=":2"):
        load_manifest_csv(tmp_path / "bad2.csv")


def test_scan_label_folders_groups(tmp_path: Path) -> None:
    for rel in (
        "live/alice_001.jpg",
        "print/alice_002.PNG",
        "replay/bob_take1.mp4",
        "live/sess1/carol_9.webp",
        "live/notes.txt",
        ".hidden/x.jpg",
    ):
        _touch(tmp_path / rel)
    samples = scan_label_folders(tmp_path)
    got = {(s.path.relative_to(tmp_path).as_posix(), s.label, s.group, s.kind) for s in samples}
    assert got == {
        ("live/alice_001.jpg", "live", "alice", "image"),
        ("print/alice_002.PNG", "print", "alice", "image"),
        ("replay/bob_take1.mp4", "replay", "bob_take1", "video"),
        ("live/sess1/carol_9.webp", "live", "sess1/carol", "image"),
    }
    assert not any(s.precropped for s in samples)
    assert all(s.precropped for s in scan_label_folders(tmp_path, precropped=True))
    by_regex = scan_label_folders(tmp_path, group_pattern=r"(?P<subject>[a-z]+)_")
    assert {s.group for s in by_regex} == {"alice", "bob", "carol"}


def test_scan_label_folders_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError):
        scan_label_folders(tmp_path / "missing")
    _touch(tmp_path / "live" / "readme.txt")
    with pytest.raises(DatasetLayoutError, match="no images"):
        scan_label_folders(tmp_path)
    _touch(tmp_path / "live" / "x.jpg")
    with pytest.raises(DatasetLayoutError, match="does not match"):
        scan_label_folders(tmp_path, group_pattern=r"subject(\d+)")


def _session(i: int, label: str, subject: str, status: str = "complete") -> dict:
    return {
        "id": f"s{i}",
        "file": f"clips/s{i}.mp4",
        "label": label,
        "attack_type": "" if label == "live" else label,
        "subject": subject,
        "camera": "cam0",
        "width": 640,
        "height": 480,
        "fps": 30.0,
        "duration_s": 5.0,
        "frames": 150,
        "date": "2024-05-01T10:00:00",
        "notes": "",
        "status": status,
    }


def test_load_recordings_skips_incomplete(tmp_path: Path) -> None:
    sessions = [
        _session(1, "live", "ann"),
        _session(2, "replay-phone", "ann"),
        _session(3, "print", "ben", status="incomplete"),
        _session(4, "live", ""),
    ]
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "sessions": sessions}))
    samples = load_recordings(tmp_path)
    assert [s.path for s in samples] == [tmp_path / "clips" / f"s{i}.mp4" for i in (1, 2, 4)]
    assert [s.group for s in samples] == ["ann", "ann", UNKNOWN_SUBJECT]
    assert samples[1].attack_type == "replay-phone" and all(s.kind == "video" for s in samples)
    assert len(load_recordings(tmp_path, include_incomplete=True)) == 4


def test_load_recordings_bad_manifest(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="manifest.json"):
        load_recordings(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 2, "sessions": []}))
    with pytest.raises(DatasetLayoutError, match="version"):
        load_recordings(tmp_path)


def _population(n_groups: int = 20) -> list[Sample]:
    samples = []
    for g in range(n_groups):
        for i in range(3 + g % 4):
            label = "live" if i % 2 == 0 else ("print" if g % 3 else "replay")
            samples.append(Sample(Path(f"d/g{g}_{i}.jpg"), label, f"g{g}", "image"))
    return samples


def test_split_never_leaks_a_group_and_is_deterministic() -> None:
    samples = _population()
    train, dev, test = split_by_group(samples, dev_fraction=0.2, test_fraction=0.2, seed=7)
    groups = [{s.group for s in part} for part in (train, dev, test)]
    assert all(groups) and not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert len(train) + len(dev) + len(test) == len(samples)
    assert {s.is_live for s in dev} == {True, False} and {s.is_live for s in test} == {True, False}
    assert 0.1 < len(dev) / len(samples) < 0.3
    assert split_by_group(samples, 0.2, 0.2, seed=7) == (train, dev, test)
    assert any(split_by_group(samples, 0.2, 0.2, seed=s)[1] != dev for s in range(8, 12))


def test_split_with_explicit_groups() -> None:
    samples = _population(6)
    train, dev, test = split_by_group(samples, dev_groups=["g1", "g2"], test_groups=["g5"])
    assert {s.group for s in dev} == {"g1", "g2"} and {s.group for s in test} == {"g5"}
    assert {s.group for s in train} == {"g0", "g3", "g4"}
    with pytest.raises(ValueError, match="unknown"):
        split_by_group(samples, dev_groups=["nobody"])
    with pytest.raises(ValueError, match="both"):
        split_by_group(samples, dev_groups=["g1"], test_groups=["g1"])
    with pytest.raises(ValueError, match="fractions"):
        split_by_group(samples, dev_fraction=0.7, test_fraction=0.4)


def test_split_keeps_train_with_few_groups() -> None:
    samples = _population(2)
    train, dev, test = split_by_group(samples, dev_fraction=0.5, test_fraction=0.3)
    assert train and dev and not test


def test_summarize_is_json_serialisable() -> None:
    samples = _population(3) + [Sample(Path("v.mp4"), "live", "g0", "video", precropped=True)]
    summary = summarize(samples)
    json.dumps(summary)
    assert summary["samples"] == len(samples) == summary["live"] + summary["attack"]
    assert summary["groups"] == 3 and summary["per_kind"] == {"image": len(samples) - 1, "video": 1}
    assert summary["per_group"]["g0"] == 4 and summary["precropped"] == 1
    assert set(summary["per_attack_type"]) == {"print", "replay"}
