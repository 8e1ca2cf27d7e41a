"""Crop-cache build speed in one process and in worker processes (docs/training.md, input pipeline)."""

import glob
import json
import shutil
import time
from pathlib import Path

from liveness_app import paths
from training.data.cache import CropCache
from training.data.samples import Sample

files = sorted(glob.glob("../shared/data/nuaa_train/live/*.jpg"))[:600]
samples = [Sample(Path(f), "live", "g", "image") for f in files]
out = {}
if __name__ == "__main__":
    for workers in (1, 2, 1, 2):
        root = Path("/tmp/cachepar") / str(workers)
        shutil.rmtree(root, ignore_errors=True)
        cache = CropCache(root, paths.default_detector_path(), crop_margin=0.25)
        t = time.perf_counter()
        built = cache.build(samples, workers=workers)
        dt = time.perf_counter() - t
        out.setdefault(workers, []).append(round(len(samples) / dt, 1))
        print(workers, len(built), round(dt, 1), flush=True)
    print(json.dumps({"frames_per_s": out, "frames": len(samples), "cpu": "AMD EPYC 2 cores"}))
