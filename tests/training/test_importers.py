"""training.data.importers: each public dataset layout on a tiny fake tree (empty files: only names matter)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from training.data.importers import (
    IMPORTERS,
    DatasetLayoutError,
    casia_fasd,
    celeba_spoof,
    load_any,
    msu_mfsd,
    oulu_npu,
    replay_attack,
)
from training.data.samples import Sample


def _tree(root: Path, *rels: str) -> Path:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return root


def _by_name(samples: list[Sample]) -> dict[str, tuple[str, str]]:
    return {s.path.name: (s.label, s.group) for s in samples}


def test_oulu_npu(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        "Train_files/1_1_01_1.avi",
        "Train_files/1_1_01_2.avi",
        "Train_files/1_1_01_5.avi",
        "Dev_files/2_3_21_3.avi",
        "Test_files/6_3_36_4.avi",
        "Train_files/1_1_01_1.txt",
        "Train_files/notes.avi",
    )
    got = _by_name(oulu_npu(tmp_path))
    assert got == {
        "1_1_01_1.avi": ("live", "oulu-01"),
        "1_1_01_2.avi": ("print", "oulu-01"),
        "1_1_01_5.avi": ("replay", "oulu-01"),
        "2_3_21_3.avi": ("print", "oulu-21"),
        "6_3_36_4.avi": ("replay", "oulu-36"),
    }


def test_replay_attack(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        "train/real/client001_session01_webcam_authenticate_adverse_1.mov",
        "train/attack/fixed/attack_print_client001_session01_highdef_photo_adverse.mov",
        "devel/attack/hand/attack_mobile_client003_session01_mobile_video_controlled.mov",
        "test/attack/hand/attack_highdef_client009_session01_highdef_video_adverse.mov",
        "enroll/real/client001_session01_enroll_1.mov",
    )
    samples = replay_attack(tmp_path)
    assert sorted((s.label, s.group) for s in samples) == [
        ("live", "replayattack-001"),
        ("print", "replayattack-001"),
        ("replay", "replayattack-003"),
        ("replay", "replayattack-009"),
    ]
    assert all(s.kind == "video" and s.attack_type in ("", "print", "replay") for s in samples)


def test_casia_fasd_groups_keep_splits_apart(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        "train_release/1/1.avi",
        "train_release/1/HR_2.avi",
        "train_release/1/6.avi",
        "train_release/1/8.avi",
        "test_release/1/HR_1.avi",
        "test_release/1/HR_4.avi",
        "test_release/1/9.avi",
    )
    got = sorted((s.path.parent.parent.name, s.path.name, s.label, s.group) for s in casia_fasd(tmp_path))
    assert got == [
        ("test_release", "HR_1.avi", "live", "casia-test-1"),
        ("test_release", "HR_4.avi", "replay", "casia-test-1"),
        ("train_release", "1.avi", "live", "casia-train-1"),
        ("train_release", "6.avi", "print-cut", "casia-train-1"),
        ("train_release", "8.avi", "replay", "casia-train-1"),
        ("train_release", "HR_2.avi", "print", "casia-train-1"),
    ]


def test_msu_mfsd(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        "scene01/real/real_client001_android_SD_scene01.mp4",
        "scene01/real/real_client001_laptop_SD_scene01.mov",
        "scene01/attack/attack_client001_laptop_SD_printed_photo_scene01.mov",
        "scene01/attack/attack_client002_android_SD_ipad_video_scene01.mp4",
        "scene01/attack/attack_client002_android_SD_iphone_video_scene01.mp4",
        "scene01/attack/attack_client002_android_SD_unknown_scene01.mp4",
    )
    got = _by_name(msu_mfsd(tmp_path))
    assert got == {
        "real_client001_android_SD_scene01.mp4": ("live", "msu-001"),
        "real_client001_laptop_SD_scene01.mov": ("live", "msu-001"),
        "attack_client001_laptop_SD_printed_photo_scene01.mov": ("print", "msu-001"),
        "attack_client002_android_SD_ipad_video_scene01.mp4": ("replay", "msu-002"),
        "attack_client002_android_SD_iphone_video_scene01.mp4": ("replay", "msu-002"),
    }


def test_celeba_spoof_with_and_without_labels(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        "Data/train/10/live/000001.jpg",
        "Data/train/10/live/000001_BB.txt",
        "Data/train/10/spoof/000002.png",
        "Data/train/10/spoof/000003.jpg",
        "Data/test/77/spoof/000004.jpg",
    )
    unlabelled = _by_name(celeba_spoof(tmp_path))
    assert unlabelled == {
        "000001.jpg": ("live", "celeba-10"),
        "000002.png": ("spoof", "celeba-10"),
        "000003.jpg": ("spoof", "celeba-10"),
        "000004.jpg": ("spoof", "celeba-77"),
    }

    def vector(spoof_type: int) -> list[int]:
        return [0] * 40 + [spoof_type, 0, 0, 1]

    labels = tmp_path / "metas" / "intra_test"
    labels.mkdir(parents=True)
    (labels / "train_label.json").write_text(
        json.dumps({"Data/train/10/spoof/000002.png": vector(5), "Data/train/10/spoof/000003.jpg": vector(8)})
    )
    (labels / "test_label.json").write_text(json.dumps({"Data/test/77/spoof/000004.jpg": vector(10)}))
    labelled = {name: label for name, (label, _) in _by_name(celeba_spoof(tmp_path)).items()}
    assert labelled == {"000001.jpg": "live", "000002.png": "paper-cut", "000003.jpg": "replay", "000004.jpg": "mask"}


@pytest.mark.parametrize("importer", [oulu_npu, replay_attack, casia_fasd, msu_mfsd, celeba_spoof])
def test_wrong_layout_is_a_clear_error(tmp_path: Path, importer: Callable[[Path], list]) -> None:
    _tree(tmp_path, "live/a.jpg", "videos/clip.avi")
    with pytest.raises(DatasetLayoutError, match="expected"):
        importer(tmp_path)


def test_right_folders_but_no_matching_files(tmp_path: Path) -> None:
    _tree(tmp_path, "Train_files/readme.txt", "Train_files/video.avi")
    with pytest.raises(DatasetLayoutError, match="Phone_Session_User_File"):
        oulu_npu(tmp_path)


def test_load_any_dispatch(tmp_path: Path) -> None:
    oulu = _tree(tmp_path / "oulu", "Train_files/1_1_01_1.avi")
    assert [s.label for s in load_any(f"oulu:{oulu}")] == ["live"]
    assert load_any(f"OULU_NPU:{oulu}") == load_any(f"oulu:{oulu}")

    data = tmp_path / "data"
    _tree(data, "replay_crops/live/a_1.jpg")
    (data / "manifest.csv").write_text("path,label,attack_type,group\nreplay_crops/live/a_1.jpg,live,,a\n")
    assert load_any(str(data / "manifest.csv")) == load_any(str(data)) == load_any(f"manifest:{data}")
    assert load_any(str(data))[0].precropped

    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "manifest.json").write_text(
        json.dumps(
            {
                "version": 1,
                "sessions": [{"id": "1", "file": "a.mp4", "label": "live", "subject": "x", "status": "complete"}],
            }
        )
    )
    assert [s.group for s in load_any(str(rec))] == ["x"]

    folders = _tree(tmp_path / "folders", "print/bob_1.jpg")
    assert [s.label for s in load_any(str(folders))] == ["print"]
    assert set(IMPORTERS) >= {"oulu", "celeba", "casia", "msu", "replay_attack", "recordings"}
    with pytest.raises(DatasetLayoutError, match="NAME:PATH"):
        load_any(str(tmp_path / "nowhere"))
