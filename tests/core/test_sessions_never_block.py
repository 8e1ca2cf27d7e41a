"""A recordings manifest written to hurt, second round: nothing blocks and nothing takes minutes. A session
whose file is a FIFO or a folder is never opened (by delete, training, the adaptation benchmark), and
settling a list long enough that one save per session took minutes is one save, and abortable. (Entries and
values refused: test_hostile_manifest.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from manifest_fakes import entry, write_manifest

from liveness_app.core import session_store as store_module
from liveness_app.core.session_store import RecorderError, SessionStore
from studio_fakes import make_checkpoint
from training.data.samples import load_recordings

ROOT = Path(__file__).resolve().parents[2]
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
GUARD_S = 300  # a bound on a hang, not a speed test: each guarded call below ends within seconds


def _within_guard(call: Callable[[], Any]) -> Any:
    """``call()`` on a thread: its result or exception, or a failure if it is still running after GUARD_S.
    Only for calls that open no video (see :func:`_run_guarded`)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = call()
        except BaseException as exc:  # SystemExit from argparse included: the caller looks at it
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD_S)
    assert not thread.is_alive(), f"still running after {GUARD_S} s: blocked on a FIFO?"
    if "error" in out:
        raise out["error"]
    return out["value"]


def _run_guarded(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` in a process of its own, killed after GUARD_S: OpenCV opens a video
    holding the GIL, so a reader blocked on a FIFO would freeze a thread guard together with the tests."""
    try:
        return subprocess.run(
            [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=GUARD_S
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"python -m {module} still running after {GUARD_S} s: blocked on a FIFO?")


def _release(fifo: Path) -> None:
    """Let a reader that a regression left blocked on ``fifo`` go: a writer opens it and closes it."""
    try:
        os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))
    except OSError:
        pass


@pytest.fixture
def fifos() -> Iterator[list[Path]]:
    """FIFOs a test makes; any reader a regression left blocked on one is let go at the end."""
    made: list[Path] = []
    yield made
    for fifo in made:
        _release(fifo)


# -- 4. a file belongs to one session: a FIFO or a folder in its place is never removed --------------------
@needs_fifo
@pytest.mark.parametrize("what", ["fifo", "folder"])
def test_delete_removes_nothing_when_the_file_is_not_a_regular_file_and_says_what_it_is(
    tmp_path: Path, what: str, fifos: list[Path]
) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    odd = root / "odd.avi"
    if what == "fifo":
        os.mkfifo(odd)
        fifos.append(odd)
    else:
        odd.mkdir()
        (odd / "inside.txt").write_text("keep")
    write_manifest(root, [entry("odd", "odd.avi")])
    store = SessionStore(root)
    with pytest.raises(RecorderError, match=f"nothing was deleted: .* is {'a FIFO' if what == 'fifo' else 'a folder'}"):
        _within_guard(lambda: store.delete("odd"))
    assert odd.exists() and [s["id"] for s in store.sessions()] == ["odd"]  # the session stays listed


# -- 8. a complete session whose file is a FIFO ------------------------------------------------------------
def _fifo_sessions(root: Path, fifos: list[Path]) -> Path:
    """Four live and four print sessions of two subjects, complete, each "video" a FIFO: enough for a
    training run or an adaptation (half of a user's sessions recorded, half later) to open them."""
    root.mkdir()
    entries = []
    for i, (label, subject) in enumerate(
        [(label, subject) for subject in ("ann", "bob") for label in ("live", "print") for _ in range(2)]
    ):
        os.mkfifo(root / f"s{i}.avi")
        fifos.append(root / f"s{i}.avi")
        entries.append(entry(f"s{i}", f"s{i}.avi", label=label, subject=subject))
    return write_manifest(root, entries)


@needs_fifo
def test_training_skips_and_lists_a_session_whose_file_is_not_a_regular_file(
    tmp_path: Path, fifos: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "rec"
    root.mkdir()
    (root / "ok.avi").write_bytes(b"video")
    os.mkfifo(root / "pipe.avi")
    fifos.append(root / "pipe.avi")
    (root / "dir.avi").mkdir()
    write_manifest(root, [entry("ok", "ok.avi"), entry("pipe", "pipe.avi"), entry("dir", "dir.avi")])
    samples = _within_guard(lambda: load_recordings(root))
    assert [s.path.name for s in samples] == ["ok.avi"]
    assert [(Path(path).name, reason) for path, reason in samples.skipped] == [
        ("pipe.avi", "a FIFO (named pipe), not a video file"),
        ("dir.avi", "a folder, not a video file"),
    ]
    assert "session pipe left out" in caplog.text


@needs_fifo
def test_liveness_train_never_blocks_on_a_fifo_session(tmp_path: Path, fifos: list[Path]) -> None:
    root = _fifo_sessions(tmp_path / "rec", fifos)
    done = _run_guarded("training", "--data", str(root), "--out", str(tmp_path / "run"), "--device", "cpu")
    assert done.returncode == 2 and "no data" in done.stderr and "Traceback" not in done.stderr
    assert "s0.avi is a FIFO (named pipe)" in done.stderr  # why there is none (a logged warning)


@needs_fifo
def test_the_adaptation_benchmark_never_blocks_on_a_fifo_session(tmp_path: Path, fifos: list[Path]) -> None:
    root = _fifo_sessions(tmp_path / "rec", fifos)
    base = make_checkpoint(tmp_path / "base.pt", input_size=32, name="base")
    done = _run_guarded(
        "training.studies.adapt_bench",
        "--data",
        f"recordings:{root}",
        "--model",
        str(base),
        "--out",
        str(tmp_path / "bench"),
        "--device",
        "cpu",
    )
    assert done.returncode == 2 and "error: --data: no data" in done.stderr and "Traceback" not in done.stderr
    assert "s0.avi is a FIFO (named pipe)" in done.stderr
    assert not (tmp_path / "bench").exists()


@needs_fifo
def test_the_adaptation_benchmark_leaves_out_a_fifo_any_dataset_lists(tmp_path: Path, fifos: list[Path]) -> None:
    from training.data.samples import Sample
    from training.studies.adapt_bench import readable_samples

    os.mkfifo(tmp_path / "pipe.mp4")
    fifos.append(tmp_path / "pipe.mp4")
    (tmp_path / "ok.mp4").write_bytes(b"video")
    samples = [Sample(tmp_path / name, "live", "ann", "video") for name in ("pipe.mp4", "ok.mp4", "gone.mp4")]
    skipped: list[tuple[str, str]] = []
    assert [s.path.name for s in readable_samples(samples, skipped)] == ["ok.mp4", "gone.mp4"]
    assert skipped == [(str(tmp_path / "pipe.mp4"), "a FIFO (named pipe), not an image or video file")]


# -- 11. recovery: one save, not one per session; abortable ------------------------------------------------
def _count_writes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    writes: list[Path] = []
    real = store_module.atomic_write

    def counting(path: Path, *args: Any, **kwargs: Any) -> Any:
        writes.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(store_module, "atomic_write", counting)
    return writes


def _interrupted(root: Path, n: int, complete: int = 0) -> SessionStore:
    """``n`` sessions a crash left "recording" (their files never written) after ``complete`` finished ones."""
    write_manifest(
        root,
        [entry(f"c{i}", f"c{i}.avi") for i in range(complete)]
        + [entry(f"r{i:03d}", f"r{i:03d}.avi", status="recording") for i in range(n)],
    )
    return SessionStore(root)


def test_recovery_writes_the_session_list_once_however_many_sessions_it_settles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _interrupted(tmp_path / "rec", 150, complete=50)
    writes = _count_writes(monkeypatch)
    settled = store.recover(save_every_s=3600)
    assert len(settled) == 150 and len(writes) == 1
    assert {s["status"] for s in store.sessions() if s["id"].startswith("r")} == {"incomplete"}
    assert all(s["recovered"] for s in store.sessions() if s["id"].startswith("r"))


def test_recovery_saves_on_the_way_when_it_runs_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _interrupted(tmp_path / "rec", 3)
    writes = _count_writes(monkeypatch)
    assert len(store.recover(save_every_s=0)) == 3 and len(writes) == 3  # every session once: nothing to redo


def test_recovery_stops_when_aborted_and_keeps_what_it_settled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "rec"
    store = _interrupted(root, 5)
    for i in range(5):
        (root / f"r{i:03d}.avi").write_bytes(b"video")
    abort = threading.Event()
    counted: list[str] = []

    def count(path: Path, stop: threading.Event | None = None) -> int:
        counted.append(Path(path).name)
        if len(counted) == 2:
            abort.set()  # the window closes while the second video is counted
        return 7

    monkeypatch.setattr(store_module, "count_frames", count)
    writes = _count_writes(monkeypatch)
    assert store.recover(abort) == ["r000", "r001"] and counted == ["r000.avi", "r001.avi"]
    assert {s["id"]: s["status"] for s in store.sessions()} == {
        "r000": "complete",
        "r001": "complete",
        "r002": "recording",
        "r003": "recording",
        "r004": "recording",
    }
    assert len(writes) == 1


def test_counting_a_long_video_stops_when_aborted(tmp_path: Path, sample_video: Path) -> None:
    root = tmp_path / "rec"
    store = _interrupted(root, 1)
    shutil.copyfile(sample_video, root / "r000.avi")  # read by its content, not its extension
    abort = threading.Event()
    abort.set()
    assert store.recover(abort) == [] and store.sessions()[0]["status"] == "recording"
    with pytest.raises(store_module._Aborted):
        store_module.count_frames(root / "r000.avi", abort)


def test_a_recovery_that_cannot_settle_a_session_deleted_meanwhile_leaves_it_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "rec"
    store = _interrupted(root, 2)

    def count_and_delete(path: Path, stop: threading.Event | None = None) -> int:
        if Path(path).name == "r000.avi":
            store.delete("r001")  # the user deletes another interrupted session meanwhile
        return 4

    for i in range(2):
        (root / f"r{i:03d}.avi").write_bytes(b"video")
    monkeypatch.setattr(store_module, "count_frames", count_and_delete)
    assert store.recover(save_every_s=3600) == ["r000"]
    assert [s["id"] for s in store.sessions()] == ["r000"]
