"""External liveness models (ONNX) as baselines and as teachers: specs, their own crops, a runner, a score
cache, and rules to combine several into one soft target. See :mod:`.spec` for the spec format."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from training.teachers.runner import TeacherModel
from training.teachers.spec import SpecError, load_spec, model_file

__all__ = ["SpecError", "TeacherModel", "load_teachers"]


def load_teachers(names: Sequence[str], teachers_dir: Path | None = None, threads: int = 1) -> list[TeacherModel]:
    """Each named spec (built-in name or spec file) with its ONNX file opened; SpecError / ModelLoadError
    name the spec that failed."""
    models = []
    for name in names:
        spec, spec_path = load_spec(name)
        models.append(TeacherModel(spec, model_file(spec, spec_path, teachers_dir), threads))
    return models
