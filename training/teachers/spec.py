"""What an external liveness model needs to be fed and how to read its answer: one small JSON file each.

A spec names the ONNX file (a plain file name, looked up in a teachers folder; its SHA-256 when known), the
crop the model was trained with (:mod:`training.teachers.crops`), the input size, colour order and value
scaling, and how its output becomes P(live), with the authors' own threshold. The four published models
of ``../shared/teachers`` have built-in specs (``specs/*.json``, written from that folder's README); a
user's own spec file works the same way (``liveness-eval --compare my-model.json``).

Specs are read from disk, so they are untrusted: :func:`load_spec` checks every field and raises
:class:`SpecError` with the file and field for anything out of place.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SPECS_DIR = Path(__file__).with_name("specs")
CROP_RULES = ("shift_inside", "reflect_square", "clip")
COLOURS = ("bgr", "rgb")
OUTPUT_KINDS = ("softmax", "logit_pair", "probability")
TEACHERS_ENV = "LIVENESS_TEACHERS_DIR"  # where the ONNX files named by specs are, when not given
MAX_SPEC_BYTES = 64 * 1024


class SpecError(ValueError):
    """A spec file that cannot be read or whose fields are out of place."""


@dataclass(frozen=True)
class TeacherSpec:
    """One external liveness model: file, crop, input and output (see the module docstring)."""

    name: str
    file: str
    crop_rule: str  # one of CROP_RULES
    crop_scale: float  # crop side (or scaled box) relative to the face box
    size: int  # model input side, px
    colour: str  # "bgr" | "rgb"
    offset: float  # input value = (pixel - offset) / divisor
    divisor: float
    output: str  # one of OUTPUT_KINDS
    live_index: int  # which output column is "live"
    threshold: float  # the authors' threshold on P(live)
    sha256: str = ""
    title: str = ""
    source: str = ""
    licence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _get(data: dict, key: str, kind: type[Any], where: str) -> Any:
    value = data.get(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SpecError(f"{where}: '{key}' must be a {kind.__name__}, got {value!r:.60}")
    if kind is float and not math.isfinite(value):
        raise SpecError(f"{where}: '{key}' must be finite")
    return value


def _choice(value: str, allowed: tuple[str, ...], key: str, where: str) -> str:
    if value not in allowed:
        raise SpecError(f"{where}: '{key}' must be one of {', '.join(allowed)}, got {value!r:.60}")
    return value


def spec_from_dict(data: Any, where: str) -> TeacherSpec:
    """A checked :class:`TeacherSpec` from a parsed spec file; :class:`SpecError` otherwise."""
    if not isinstance(data, dict):
        raise SpecError(f"{where}: a spec is a JSON object")
    crop, scaling, output = (_get(data, k, dict, where) for k in ("crop", "scaling", "output"))
    file = _get(data, "file", str, where)
    if not file or os.path.basename(file) != file or file in (".", ".."):
        raise SpecError(
            f"{where}: 'file' must be a plain file name (the model is looked up in the teachers "
            f"folder), got {file!r:.60}"
        )
    spec = TeacherSpec(
        name=_get(data, "name", str, where),
        file=file,
        crop_rule=_choice(_get(crop, "rule", str, where), CROP_RULES, "crop.rule", where),
        crop_scale=_get(crop, "scale", float, where),
        size=_get(data, "size", int, where),
        colour=_choice(_get(data, "colour", str, where), COLOURS, "colour", where),
        offset=_get(scaling, "offset", float, where),
        divisor=_get(scaling, "divisor", float, where),
        output=_choice(_get(output, "kind", str, where), OUTPUT_KINDS, "output.kind", where),
        live_index=_get(output, "live_index", int, where),
        threshold=_get(data, "threshold", float, where),
        sha256=str(data.get("sha256") or ""),
        title=str(data.get("title") or "")[:200],
        source=str(data.get("source") or "")[:300],
        licence=str(data.get("licence") or "")[:100],
    )
    checks = [
        (
            bool(spec.name) and len(spec.name) <= 64 and spec.name.replace("-", "").replace("_", "").isalnum(),
            "'name' must be 1-64 letters, digits, '-' or '_'",
        ),
        (0.5 <= spec.crop_scale <= 8.0, "'crop.scale' must be within 0.5..8"),
        (16 <= spec.size <= 1024, "'size' must be within 16..1024"),
        (abs(spec.divisor) >= 1e-6, "'scaling.divisor' must not be 0"),
        (0 <= spec.live_index < 16, "'output.live_index' must be within 0..15"),
        (0.0 <= spec.threshold <= 1.0, "'threshold' is a probability, within 0..1"),
        (
            not spec.sha256 or (len(spec.sha256) == 64 and all(c in "0123456789abcdef" for c in spec.sha256)),
            "'sha256' must be 64 lowercase hex digits",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise SpecError(f"{where}: {message}")
    return spec


def builtin_specs() -> dict[str, Path]:
    """Name -> file of the specs that come with the project."""
    return {p.stem: p for p in sorted(SPECS_DIR.glob("*.json"))}


def load_spec(name_or_path: str) -> tuple[TeacherSpec, Path]:
    """A built-in spec by name, or a spec file by path; returns it with the file it came from."""
    path = builtin_specs().get(name_or_path) or Path(name_or_path)
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{path}: over {MAX_SPEC_BYTES // 1024} KiB, not a spec")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(builtin_specs())
        raise SpecError(f"no spec {name_or_path!r}: neither a built-in one ({known}) nor a file") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SpecError(f"{path}: not a readable JSON spec ({str(exc)[:120]})") from None
    return spec_from_dict(data, str(path)), path


def model_file(spec: TeacherSpec, spec_path: Path, teachers_dir: Path | None = None) -> Path:
    """Where ``spec``'s ONNX file is: in ``teachers_dir`` when given, else in the folder named by
    ``$LIVENESS_TEACHERS_DIR``, else beside a user's spec file. Always a file directly in that folder."""
    folder = teachers_dir or (Path(os.environ[TEACHERS_ENV]) if os.environ.get(TEACHERS_ENV) else None)
    if folder is None:
        folder = spec_path.parent
    path = Path(folder) / spec.file
    if not path.is_file():
        raise SpecError(
            f"{spec.name}: model file {spec.file} not found in {folder} (give --teachers-dir or set {TEACHERS_ENV})"
        )
    return path
