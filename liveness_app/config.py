"""Start-up configuration: defaults <- optional user TOML file <- command line.

The result is a frozen :class:`AppConfig`. ``AppConfig.explicit`` names the fields that the user file or
the command line set: the GUI lets those win over the state it remembered from the last session (last
model, device, overlay toggles), and uses the remembered state for everything else.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from . import __version__, paths
from .core import BACKEND_CHOICES as BACKENDS  # the one lists; torch-free
from .core import DEVICE_CHOICES as DEVICES

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser is on PyPI as tomli
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Keys a user config file may hold (self_test is a one-off action, only on the command line).
FILE_KEYS = ("source", "device", "backend", "model", "detector", "threshold", "heatmap", "log_level")


@dataclass(frozen=True)
class AppConfig:
    """What the app starts with.

    ``source``: a camera index ("0") or a video path; None = the last source used, else camera 0, falling
    back to the bundled sample video with a message. ``model``: None = the last model used, else
    :func:`paths.default_model_path`. ``threshold``: None = the model's calibrated threshold (or the
    user's saved override for that model).
    """

    source: str | None = None
    device: str = "auto"
    backend: str = "auto"
    model: Path | None = None
    detector: Path = field(default_factory=paths.default_detector_path)
    threshold: float | None = None
    heatmap: bool = False
    self_test: bool = False
    log_level: str = "INFO"
    explicit: frozenset[str] = frozenset()  # fields set by the user file or the command line
    problems: tuple[str, ...] = ()  # settings that were ignored, and why (the window shows them)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")

    @property
    def log_level_number(self) -> int:
        return logging.getLevelName(self.log_level)


def default_config_file() -> Path:
    """``config.toml`` in the per-user data folder (optional)."""
    return paths.user_data_dir() / "config.toml"


def build_parser() -> argparse.ArgumentParser:
    """The command line. Options default to "not given" (SUPPRESS) so only what was typed overrides."""
    p = argparse.ArgumentParser(
        prog="liveness-app",
        argument_default=argparse.SUPPRESS,
        description="Liveness Studio: real-time face liveness detection.",
    )
    p.add_argument("--source", metavar="PATH|INDEX", help="camera index (0, 1, ...) or a video file")
    p.add_argument("--device", choices=DEVICES, help="where the model runs (default: auto)")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        help="what scores: PyTorch, ONNX Runtime (on the CPU), or auto (the fastest "
        "here, measured at load: PyTorch, ONNX Runtime, and its CUDA provider where installed; default: auto)",
    )
    p.add_argument("--model", type=Path, metavar="PATH", help="model file (.pt checkpoint or exported .onnx)")
    p.add_argument("--detector", type=Path, metavar="PATH", help="face detector model (.tflite)")
    p.add_argument(
        "--threshold",
        type=_probability,
        metavar="P",
        help="decision threshold on P(live); default: the model's calibrated one",
    )
    p.add_argument("--heatmap", action=argparse.BooleanOptionalAction, help="show Grad-CAM heatmaps")
    p.add_argument(
        "--self-test",
        dest="self_test",
        action="store_true",
        help="check the installation (model, detector, sample video) and exit",
    )
    p.add_argument(
        "--log-level",
        dest="log_level",
        type=str.upper,
        choices=LOG_LEVELS,
        help="how much goes to the log file (default: INFO)",
    )
    p.add_argument(
        "--config",
        dest="config_file",
        type=Path,
        metavar="PATH",
        help="settings file (default: config.toml in the user data folder)",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def load_config(argv: Sequence[str] | None = None) -> AppConfig:
    """Parse ``argv`` (``sys.argv[1:]`` when None) on top of the user file on top of the defaults.

    Raises ValueError for a bad user file (unknown key, wrong type); argparse exits for a bad option.
    """
    cli = vars(build_parser().parse_args(argv))
    config_file = cli.pop("config_file", None)
    if config_file is not None and not Path(config_file).is_file():
        raise ValueError(f"config file not found: {config_file}")
    if config_file is not None:  # asked for by name: an error in it stops the app with a message
        return _build({**read_config_file(Path(config_file)), **cli})
    try:  # the default user file: a bad one is ignored with a message, so the app always starts
        return _build({**read_config_file(default_config_file()), **cli})
    except ValueError as exc:
        logging.getLogger(__name__).warning("%s", exc)
        return _build(cli, problems=(f"{exc}. The settings file was ignored.",))


def _build(values: dict[str, Any], problems: tuple[str, ...] = ()) -> AppConfig:
    if "source" in values:
        values["source"] = str(values["source"])
    explicit = frozenset(k for k in values if k != "self_test")
    return AppConfig(**values, explicit=explicit, problems=problems)


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings in a TOML file (nothing if it does not exist); relative paths are relative to it."""
    if not path.is_file():
        return {}
    if tomllib is None:
        raise ValueError(f"{path}: reading it needs Python 3.11+ or the tomli package (pip install tomli)")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{path}: not valid TOML: {str(exc)[:200]}") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(FILE_KEYS)}")
    return {key: _file_value(path, key, value) for key, value in data.items()}


def _file_value(path: Path, key: str, value: Any) -> Any:
    types: dict[str, type[Any] | tuple[type[Any], ...]] = {
        "source": (str, int),
        "device": str,
        "backend": str,
        "model": str,
        "detector": str,
        "threshold": (float, int),
        "heatmap": bool,
        "log_level": str,
    }
    expected = types[key]
    if not isinstance(value, expected) or (isinstance(value, bool) and key != "heatmap"):
        raise ValueError(f"{path}: {key} = {value!r} has the wrong type")
    if key in ("model", "detector"):
        return (path.parent / value).resolve()
    if key == "source" and isinstance(value, str) and not value.strip().isdigit():
        return str((path.parent / value).resolve())
    if key == "threshold":
        return float(value)
    if key == "log_level":
        return value.upper()
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


__all__ = ["AppConfig", "build_parser", "default_config_file", "load_config", "read_config_file"]
