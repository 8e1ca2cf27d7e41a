"""core.files: the one atomic writer and the one image reader."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from liveness_app.core.files import atomic_write, atomic_write_bytes, atomic_write_text, read_image


def test_atomic_write_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    atomic_write_text(target, "old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["index.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would make it, not private
    with atomic_write(target, permissions=0o640) as handle:
        handle.write(b"shared")
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "manifest.json"
    atomic_write_text(target, "before")
    with pytest.raises(RuntimeError, match="half"):
        with atomic_write(target, "w", encoding="utf-8") as handle:
            handle.write("half of it")
            raise RuntimeError("half written")

    def no_space(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match="space"):
        atomic_write_text(target, "after")
    assert target.read_text() == "before" and os.listdir(tmp_path) == ["manifest.json"]


def test_read_image_reads_non_ascii_paths_and_refuses_garbage(tmp_path: Path) -> None:
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    folder = tmp_path / "visages-é-顔"
    folder.mkdir()
    ok, buf = cv2.imencode(".png", image)
    buf.tofile(str(folder / "face.png"))
    assert np.array_equal(read_image(folder / "face.png"), image)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "empty.png").write_bytes(b"")
    for name in ("broken.jpg", "empty.png"):
        with pytest.raises(OSError, match="cannot decode"):
            read_image(folder / name)
    with pytest.raises(OSError):
        read_image(folder / "missing.png")
