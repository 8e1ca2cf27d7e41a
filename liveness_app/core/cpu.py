"""CPU facts every backend needs (how many threads may score, which CPU a figure comes from), without torch."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path


def scoring_threads() -> int:
    """CPU threads for real-time scoring: half of the cores left after one, at least one.

    The capture thread (decoding, BlazeFace), the GUI and the OpenMP threads of whichever thread loaded the
    model need the other cores; a scoring thread that asks for all of them oversubscribes the CPU.
    Measured with ``python -m liveness_app.bench`` on a 2-core CPU, 224 px, Grad-CAM on: 1 thread 16 ms per
    model call and p95 latency 31 ms, against 31 ms and 75 ms with 2 threads.
    """
    return max(1, ((os.cpu_count() or 2) - 1) // 2)


def use_scoring_threads() -> int:
    """Apply :func:`scoring_threads` to the calling thread's torch (OpenMP's thread count is per thread:
    call this on the thread that scores, again after a model switch) and return it, if torch is loaded:
    ONNX Runtime sessions get the same count when they are made."""
    n = scoring_threads()
    torch = sys.modules.get("torch")  # not imported here: that takes seconds, and ONNX Runtime needs none
    if torch is not None:
        torch.set_num_threads(n)
    return n


def cpu_model() -> str:
    """The CPU's marketing name (``lscpu``'s Model name, e.g. "AMD EPYC"), else what the platform module
    knows: speed figures must say which CPU they come from."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
