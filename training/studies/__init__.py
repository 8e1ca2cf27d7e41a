"""Studies that judge recipes (cross-validation, the adaptation benchmark); their results live in experiments/."""
