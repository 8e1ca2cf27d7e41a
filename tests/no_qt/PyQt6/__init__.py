# Put first on PYTHONPATH by .ci/run: the core and training tests must pass with PyQt6 not importable.
raise ImportError("PyQt6 is blocked here: liveness_app.core and training must not need Qt")
