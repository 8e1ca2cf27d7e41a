"""Pick the torch device: CUDA when asked for (or "auto") and present, else the CPU, with the reason."""
from __future__ import annotations

import torch

CHOICES = ("auto", "cpu", "cuda")


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


def describe(device: torch.device) -> str:
    """Short label for the status bar."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu x{torch.get_num_threads()}"
