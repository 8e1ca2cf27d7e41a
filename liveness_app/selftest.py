"""``liveness-app --self-test``: load one resource of each kind and score a few frames, without a window.

Packaging mistakes drop whole directories (labelme's lesson), so this checks what a bundle must carry:
the face detector, the default model, the sample video, and that they work together. Prints one line and
returns 0 (all good) or 1.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from . import paths


def run(model_path: Path | None = None, frames: int = 10, device: str = "auto", backend: str = "auto") -> int:
    """Returns the process exit code; the one-line summary goes to stdout."""
    t0 = time.perf_counter()
    try:
        from .core.camera import VideoFileSource
        from .core.pipeline import open_pipeline

        pipeline = open_pipeline(model_path or paths.default_model_path(), device, heatmap=True, backend=backend)
        model = pipeline.model
        source = VideoFileSource(paths.sample_video_path(), loop=False)
        faces, scores, maps = 0, [], []
        with pipeline.detector:
            for i in range(frames):
                result = pipeline.process(source.read(), int(i * 1000 / source.fps))
                faces += len(result.faces)
                scores += [f.score for f in result.faces]
                maps += [f.heatmap for f in result.faces]
        source.close()
        if faces == 0:
            raise RuntimeError("no face found in the sample video")
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in scores):
            raise RuntimeError(f"the model gives scores that are not probabilities: {scores[:3]}")
        if not all(
            m is not None and m.ndim == 2 and 0.0 <= float(m.min()) <= float(m.max()) <= 1.0 + 1e-5 for m in maps
        ):
            raise RuntimeError("the model gives no Grad-CAM map in [0, 1] for some face")
    except Exception as exc:  # a self-test reports every failure as one line, whatever its type
        print(f"SELF-TEST FAILED: {type(exc).__name__}: {exc}")
        return 1
    print(
        f"SELF-TEST OK: model {model.meta.name} ({model.meta.preprocessing.input_size} px, {model.describe()}), "
        f"{faces} faces in {frames} frames, mean P(live) {sum(scores) / len(scores):.3f}, "
        f"resources in {paths.resource_root()}, {time.perf_counter() - t0:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run())
