"""A checkpoint scored in ONNX Runtime through an ONNX copy of it, trusted only for what it computes.

The copy is the ``.onnx`` beside the checkpoint (as the bundled models ship) or one exported into the
user's ONNX cache. What a copy says about itself (its recorded source hash, its metadata) proves nothing:
anyone can write those. A copy is used when its own SHA-256 is recorded for this checkpoint's SHA-256, in
``verified.json`` in the cache folder (this project exported it, or its outputs on fixed inputs matched the
checkpoint's in PyTorch: :func:`.onnx_guard.trial_run` with a reference) or in the bundled
``models/onnx-copies.json`` (the shipped pairs, checked by a test); any other copy is checked first. A copy that fails (corrupt, another network, another threshold) is
passed over and, in the cache, exported again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

from ..files import atomic_write_text, file_sha256
from ..meta import ModelLoadError, ModelMeta
from .onnx_scorer import OnnxScorer, ProviderUnavailable, load_onnx_bytes, read_model_bytes

log = logging.getLogger(__name__)
RECORD_NAME = "verified.json"
SHIPPED_RECORD = "onnx-copies.json"
_LOCK = threading.Lock()  # two loads at once (a start-up load and a menu choice) share one record


class ExportUnavailable(Exception):
    """A checkpoint that cannot be converted to ONNX here (an LBP model, no exporter installed)."""


class VerifiedCopies:
    """``{checkpoint sha256: [onnx sha256, ...]}``: the copies known to compute what each checkpoint does."""

    def __init__(self, folder: Path, shipped: Path | None = None, name: str = RECORD_NAME) -> None:
        self.path = Path(folder) / name
        self.shipped = shipped  # the read-only record of the bundled models

    @staticmethod
    def _read_file(path: Path | None) -> dict[str, list[str]]:
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else {}
        except (OSError, ValueError, RecursionError):
            data = {}  # unreadable: every copy is checked again, nothing worse
        if not isinstance(data, dict):
            return {}
        return {
            k: [d for d in v if isinstance(d, str)]
            for k, v in data.items()
            if isinstance(k, str) and isinstance(v, list)
        }

    def _read(self) -> dict[str, list[str]]:
        return self._read_file(self.path)

    def knows(self, source: str, copy: str) -> bool:
        return copy in self._read().get(source, []) or copy in self._read_file(self.shipped).get(source, [])

    def add(self, source: str, copy: str) -> None:
        with _LOCK:
            data = self._read()
            data[source] = [d for d in data.get(source, []) if d != copy][-3:] + [copy]  # a few versions
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(self.path, json.dumps(data, indent=1))
            except OSError as exc:  # a read-only cache: the copy is checked again next time
                log.warning("cannot record the checked ONNX copy in %s: %s", self.path, exc)


def open_copy(checkpoint: Path, cache_dir: Path, gpu: bool = False) -> tuple[OnnxScorer, ModelMeta, Path]:
    """Scorer, metadata and file of a trusted ONNX copy of ``checkpoint`` (see the module docstring);
    :class:`ExportUnavailable` when none can be had, :class:`ModelLoadError` for an unusable checkpoint.
    ``gpu``: on ONNX Runtime's CUDA provider (:func:`.onnx_scorer.load_onnx_bytes`)."""
    if not checkpoint.is_file():
        raise ModelLoadError(f"{checkpoint.name}: no such file")
    digest = file_sha256(checkpoint)  # read once: it keys the record and names the cached copy
    from ... import paths

    record = VerifiedCopies(cache_dir, paths.bundled_models_dir() / SHIPPED_RECORD)
    cached = cache_dir / f"{checkpoint.stem}-{digest[:16]}.onnx"
    for candidate in (checkpoint.with_suffix(".onnx"), cached):
        if candidate.is_file():
            try:
                return (*_load_checked(candidate, checkpoint, digest, record, gpu=gpu), candidate)
            except ProviderUnavailable:
                raise  # the copy is fine; another copy or an export would fail the same way
            except ModelLoadError as exc:
                log.warning("ONNX copy %s not used for %s: %s", candidate, checkpoint.name, exc)
    _export(checkpoint, cached, digest)
    return (*_load_checked(cached, checkpoint, digest, record, ours=True, gpu=gpu), cached)


def _load_checked(
    copy: Path, checkpoint: Path, digest: str, record: VerifiedCopies, ours: bool = False, gpu: bool = False
) -> tuple[OnnxScorer, ModelMeta]:
    """``copy`` loaded from one read of its bytes (the bytes hashed are the bytes run), compared with the
    checkpoint unless its hash is recorded; ``ours``: this project just exported it (recorded first)."""
    data = read_model_bytes(copy)
    copy_digest = hashlib.sha256(data).hexdigest()
    if ours:
        record.add(digest, copy_digest)
    known = record.knows(digest, copy_digest)
    scorer, meta, notes = load_onnx_bytes(data, copy.name, reference=None if known else checkpoint, gpu=gpu)
    if notes.get("source_sha256") != digest:
        raise ModelLoadError("it was exported from another version of the checkpoint")
    if not known:
        record.add(digest, copy_digest)
    return scorer, meta


def _export(checkpoint: Path, target: Path, digest: str) -> Any:
    try:
        from .onnx_export import ExportError, export_onnx
    except ImportError as exc:  # torch's exporter needs onnx and onnxscript
        raise ExportUnavailable(f"no ONNX exporter installed ({exc.name})") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return export_onnx(checkpoint, target, digest)  # atomic: replaces a damaged copy whole
    except ExportError as exc:
        raise ExportUnavailable(f"cannot run it in ONNX Runtime: {exc}") from None
