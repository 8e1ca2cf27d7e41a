"""Entry point: ``python -m liveness_app`` and the ``liveness-app`` script.

main(): args -> AppConfig -> QApplication -> MainWindow. A windowed (PyInstaller) build has no stderr,
so an uncaught exception is written to the log file and shown in a message box instead of vanishing.
"""
from __future__ import annotations

import importlib
import logging
import logging.handlers
import sys
import traceback
from types import TracebackType
from typing import Sequence

from . import paths
from .config import AppConfig, load_config

LOG_FILE_NAME = "liveness-studio.log"
log = logging.getLogger("liveness_app")


def configure_logging(config: AppConfig) -> list[logging.Handler]:
    """Log to ``paths.log_dir()/liveness-studio.log`` (and stderr when there is one); returns the handlers."""
    handlers: list[logging.Handler] = [logging.handlers.RotatingFileHandler(
        paths.log_dir() / LOG_FILE_NAME, maxBytes=2_000_000, backupCount=3, encoding="utf-8")]
    if sys.stderr is not None:  # None in a windowed frozen app
        handlers.append(logging.StreamHandler())
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
        log.addHandler(handler)
    log.setLevel(config.log_level_number)
    return handlers


def install_excepthook() -> None:
    """Uncaught exceptions (GUI thread or worker threads) are logged and shown in a message box.

    PyQt also routes exceptions raised in slots here; without a hook of our own it would abort.
    """
    from PyQt6.QtCore import QObject, pyqtSignal
    from PyQt6.QtWidgets import QApplication, QMessageBox

    class _Reporter(QObject):
        # A signal, so that a hook running in a worker thread shows the box in the GUI thread.
        report = pyqtSignal(str)

    reporter = _Reporter(QApplication.instance())
    reporter.report.connect(lambda text: QMessageBox.critical(
        None, "Liveness Studio: unexpected error",
        f"{text}\n\nDetails were written to {paths.log_dir() / LOG_FILE_NAME}"))

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.critical("uncaught exception:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        reporter.report.emit(f"{exc_type.__name__}: {exc}")

    sys.excepthook = hook


def run_self_test(config: AppConfig) -> int:
    """``--self-test``: runs ``liveness_app.selftest`` when this build has it, without opening a window.

    It checks the bundle (detector, model, sample video), so it uses ``--model`` if given, else the
    bundled default model, never the last model remembered by the GUI.
    """
    try:
        selftest = importlib.import_module("liveness_app.selftest")
    except ModuleNotFoundError as exc:
        if exc.name != "liveness_app.selftest":
            raise  # the self-test exists but something it imports is missing: that is a real failure
        print("liveness-app: this build has no self-test", file=sys.stderr)
        return 2
    return int(selftest.run(model_path=config.model, device=config.device))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app; returns the process exit code."""
    try:
        config = load_config(argv)
    except ValueError as exc:  # a bad config file (argparse exits by itself for a bad option)
        print(f"liveness-app: {exc}", file=sys.stderr)
        return 2
    handlers = configure_logging(config)
    try:
        if config.self_test:
            return run_self_test(config)
        return _run_gui(config)
    finally:
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()


def _run_gui(config: AppConfig) -> int:
    from PyQt6.QtWidgets import QApplication

    from .gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "liveness-app"])
    app.setApplicationName("Liveness Studio")
    app.setOrganizationName("LivenessStudio")
    install_excepthook()
    log.info("starting with %s", config)
    window = MainWindow(config)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
