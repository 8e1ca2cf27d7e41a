"""Files written whole or not at all, and images read from any path: the one helper of each kind.

Everything that replaces a file the app or training relies on (a model, the training state, the recordings
manifest, the crop cache's index) goes through :func:`atomic_write`; every image read from disk goes
through :func:`read_image`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

import cv2
import numpy as np

# Like tempfile.mkstemp's: binary on Windows (no newline translation below Python), not inherited.
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)


def _temp_beside(path: Path) -> tuple[int, Path]:
    """A new, empty temporary file in ``path``'s folder (same file system: the rename is atomic). Made
    with mode 0o666 less the umask, as ``open()`` would, where mkstemp would make it private."""
    while True:
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue


class DiskFullError(OSError):
    """A write failed because the disk (or the user's quota) is full; the message says where."""

    def __str__(self) -> str:
        return str(self.strerror)


def _disk_full(path: Path, exc: OSError) -> OSError:
    """``exc`` as a :class:`DiskFullError` naming the folder and its free space when the disk is full."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or isinstance(exc, DiskFullError):
        return exc
    try:
        free = f"{shutil.disk_usage(path.parent).free / 2**20:.0f} MiB free"
    except OSError:
        free = "free space unknown"
    return DiskFullError(
        exc.errno,
        f"the disk is full: cannot write {path.name} in {path.parent} ({free}); "
        "free some space and try again (the previous file, if any, is kept)",
    )


@contextmanager
def atomic_write(
    path: Path,
    mode: str = "wb",
    encoding: str | None = None,
    permissions: int | None = None,
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """A file object to write ``path``'s new content to: when the block ends without error it is flushed,
    fsynced and renamed over ``path`` (``permissions`` applied first, if given); on any error the
    temporary file is removed and ``path`` is left as it was. Readers see the old file or the new one,
    never half of one, even after a crash or with a full disk (which raises :class:`DiskFullError`).
    Temporary files a killed process leaves behind are removed by :func:`remove_stale_temporaries`."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    fd, tmp = _temp_beside(path)
    try:
        handle = os.fdopen(fd, mode, encoding=encoding, newline=newline)
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
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _disk_full(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_copy(source: Path, target: Path, permissions: int | None = 0o644) -> None:
    """Copy ``source`` over ``target`` atomically: a kill or a full disk leaves the old ``target`` whole."""
    with open(source, "rb") as src, atomic_write(Path(target), permissions=permissions) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def remove_stale_temporaries(folder: Path, older_than_s: float = 3600.0, recursive: bool = False) -> list[Path]:
    """Delete the temporary files :func:`atomic_write` left in ``folder`` when its process was killed
    (older than ``older_than_s``, so a write in progress in another process is left alone); returns them.
    ``recursive`` walks sub-folders too, never through a symbolic link."""
    removed: list[Path] = []
    for path in _files_in(Path(folder), recursive):
        try:
            if (
                _TEMP_NAME.match(path.name)
                and path.is_file()
                and not path.is_symlink()
                and time.time() - path.stat().st_mtime > older_than_s
            ):
                path.unlink()
                removed.append(path)
        except OSError:
            continue  # another process took it, or no permission: not ours to force
    return removed


_TEMP_NAME = re.compile(r".+\.[0-9a-f]{8}\.tmp$")  # what _temp_beside names: "<name>.<8 hex digits>.tmp"


def _files_in(folder: Path, recursive: bool) -> Iterator[Path]:
    """The files in ``folder`` (and below, with ``recursive``; links to folders are not followed)."""
    if recursive:
        for root, _, names in os.walk(folder, followlinks=False):
            yield from (Path(root) / name for name in names)
    elif folder.is_dir():
        yield from folder.iterdir()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "w", encoding=encoding) as handle:
        handle.write(text)


def read_image(path: Path) -> np.ndarray:
    """An image file as BGR uint8; OSError when it cannot be read or decoded, :class:`ImageTooLargeError`
    (an OSError) when its header declares more than :data:`MAX_IMAGE_PIXELS`. Read as bytes and decoded
    in memory, because ``cv2.imread`` fails on non-ASCII paths on Windows; the header is checked in those
    same bytes, so what is checked is what is decoded."""
    data = Path(path).read_bytes()
    _check_image_header(data, path)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise OSError(f"cannot decode image {display_path(path)}")
    # A header only OpenCV could read is checked once decoded: the memory is spent, but nothing
    # downstream (the face detector) gets the frame.
    check_frame_size(image.shape[1], image.shape[0], display_path(path))
    return image


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's content, read in 1 MiB blocks (models are tens of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Frames larger than this are refused before they are decoded. An 8K frame is 33 MP and phone photos
# are 12-50 MP, so no real face image or video comes near it, while a forged header (a 35 KB JPEG or a
# 1 MB PNG that says 32000x32000) would otherwise decode into 3 GB and crash the face detector, and with
# it the app, which runs training in its own process.
MAX_IMAGE_PIXELS = 50_000_000


class ImageTooLargeError(OSError):
    """An image or video frame larger than :data:`MAX_IMAGE_PIXELS`, refused before decoding."""


def check_frame_size(width: int, height: int, name: str) -> None:
    """Raise :class:`ImageTooLargeError` naming ``name`` and its size when ``width`` x ``height`` is
    over :data:`MAX_IMAGE_PIXELS`."""
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(
            f"{name} declares {width}x{height} pixels ({width * height / 1e6:.0f} MP), "
            f"over the {MAX_IMAGE_PIXELS / 1e6:.0f} MP limit"
        )


def _check_image_header(data: bytes, path: Path) -> None:
    """Refuse ``data`` when its header declares too many pixels. Pillow parses only the header here
    (``Image.open`` is lazy); a file it cannot parse is left to OpenCV, which decides as before."""
    import io

    from PIL import Image  # imported on first use: the app's start does not need it

    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limit (89 MP warns, 179 MP raises) is above ours, so its verdict is ours too; the
        # warning is caught where warnings are errors (the tests) and otherwise just printed.
        raise ImageTooLargeError(
            f"{display_path(path)}: over the {MAX_IMAGE_PIXELS / 1e6:.0f} MP limit; not decoded ({exc})"
        ) from exc
    except (OSError, ValueError, EOFError, SyntaxError):
        return  # not a format Pillow knows, or a header it cannot parse
    check_frame_size(width, height, display_path(path))


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` as text any file, log or terminal takes: the bytes of a file name that are not UTF-8
    (surrogate escapes on Linux, where names are bytes) are written as ``\\xff``. For messages, CSV files
    and summaries only; the file itself is opened with ``path``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def opencv_path(path: Path) -> str | bytes:
    """``path`` as OpenCV's video functions take it: its text, or its bytes when the name is not UTF-8
    (a str with surrogate escapes crashes OpenCV's binding, the whole process with it)."""
    try:
        str(path).encode("utf-8")
        return str(path)
    except UnicodeEncodeError:
        return os.fsencode(path)
