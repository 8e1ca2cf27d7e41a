"""Where bundled resources live (source tree, installed wheel, PyInstaller bundle) and where user data goes.

Resources are read-only; anything the user creates (recordings, trained models, logs, settings) goes to
the per-user data folder, never next to the code, because a bundle or a site-packages tree may be
read-only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "LivenessStudio"
LOG_FILE_NAME = "liveness-studio.log"
_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_root() -> Path:
    """Folder that holds ``assets/`` and ``models/``.

    Looked up in order: a PyInstaller bundle (``sys._MEIPASS``), the resources folder inside an installed
    wheel, and the source checkout (the parent of this package).
    """
    candidates = []
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        candidates.append(Path(meipass))
    candidates += [_PACKAGE_DIR / "_resources", _PACKAGE_DIR.parent]
    for root in candidates:
        if (root / "assets").is_dir():
            return root
    raise FileNotFoundError(
        "Liveness Studio resources (assets/) not found in: " + ", ".join(str(c) for c in candidates)
    )


def asset_path(name: str) -> Path:
    """Path of a bundled file in ``assets/``."""
    return resource_root() / "assets" / name


def bundled_models_dir() -> Path:
    """The read-only ``models/`` folder shipped with the app."""
    return resource_root() / "models"


def default_detector_path() -> Path:
    return asset_path("face_detection_short_range.tflite")


def default_model_path() -> Path:
    """``models/default.pt``; in the lean (ONNX Runtime only) bundle, which ships no checkpoints,
    ``models/default.onnx``."""
    checkpoint = bundled_models_dir() / "default.pt"
    exported = checkpoint.with_suffix(".onnx")
    return exported if not checkpoint.is_file() and exported.is_file() else checkpoint


def sample_video_path() -> Path:
    return asset_path("sample.mp4")


def user_data_dir() -> Path:
    """Per-user writable folder (``LIVENESS_STUDIO_HOME`` overrides it, which tests use)."""
    override = os.environ.get("LIVENESS_STUDIO_HOME")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _user_subdir(name: str) -> Path:
    path = user_data_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_models_dir() -> Path:
    """Models the user trained or added: listed in the Model menu next to the bundled ones."""
    return _user_subdir("models")


def onnx_cache_dir() -> Path:
    """ONNX copies of checkpoints, made once per checkpoint content for the ONNX Runtime backend."""
    return _user_subdir("onnx-cache")


def recordings_dir() -> Path:
    return _user_subdir("recordings")


def log_dir() -> Path:
    return _user_subdir("logs")


def log_file() -> Path:
    """The app's log (rotated at 2 MB): errors, refusals and crashes with their traceback."""
    return log_dir() / LOG_FILE_NAME


# ImageNet weights a user can fetch once (``scripts/fetch_imagenet_weights.py``); never downloaded at run time.
IMAGENET_WEIGHTS = {"mobilenet_v2": "mobilenet_v2-b0353104.pth"}


def imagenet_weights(arch: str) -> Path | None:
    """The ImageNet weights file for ``arch`` in the user's ``weights/`` folder or beside the resources
    (a source checkout's ``weights/``), or None when it has not been fetched."""
    name = IMAGENET_WEIGHTS.get(arch)
    if name is None:
        return None
    for folder in (user_data_dir() / "weights", resource_root() / "weights"):
        if (folder / name).is_file():
            return folder / name
    return None
