"""Entry point: ``python -m liveness_app`` and the ``liveness-app`` script.

main(): args -> AppConfig -> QApplication -> MainWindow. A windowed (PyInstaller) build has no stderr,
so an uncaught exception is written to the log file and shown in a message box instead of vanishing.

``liveness-app train ...`` and ``liveness-app eval ...`` run the training and evaluation command lines, so
that the packaged app, which has no ``liveness-train``/``liveness-eval`` scripts, can retrain and evaluate.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import logging.handlers
import sys
import traceback
from datetime import datetime
from types import TracebackType
from typing import Iterator, Sequence

from . import display_libs, paths
from .config import AppConfig, load_config

LOG_FILE_NAME = paths.LOG_FILE_NAME
EXIT_MISSING_LIBRARIES = 3  # Qt's X11 plugin lacks system libraries: said in words instead of Qt's abort
SUBCOMMANDS = ("train", "eval", "export")
log = logging.getLogger("liveness_app")


def configure_logging(config: AppConfig) -> list[logging.Handler]:
    """Log to ``paths.log_dir()/liveness-studio.log`` (and stderr when there is one); returns the handlers."""
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(paths.log_file(), maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    ]
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
    reporter.report.connect(
        lambda text: QMessageBox.critical(
            None,
            "Liveness Studio: unexpected error",
            f"{text}\n\nDetails were written to {paths.log_file()}",
        )
    )

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
    return int(selftest.run(model_path=config.model, device=config.device, backend=config.backend))


@contextlib.contextmanager
def console_streams(command: str) -> Iterator[None]:
    """Give print() and tqdm somewhere to write when there is no console.

    A windowed frozen app (Windows, macOS) starts with ``sys.stdout``/``sys.stderr`` set to None; then
    what ``command`` prints is appended to ``paths.log_dir()/<command>.log`` instead of being lost.
    """
    if sys.stdout is not None and sys.stderr is not None:
        yield
        return
    with (paths.log_dir() / f"{command}.log").open("a", encoding="utf-8", buffering=1) as fh:
        fh.write(f"--- liveness-app {command} at {datetime.now().isoformat(timespec='seconds')}\n")
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = sys.stdout or fh, sys.stderr or fh
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved


def run_subcommand(command: str, argv: Sequence[str]) -> int:
    """``train`` runs ``training.__main__.main(argv)``, ``eval`` runs ``training.eval.evaluate.main(argv)``,
    ``export`` runs ``liveness_app.export.main(argv)``; in the lean runtime (no torch) each says it needs
    the full install and returns 2."""
    if command not in SUBCOMMANDS:
        raise ValueError(f"unknown subcommand {command!r}; known: {', '.join(SUBCOMMANDS)}")
    try:  # plain imports (not importlib) so that PyInstaller sees and bundles what they need
        if command == "train":
            from training.__main__ import main as run
        elif command == "eval":
            from training.eval.evaluate import main as run
        else:
            from .export import main as run
    except ModuleNotFoundError as exc:
        if exc.name not in ("training", "torch", "torchvision"):
            raise
        print(
            f"liveness-app {command}: this is the lean runtime (no PyTorch); {command} needs the full "
            "install (pip install liveness-studio) or the full bundle",
            file=sys.stderr,
        )
        return 2
    with console_streams(command):
        try:
            return run(list(argv))
        except SystemExit as exc:  # argparse exits for --help and for a bad option
            return _exit_status(exc)


def _exit_status(exc: SystemExit) -> int:
    """The status Python itself would exit with for ``exc``."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app, or the ``train``/``eval`` subcommand named first; returns the process exit code."""
    import multiprocessing

    multiprocessing.freeze_support()  # a frozen build starts the ONNX trial-run child through this entry point
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:  # before the GUI's own options are parsed
        return run_subcommand(args[0], args[1:])
    try:
        config = load_config(args)
    except ValueError as exc:  # a bad config file (argparse exits by itself for a bad option)
        print(f"liveness-app: {exc}", file=sys.stderr)
        return 2
    handlers = configure_logging(config)
    try:
        if config.self_test:
            with console_streams("self-test"):
                return run_self_test(config)
        if problem := display_libs.check():
            return _refuse_to_start(problem)
        return _run_gui(config)
    except Exception as exc:  # logged here, while the log file is still attached (the excepthook is too late)
        log.critical("fatal error:\n%s", traceback.format_exc())
        _show_fatal(f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()


def _show_fatal(text: str) -> None:
    """A message box for an error that ends the app (a windowed build has no console to print it to)."""
    message = f"{text}\n\nDetails were written to {paths.log_file()}"
    if sys.stderr is not None:
        print(f"liveness-app: {message}", file=sys.stderr)
    if "PyQt6.QtWidgets" not in sys.modules:
        return
    from PyQt6.QtWidgets import QApplication, QMessageBox

    if QApplication.instance() is not None:
        QMessageBox.critical(None, "Liveness Studio: unexpected error", message)


def _refuse_to_start(problem: str) -> int:
    """Qt would abort (exit 134) with nothing in the log: say what is missing, in the log file and, in plain
    words without the log's prefix, on the console."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "%s", (problem,), None)
    for handler in log.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
    if sys.stderr is not None:  # None in a windowed frozen app: the log alone says it
        print(f"{problem}\n(Also written to {paths.log_file()}.)", file=sys.stderr)
    return EXIT_MISSING_LIBRARIES


def _run_gui(config: AppConfig) -> int:
    from PyQt6.QtWidgets import QApplication

    from .gui.main_window import MainWindow

    log.info("starting with %s", config)  # before Qt, which may abort the process while it starts
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "liveness-app"])
    app.setApplicationName("Liveness Studio")
    app.setOrganizationName("LivenessStudio")
    install_excepthook()
    from .core.housekeeping import clean_leftovers

    clean_leftovers(paths.user_data_dir(), paths.user_models_dir())  # what a killed run left behind
    window = MainWindow(config)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
