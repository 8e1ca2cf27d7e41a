"""Face detection for the crop cache in worker processes.

Decoding, detecting, cropping and PNG-encoding one sample is a few milliseconds of mostly single-threaded
work (the detector holds the interpreter lock for part of it), so a build on one thread leaves a many-core
machine idle: 139 frames/s on a 16-core machine. :class:`DetectPool` spreads the samples over worker
processes, each with its own detector (made once per process), each writing its own crops; the parent
keeps the index. Processes are started with ``spawn`` (no fork of a process that holds threads) and only for
builds big enough to pay for their start-up (:data:`MIN_SAMPLES`); the pool lives as long as its cache.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from training.data.faces import Detectors

if TYPE_CHECKING:
    from training.data.cache import CropCache
    from training.data.samples import Sample

MIN_SAMPLES = 32  # fewer samples to make: the build stays in this process (a worker takes seconds to start)
_detectors: Detectors | None = None  # one per worker process


def _start(detector_path: str) -> None:
    global _detectors
    _detectors = Detectors(Path(detector_path))


def _make(job: tuple[CropCache, Sample, str]) -> Any:
    cache, sample, key = job
    assert _detectors is not None  # set by the initializer
    return cache._make(sample, key, _detectors)


class DetectPool:
    """``processes`` worker processes making crops for a :class:`~training.data.cache.CropCache`."""

    def __init__(self, detector_path: Path, processes: int) -> None:
        self.processes = max(1, int(processes))
        self._pool = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(str(detector_path),),
        )

    def map(self, cache: CropCache, jobs: Sequence[tuple[Sample, str]]) -> Iterator[Any]:
        """Index entries for (sample, key) jobs, in order."""
        return self._pool.map(_make, [(cache, s, k) for s, k in jobs], chunksize=4)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
