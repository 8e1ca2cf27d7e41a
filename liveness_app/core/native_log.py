"""Native libraries' start-up chatter kept off the terminal; anything else they write still reaches it.

MediaPipe's face detector (LiteRT, with absl/glog logging) writes straight to file descriptor 2 from C++:
INFO lines when a detector is created ("Creating LiteRT environment", "XNNPACK delegate") and closed
("DestroyAccelerator"), "Logging before InitGoogle() is written to STDERR" and a W0000 memory-alignment
warning on the first detection, on every command and in every caching worker. No switch reaches that
logger from Python: ``GLOG_minloglevel`` and ``TF_CPP_MIN_LOG_LEVEL`` set before mediapipe is imported
change nothing (mediapipe 1.2, tried), and its C API's log callback adds a sink without removing stderr.

So the few calls that log run with fd 2 pointed at a temporary file. Afterwards the lines known to be
chatter (INFO, and glog's I/W lines and its "before InitGoogle" notice) go to the debug log, and every
other line (an E or F line, an error message we do not know, a Python thread's traceback written
meanwhile) is written to the real stderr: delayed by the call, never dropped.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger(__name__)

CHATTER = re.compile(
    rb"^(INFO: |WARNING: Logging before InitGoogle\(\)|WARNING: All log messages before "
    rb"absl::InitializeLog\(\)|[IW]\d{4} )"
)
_LOCK = threading.Lock()  # one redirection at a time: two interleaved ones would leave fd 2 on a dead file


def _fresh_lock() -> None:
    """A forked child starts with the lock free (a fork while a thread held it would block the child's
    first detector for good)."""
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_fresh_lock)


@contextmanager
def quiet_native_log() -> Iterator[None]:
    """Run the body with native writes to stderr captured; pass on all but :data:`CHATTER` afterwards."""
    with _LOCK:
        try:
            sys.stderr.flush()  # Python's own pending output goes out before the switch
        except (AttributeError, OSError, ValueError):  # no stderr at all (a windowed build)
            pass
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2: nothing can be printed, nothing to keep quiet
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                pass_on(sink.read())


def pass_on(captured: bytes) -> bytes:
    """Write the lines of ``captured`` that are not chatter to fd 2; returns what was written."""
    kept = b""
    for line in captured.splitlines(keepends=True):
        if CHATTER.match(line):
            log.debug("native: %s", line.decode("utf-8", "replace").rstrip())
        else:
            kept += line
    if kept:
        os.write(2, kept)
    return kept
