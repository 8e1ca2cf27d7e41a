"""Fitting a model: the run from data to a calibrated checkpoint, its steps, refit, distillation, torchrun."""
