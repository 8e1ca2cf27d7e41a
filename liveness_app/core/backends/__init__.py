"""The two scoring engines and what loads a model into one: PyTorch (``torch_scorer``), ONNX Runtime
(``onnx_scorer``, with ``onnx_inspect`` and ``onnx_guard`` checking a graph before it runs and ``onnx_copies``
trusting an ONNX copy of a checkpoint for what it computes), the ONNX exporter, and ``factory``
(``LoadedModel``). Nothing is imported here: the lean runtime has no torch."""
