"""Packaging: the PyInstaller bundle builds, starts, finds its resources and scores a face; its training
CLI runs; and the entry point's train/eval/self-test paths work without a console, as in a windowed build.

Building is slow (many minutes, several GB), so those tests run only when asked for:
``LIVENESS_BUILD_BUNDLE=1 python -m pytest -m package``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import liveness_app.__main__ as entry
from liveness_app import paths

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "dist" / "liveness-studio"
APP = APP_DIR / ("liveness-studio.exe" if sys.platform == "win32" else "liveness-studio")

needs_bundle = pytest.mark.skipif(
    os.environ.get("LIVENESS_BUILD_BUNDLE") != "1",
    reason="builds the PyInstaller bundle (slow, several GB); set LIVENESS_BUILD_BUNDLE=1 to run",
)


def test_subcommands_without_console_write_to_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """A windowed frozen app has no stdout/stderr: the training CLIs' output goes to a log file."""
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    assert entry.main(["train", "--help"]) == 0
    assert entry.main(["eval"]) == 2  # required options missing: argparse's error status, not an exit
    assert sys.stdout is None and sys.stderr is None
    assert "usage: liveness-train" in (paths.log_dir() / "train.log").read_text()
    assert "the following arguments are required" in (paths.log_dir() / "eval.log").read_text()


def test_self_test_without_console_writes_to_log(monkeypatch: pytest.MonkeyPatch, tiny_model: Path) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    assert entry.main(["--self-test", "--model", str(tiny_model), "--device", "cpu"]) == 0
    assert "SELF-TEST OK: model tiny" in (paths.log_dir() / "self-test.log").read_text()


@pytest.fixture(scope="module")
def build() -> subprocess.CompletedProcess[str]:
    """Runs scripts/build_bundle.sh once for the module, with this interpreter's pyinstaller first on PATH."""
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_bundle.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3 * 3600,
    )


def _run_app(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([str(APP), *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.mark.package
@needs_bundle
def test_build_script_builds_and_self_test_passes(build: subprocess.CompletedProcess[str]) -> None:
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    report = (ROOT / "dist" / "bundle-report.txt").read_text()
    assert "self-test exit code: 0" in report
    assert "\nSELF-TEST OK: " in report


@pytest.mark.package
@needs_bundle
def test_bundle_self_test_uses_bundled_resources(build: subprocess.CompletedProcess[str]) -> None:
    proc = _run_app("--self-test", "--device", "cpu")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("SELF-TEST"))
    assert line.startswith("SELF-TEST OK: ")
    # The resources must come from the bundle, not from a source tree that happens to be nearby.
    assert f"resources in {APP_DIR / '_internal'}" in line


@pytest.mark.package
@needs_bundle
@pytest.mark.parametrize("command, option", [("train", "--epochs"), ("eval", "--frames-per-video")])
def test_bundle_runs_training_commands(build: subprocess.CompletedProcess[str], command: str, option: str) -> None:
    proc = _run_app(command, "--help")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert "usage:" in proc.stdout and option in proc.stdout


@pytest.mark.package
@needs_bundle
def test_bundle_exports_a_checkpoint_to_onnx(build: subprocess.CompletedProcess[str], tmp_path: Path) -> None:
    """torch's exporter in a frozen app: onnxscript reads its own sources, torch.export needs networkx."""
    out = tmp_path / "default.onnx"
    proc = _run_app("export", "--model", str(ROOT / "models" / "default.pt"), "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert out.is_file() and "scores within" in proc.stdout


# -- the lean runtime (no torch) -------------------------------------------------------------------------
LEAN_DIR = ROOT / "dist" / "liveness-studio-lean"
LEAN_APP = LEAN_DIR / ("liveness-studio-lean.exe" if sys.platform == "win32" else "liveness-studio-lean")


@pytest.fixture(scope="module")
def lean_build() -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_bundle.sh"), "--lean"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )


@pytest.mark.package
@needs_bundle
def test_lean_bundle_scores_in_onnx_runtime_without_torch(lean_build: subprocess.CompletedProcess[str]) -> None:
    assert lean_build.returncode == 0, lean_build.stdout[-4000:] + lean_build.stderr[-4000:]
    assert "\nSELF-TEST OK: " in (ROOT / "dist" / "bundle-report-lean.txt").read_text()
    internal = LEAN_DIR / "_internal"
    assert not (internal / "torch").exists() and not list(internal.glob("libtorch*"))
    assert not list((internal / "models").glob("*.pt")) and (internal / "models" / "default.onnx").is_file()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([str(LEAN_APP), "--self-test"], capture_output=True, text=True, timeout=600, env=env)
    assert "SELF-TEST OK" in proc.stdout and "ONNX Runtime" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    proc = subprocess.run([str(LEAN_APP), "train", "--help"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 2 and "needs the full install" in proc.stderr
