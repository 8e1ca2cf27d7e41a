"""Liveness Studio: real-time face liveness detection (face anti-spoofing)."""

__version__ = "0.1.0"
