"""Compute core of Liveness Studio. Nothing in this package imports Qt."""
