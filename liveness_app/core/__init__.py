"""Compute core of Liveness Studio. Nothing in this package imports Qt."""

# Where a model may run (``--device``, the Device menu, the trainer): the one list, here so that reading
# the command line does not import torch (core.device, which needs it, re-exports it as CHOICES).
DEVICE_CHOICES = ("auto", "cpu", "cuda")

# Which engine scores (``--backend``, the Backend menu, the benchmark): see core.backend.
BACKEND_CHOICES = ("auto", "torch", "onnx")
