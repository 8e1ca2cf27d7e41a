"""The import contract: the compute core and training import no Qt; nothing imports the GUI.

Checked twice: by importing every core and training module in a fresh interpreter (what a headless
training box or the benchmark sees), and by import-linter's static contracts in pyproject.toml.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IMPORT_ALL = """
import importlib, pkgutil, sys
import liveness_app.core, training
for package in (liveness_app.core, training):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PyQt6", "PyQt5", "PySide6", "PySide2"))
gui = sorted(m for m in sys.modules if m.startswith("liveness_app.gui"))
print("QT:", *qt); print("GUI:", *gui)
assert not qt and not gui, (qt, gui)
"""


def test_core_and_training_import_without_qt() -> None:
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_import_linter_contracts() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e .[dev])")
    proc = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
