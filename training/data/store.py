"""Every cached crop decoded once: one uint8 file of raw BGR pixels beside the crop cache's index.

The crop cache (:mod:`.cache`) keeps PNGs, which cost more to decode (about 1 ms each on one core) than
everything else the training input does to a crop. :func:`store_steps` decodes each PNG once into
``<cache folder>/decoded-<token>.u8``, crop after crop at its own size, and lists them in
``decoded.json``: the data file's name and size, and per crop its name (relative to the cache folder),
height, width, and its PNG's size and mtime. Epochs then read crops as views of a memory map
(:meth:`DecodedStore.crop`): no decoding, and the page cache shares them between loader workers.

The store only ever grows, like the cache: a run that needs crops it lacks (or whose PNG changed since)
writes a new data file holding the old crops and the new ones, then the new index (each atomically, so a
crash or a full disk leaves the previous store whole), then removes the previous data file.

Everything read back is untrusted: the index must be well-formed, its sizes must add up to the data file's
size, every side must be 1..:data:`MAX_SIDE`. A store that fails is rebuilt from the PNGs, with a message;
when it cannot be written (a full disk, a read-only cache), training reads the PNGs as before.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Generator, Sequence

import numpy as np

from liveness_app.core.files import atomic_write, atomic_write_text, read_image, remove_stale_temporaries

STORE_FORMAT = 1
STORE_INDEX = "decoded.json"
MAX_SIDE = 4096  # px: the largest crop side a cache makes (its cache_size), and then some
_DATA_NAME = re.compile(r"decoded-[0-9a-f]{16}\.u8")
_CHUNK = 256  # crops decoded between two progress steps


class StoreError(ValueError):
    """The decoded store on disk is missing, malformed or does not match its data file."""


class DecodedStore:
    """Read side of a store: ``crop(row)`` is a read-only (h, w, 3) view of a memory map, opened on first
    use in each process (a pickled store, as loader workers get it under spawn, carries no map)."""

    def __init__(self, folder: Path, data_name: str, names: Sequence[str], shapes: np.ndarray, stamps: np.ndarray):
        self.folder = Path(folder)
        self.data_path = self.folder / data_name
        self.names = list(names)
        self.shapes = np.asarray(shapes, np.int64).reshape(-1, 2)
        self.stamps = np.asarray(stamps, np.int64).reshape(-1, 2)  # PNG (size, mtime_ns) when decoded
        sizes = self.shapes[:, 0] * self.shapes[:, 1] * 3
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._rows = {name: i for i, name in enumerate(self.names)}
        self._data: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.names)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_data": None}

    @property
    def nbytes(self) -> int:
        return int(self.offsets[-1])

    def row(self, path: Path) -> int:
        """The row of a crop of this cache folder, -1 when the store lacks it."""
        try:
            name = Path(path).relative_to(self.folder).as_posix()
        except ValueError:
            return -1
        return self._rows.get(name, -1)

    def crop(self, row: int) -> np.ndarray:
        """The crop of ``row`` (BGR uint8, read-only view); OSError when the data file cannot be mapped."""
        if self._data is None:
            self._data = np.memmap(self.data_path, np.uint8, mode="r", shape=(self.nbytes,)) if self.nbytes else None
            if self._data is None:
                raise OSError("the decoded store is empty")
        h, w = self.shapes[row]
        return self._data[self.offsets[row] : self.offsets[row + 1]].reshape(h, w, 3)

    @classmethod
    def open(cls, folder: Path) -> "DecodedStore":
        """The store of a cache folder, checked (module docstring); :class:`StoreError` says what is wrong."""
        folder = Path(folder)
        try:
            raw = json.loads((folder / STORE_INDEX).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError("none yet") from None
        except (OSError, ValueError, RecursionError, MemoryError) as exc:
            raise StoreError(f"index unreadable ({str(exc)[:80]})") from None
        if not isinstance(raw, dict) or raw.get("format") != STORE_FORMAT:
            raise StoreError("index of another format")
        data_name, total, crops = raw.get("data"), raw.get("bytes"), raw.get("crops")
        if not isinstance(data_name, str) or not _DATA_NAME.fullmatch(data_name):
            raise StoreError("index names no data file of its own")
        if not _is_int(total) or not isinstance(crops, list):
            raise StoreError("index malformed")
        names, shapes, stamps = _check_rows(crops)
        if int((shapes[:, 0] * shapes[:, 1] * 3).sum()) != total:
            raise StoreError("crop sizes do not add up to the data size")
        try:
            on_disk = (folder / data_name).stat().st_size
        except OSError:
            raise StoreError(f"data file {data_name} missing") from None
        if on_disk != total:
            raise StoreError(f"data file holds {on_disk} bytes, the index says {total}")
        return cls(folder, data_name, names, shapes, stamps)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_rows(crops: list) -> tuple[list[str], np.ndarray, np.ndarray]:
    names: list[str] = []
    numbers = np.zeros((len(crops), 4), np.int64)
    for i, row in enumerate(crops):
        if not (isinstance(row, list) and len(row) == 5 and isinstance(row[0], str) and all(map(_is_int, row[1:]))):
            raise StoreError(f"index entry {i} malformed")
        if not (1 <= row[1] <= MAX_SIDE and 1 <= row[2] <= MAX_SIDE):
            raise StoreError(f"index entry {i}: crop side outside 1..{MAX_SIDE}")
        names.append(row[0])
        numbers[i] = row[1:]
    if len(set(names)) != len(names):
        raise StoreError("index lists a crop twice")
    return names, numbers[:, :2], numbers[:, 2:]


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def store_steps(
    folder: Path,
    crop_paths: Sequence[Path],
    workers: int = 1,
    write: bool = True,
    event: Callable[[int, int], Any] = lambda done, total: (done, total),
) -> Generator[Any, None, tuple[DecodedStore | None, str]]:
    """Generator: yields ``event(done, total)`` while decoding; returns (the store, or None for "read the
    PNGs"; a message, "" when all went well). The store holds every crop of ``crop_paths`` whose PNG
    decodes; ``write`` False (ranks other than 0 under torchrun) only opens the store another wrote."""
    folder = Path(folder)
    note = ""
    try:
        old: DecodedStore | None = DecodedStore.open(folder)
    except StoreError as exc:
        old = None
        if str(exc) != "none yet":
            note = f"decoded crop store in {folder} set aside: {exc}; "
    wanted = sorted({Path(p).relative_to(folder).as_posix() for p in crop_paths if Path(p).is_relative_to(folder)})
    stamps = {name: _stamp(folder / name) for name in wanted}
    todo = [n for n in wanted if old is None or old.row(folder / n) < 0 or _stale(old, n, stamps[n])]
    if not todo and old is not None:
        return old, note.rstrip("; ")
    if not write:
        return None, note + f"decoded crop store in {folder} not ready on this process: reading the PNGs"
    remove_stale_temporaries(folder)
    try:
        store = yield from _write(folder, old, todo, stamps, workers, event)
    except OSError as exc:
        return None, note + f"decoded crop store not written ({exc}): reading the PNGs"
    return store, note.rstrip("; ")


def _stale(store: DecodedStore, name: str, stamp: tuple[int, int] | None) -> bool:
    return stamp is None or tuple(store.stamps[store.row(store.folder / name)]) != stamp


def _write(
    folder: Path, old: DecodedStore | None, todo: list[str], stamps: dict, workers: int, event: Callable
) -> Generator[Any, None, DecodedStore]:
    """A new data file (the old store's crops that stay, then the decoded ``todo``) and its index."""
    redo = set(todo)
    kept = [i for i, n in enumerate(old.names) if n not in redo] if old is not None else []
    names: list[str] = [old.names[i] for i in kept] if old is not None else []
    shapes: list = [old.shapes[i].tolist() for i in kept] if old is not None else []
    marks: list = [old.stamps[i].tolist() for i in kept] if old is not None else []
    data_name = f"decoded-{secrets.token_hex(8)}.u8"
    with atomic_write(folder / data_name) as out, ThreadPoolExecutor(max(1, workers)) as pool:
        for i in kept:  # copied in slices: the old map is never loaded whole
            assert old is not None
            out.write(old.crop(i).tobytes())
        for start in range(0, len(todo), _CHUNK):
            part = todo[start : start + _CHUNK]
            for name, crop in zip(part, pool.map(lambda n: _decode(folder / n), part)):
                if crop is None:  # unreadable: left out, so the dataset reads (and reports) the PNG
                    continue
                out.write(crop.tobytes())
                names.append(name)
                shapes.append([crop.shape[0], crop.shape[1]])
                marks.append(list(stamps[name] or (0, 0)))
            yield event(min(start + _CHUNK, len(todo)), len(todo))
    rows = [[n, int(s[0]), int(s[1]), int(m[0]), int(m[1])] for n, s, m in zip(names, shapes, marks)]
    total = sum(int(s[0]) * int(s[1]) * 3 for s in shapes)
    index = {"format": STORE_FORMAT, "data": data_name, "bytes": total, "crops": rows}
    try:
        atomic_write_text(folder / STORE_INDEX, json.dumps(index))
    except OSError:
        (folder / data_name).unlink(missing_ok=True)
        raise
    _remove_old_data(folder, data_name, old)
    return DecodedStore(folder, data_name, names, np.array(shapes).reshape(-1, 2), np.array(marks).reshape(-1, 2))


def _remove_old_data(folder: Path, current: str, old: DecodedStore | None) -> None:
    """The data file the previous index named, and any other an interrupted build left over an hour ago
    (a younger one may be another process's, whose index is not written yet)."""
    for path in folder.glob("decoded-*.u8"):
        try:
            if path.name != current and (
                (old is not None and path == old.data_path) or time.time() - path.stat().st_mtime > 3600
            ):
                os.remove(path)  # a process that has it mapped keeps reading it (POSIX)
        except OSError:
            continue  # in use (Windows) or gone: the next build tries again


def _decode(path: Path) -> np.ndarray | None:
    try:
        crop = read_image(path)
    except OSError:
        return None
    if crop.ndim != 3 or crop.shape[2] != 3 or max(crop.shape[:2]) > MAX_SIDE:
        return None
    return np.ascontiguousarray(crop)


def ensure_store(
    folder: Path, crop_paths: Sequence[Path], workers: int = 1, write: bool = True
) -> tuple[DecodedStore | None, str]:
    """:func:`store_steps` run to its end."""
    steps = store_steps(folder, crop_paths, workers, write)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def existing_store(folder: Path) -> DecodedStore | None:
    """The cache folder's store as it is, or None (none yet, or one that does not add up: PNGs are read)."""
    try:
        return DecodedStore.open(Path(folder))
    except StoreError:
        return None
