"""Files written whole or not at all, and images read from any path: the one helper of each kind.

Everything that replaces a file the app or training relies on (a model, the training state, the recordings
manifest, the crop cache's index) goes through :func:`atomic_write`; every image read from disk goes
through :func:`read_image`.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

import cv2
import numpy as np

# Like tempfile.mkstemp's: binary on Windows (no newline translation below Python), not inherited.
_TEMP_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
               | getattr(os, "O_NOINHERIT", 0))


def _temp_beside(path: Path) -> tuple[int, Path]:
    """A new, empty temporary file in ``path``'s folder (same file system: the rename is atomic). Made
    with mode 0o666 less the umask, as ``open()`` would, where mkstemp would make it private."""
    while True:
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue


@contextmanager
def atomic_write(path: Path, mode: str = "wb", encoding: str | None = None,
                 permissions: int | None = None) -> Iterator[IO[Any]]:
    """A file object to write ``path``'s new content to: when the block ends without error it is flushed,
    fsynced and renamed over ``path`` (``permissions`` applied first, if given); on any error the
    temporary file is removed and ``path`` is left as it was. Readers see the old file or the new one,
    never half of one, even after a crash or with a full disk."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        handle = os.fdopen(fd, mode, encoding=encoding)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if permissions is not None:
            os.chmod(tmp, permissions)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "w", encoding=encoding) as handle:
        handle.write(text)


def read_image(path: Path) -> np.ndarray:
    """An image file as BGR uint8; OSError when it cannot be read or decoded. Read as bytes and decoded
    in memory, because ``cv2.imread`` fails on non-ASCII paths on Windows."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise OSError(f"cannot decode image {path}")
    return image


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content, read in 1 MiB blocks (models are tens of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
