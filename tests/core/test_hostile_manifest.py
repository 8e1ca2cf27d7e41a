"""A recordings manifest written to hurt, second round: an entry that claims another session's video or the
store's own files, and a value the JSON decoder cannot take. Every refusal says why. (Sessions whose file is a
FIFO, and recovery of a long list: test_sessions_never_block.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from manifest_fakes import entry, write_manifest

from liveness_app.core import manifest_file
from liveness_app.core.manifest_file import read_manifest
from liveness_app.core.session_store import RecorderError, SessionStore
from liveness_app.core.sessions import ManifestError
from training.data.samples import DatasetLayoutError, load_recordings


# -- 4. a file belongs to one session, and is never one of the store's own files ---------------------------
def test_a_second_entry_claiming_the_same_file_is_refused_and_deleting_the_first_spares_nothing_else(
    tmp_path: Path,
) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    (root / "a.avi").write_bytes(b"video a")
    (root / "alias.avi").symlink_to(root / "a.avi")
    write_manifest(
        root, [entry("a", "a.avi"), entry("x", "a.avi"), entry("sub", "./a.avi"), entry("link", "alias.avi")]
    )
    store = SessionStore(root)
    manifest = store.read()
    assert [s["id"] for s in manifest.sessions] == ["a"]
    assert {bad.session_id for bad in manifest.invalid} == {"x", "sub", "link"}
    assert all("already the video of session 'a'" in bad.reason for bad in manifest.invalid)
    with pytest.raises(RecorderError, match="no valid session"):
        store.delete("x")
    assert (root / "a.avi").read_bytes() == b"video a"
    assert store.delete("a") == (root / "a.avi").resolve()
    assert [s["id"] for s in json.loads(store.path.read_text())["sessions"]] == ["x", "sub", "link"]


@pytest.mark.parametrize(
    "file, reason",
    [
        ("manifest.json", "the session list or a copy of it"),
        ("manifest.json.unreadable-20260101-000000", "the session list or a copy of it"),
        ("manifest.json.1a2b3c4d.tmp", "the session list or a copy of it"),
        ("other.avi.5e6f7a8b.tmp", "a temporary file of the session list"),
        ("notes.txt", "not a video"),
        ("no-extension", "not a video"),
        ("alias.avi", "the session list or a copy of it (it leads to 'manifest.json')"),
    ],
)
def test_the_store_files_are_never_a_session_file(tmp_path: Path, file: str, reason: str) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    (root / "alias.avi").symlink_to(root / "manifest.json")
    if not (root / file).exists() and file != "manifest.json":
        (root / file).write_text("precious")
    write_manifest(root, [entry("evil", file), entry("ok", "ok.avi")])
    store = SessionStore(root)
    manifest = store.read()
    assert [s["id"] for s in manifest.sessions] == ["ok"] and reason in manifest.invalid[0].reason
    with pytest.raises(RecorderError, match="no valid session"):
        store.delete("evil")
    assert (root / file).exists() and (root / "manifest.json").exists()
    assert [s.path.name for s in load_recordings(root)] == ["ok.avi"]


def test_deleting_a_session_whose_video_is_gone_removes_the_entry_and_says_nothing_was_removed(tmp_path: Path) -> None:
    root = write_manifest(tmp_path / "rec", [entry("gone", "gone.avi")])
    store = SessionStore(root)
    assert store.delete("gone") is None and store.sessions() == []


def test_a_symlink_loop_is_a_refused_entry_not_a_crash(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    (root / "loop.avi").symlink_to(root / "loop.avi")
    write_manifest(root, [entry("loop", "loop.avi"), entry("ok", "ok.avi")])
    manifest = read_manifest(root)
    assert [s["id"] for s in manifest.sessions] == ["ok"] and "symlink loop" in manifest.invalid[0].reason


# -- 7. values that break the decoder ----------------------------------------------------------------------
UNDECODABLE = {
    "a 5,000-digit number": '{"version": 1, "sessions": [{"id": "a", "frames": ' + "9" * 5000 + "}]}",
    "200,000-deep nesting": "[" * 200_000 + "]" * 200_000,
}


@pytest.mark.parametrize("text", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_what_the_json_decoder_raises_is_one_manifest_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ManifestError, match="manifest.json cannot be read") as refused:
        read_manifest(tmp_path)
    assert "set_int_max_str_digits" not in str(refused.value)  # advice for programmers, not users
    with pytest.raises(DatasetLayoutError, match="cannot read recordings manifest"):
        load_recordings(tmp_path)


def test_a_manifest_over_the_size_limit_is_refused_before_it_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open(tmp_path / "manifest.json", "wb") as f:
        f.truncate(manifest_file.MAX_MANIFEST_BYTES + 1)  # sparse: no disk space used

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a manifest over the limit was decoded")

    monkeypatch.setattr(manifest_file.json, "loads", never)
    with pytest.raises(ManifestError, match="over the 64 MiB"):
        read_manifest(tmp_path)


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("fps", 10**400, "'fps' must be a number"),  # no float holds it: OverflowError in math.isfinite
        ("subject", json.loads("[" * 500 + "]" * 500), "'subject' must be text, got [[[...]]]"),
        ("notes", "x" * 1_000_000, None),  # long text is text: valid
        ("subject", {"k": "v" * 1_000_000}, "'subject' must be text, got {'k': 'vvvvvvvvvvvvvvvvv"),
    ],
)
def test_values_that_cannot_be_used_are_refused_with_a_short_reason(
    tmp_path: Path, field: str, value: Any, reason: str | None
) -> None:
    write_manifest(tmp_path, [entry("odd", "odd.avi", **{field: value}), entry("ok", "ok.avi")])
    manifest = read_manifest(tmp_path)
    if reason is None:
        assert len(manifest.sessions) == 2 and not manifest.invalid
        return
    assert [s["id"] for s in manifest.sessions] == ["ok"]
    assert manifest.invalid[0].reason.startswith(reason) and len(manifest.invalid[0].reason) < 200


@pytest.mark.parametrize("text", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_liveness_train_ends_with_one_line_and_status_2_on_an_undecodable_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    from training.__main__ import main as train_main

    root = tmp_path / "rec"
    root.mkdir()
    (root / "manifest.json").write_text(text)
    assert train_main(["--data", str(root), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("liveness-train: error: cannot read recordings manifest:")
