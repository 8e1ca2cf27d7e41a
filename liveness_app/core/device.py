"""Pick the torch device: CUDA when asked for (or "auto") and present, else the CPU, with the reason."""

from __future__ import annotations

import torch

from . import DEVICE_CHOICES
from .cpu import cpu_model, scoring_threads, use_scoring_threads

__all__ = [
    "CHOICES",
    "TORCH_DEFAULT_THREADS",
    "cpu_model",
    "describe",
    "scoring_threads",
    "select_device",
    "use_scoring_threads",
    "use_training_threads",
]

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
