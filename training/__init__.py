"""Training, evaluation and reporting for Liveness Studio (no Qt imports)."""
