"""Pick the torch device: CUDA when asked for (or "auto") and present, else the CPU, with the reason."""
from __future__ import annotations

import platform
from pathlib import Path

import os

import torch

from . import DEVICE_CHOICES

CHOICES = DEVICE_CHOICES
TORCH_DEFAULT_THREADS = torch.get_num_threads()  # torch's own choice (physical cores), before any change


def select_device(preference: str = "auto") -> tuple[torch.device, str]:
    """``(device, reason)``; never fails: a missing GPU falls back to the CPU and says so."""
    if preference not in CHOICES:
        raise ValueError(f"device must be one of {CHOICES}, got {preference!r}")
    has_cuda = torch.cuda.is_available()
    if preference == "cpu":
        return torch.device("cpu"), "CPU (chosen)"
    if has_cuda:
        return torch.device("cuda"), f"CUDA: {torch.cuda.get_device_name(0)}"
    if preference == "cuda":
        return torch.device("cpu"), "CPU (CUDA was asked for but no GPU is available)"
    return torch.device("cpu"), f"CPU ({torch.get_num_threads()} threads; no GPU found)"


def scoring_threads() -> int:
    """CPU threads for real-time scoring: half of the cores left after one, at least one.

    The capture thread (decoding, BlazeFace), the GUI and the OpenMP threads of whichever thread loaded the
    model need the other cores; a scoring thread that asks for all of them oversubscribes the CPU.
    Measured with ``python -m liveness_app.bench`` on a 2-core CPU, 224 px, Grad-CAM on: 1 thread 16 ms per
    model call and p95 latency 31 ms, against 31 ms and 75 ms with 2 threads.
    """
    return max(1, ((os.cpu_count() or 2) - 1) // 2)


def use_scoring_threads() -> int:
    """Apply :func:`scoring_threads` to the calling thread (OpenMP's thread count is per thread: call
    this on the thread that scores) and return it."""
    n = scoring_threads()
    torch.set_num_threads(n)
    return n


def use_training_threads() -> int:
    """Give the calling thread torch's default thread count back (training owns the machine; a scoring
    thread started earlier lowers the count that new threads inherit)."""
    torch.set_num_threads(TORCH_DEFAULT_THREADS)
    return TORCH_DEFAULT_THREADS


def describe(device: torch.device) -> str:
    """Short label for the status bar."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu x{scoring_threads()}"


def cpu_model() -> str:
    """The CPU's marketing name (``lscpu``'s Model name, e.g. "AMD EPYC"), else what the platform module
    knows: speed figures must say which CPU they come from."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
