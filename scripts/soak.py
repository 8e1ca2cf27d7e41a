"""Memory soak: the resident memory (RSS) of the benchmark pipeline and of the GUI over a long run.

    python scripts/soak.py [--target bench|gui|both] [--seconds 600] [--interval 5] [--out docs/soak]

``bench``: ``liveness_app.bench.run_stream`` in this process (capture, scoring with Grad-CAM, overlay at
the source rate), RSS sampled by a thread. ``gui`` (``scripts/soak_gui.py``): the real ``MainWindow``,
offscreen, on the sample video (it loops) with heatmaps on, RSS sampled by a QTimer on the GUI thread.
``both``: one after the other, each in a child process of its own, so neither inherits the other's memory.

RSS is read from ``/proc/self/status`` (VmRSS), or psutil where there is no /proc; no new dependency.
Writes ``<out>/<target>.json`` (samples ``t_s``/``rss_mb``, summary, machine) and ``<out>/<target>.png``,
and prints one summary line per target: RSS after warm-up, at the end, and the slope (least squares)
over the second half of the run. ``rss_mb`` is MiB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# ROOT: run as ``python scripts/soak.py`` from a checkout that is not installed; HERE: soak_gui.py, next to
# this file, also when the script is loaded from elsewhere (the tests load it by its path).
for folder in (ROOT, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from soak_gui import soak_gui  # noqa: E402 (the gui target; imports Qt only when it runs)

from liveness_app.core import DEVICE_CHOICES  # noqa: E402 (after the path set-up; torch-free)

TARGETS = ("bench", "gui")


# -- sampling --------------------------------------------------------------------------------------------
def rss_mb(pid: int | str = "self") -> float:
    """Current resident memory of ``pid`` in MiB: /proc's VmRSS, else psutil (if installed)."""
    status = Path(f"/proc/{pid}/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024  # kB
    try:
        import psutil
    except ImportError as exc:
        raise RuntimeError("reading RSS needs Linux's /proc or the psutil package") from exc
    return psutil.Process(None if pid == "self" else int(pid)).memory_info().rss / 2**20


@dataclass
class Sampler:
    """RSS samples against seconds since creation, and named instants (start and end of streaming)."""

    t0: float = field(default_factory=time.perf_counter)
    samples: list[dict[str, float]] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def sample(self) -> None:
        self.samples.append({"t_s": round(self.now(), 3), "rss_mb": round(rss_mb(), 2)})

    def mark(self, name: str) -> None:
        self.marks[name] = round(self.now(), 3)
        self.sample()


class SamplerThread:
    """Samples every ``interval`` seconds on a thread of its own until :meth:`stop`."""

    def __init__(self, sampler: Sampler, interval: float) -> None:
        self.sampler, self.interval = sampler, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sampler.sample()

    def __enter__(self) -> "SamplerThread":
        self.sampler.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- figures ---------------------------------------------------------------------------------------------
def windows(
    samples: list[dict[str, float]], start: float, end: float, warmup: float
) -> tuple[list[dict[str, float]], list[dict[str, float]], list[dict[str, float]]]:
    """The samples of the streaming window, those after its warm-up, and those of its second half."""
    inside = [s for s in samples if start <= s["t_s"] <= end] or samples
    steady = [s for s in inside if s["t_s"] >= start + warmup] or inside
    half = [s for s in steady if s["t_s"] >= (start + end) / 2]
    return inside, steady, half


def fit_line(samples: list[dict[str, float]]) -> tuple[float, float] | None:
    """Least-squares ``(MiB per second, intercept)`` through ``samples``; None for fewer than two."""
    if len(samples) < 2:
        return None
    t, rss = np.array([s["t_s"] for s in samples]), np.array([s["rss_mb"] for s in samples])
    slope, intercept = np.polyfit(t, rss, 1)
    return float(slope), float(intercept)


def summarize(samples: list[dict[str, float]], start: float, end: float, warmup: float) -> dict[str, Any]:
    """RSS after warm-up and at the end of the streaming window ``[start, end]``, the peak, and the MiB/min
    slope of a least-squares line through the samples of the window's second half."""
    inside, steady, half = windows(samples, start, end, warmup)
    line = fit_line(half)
    return {
        "start_rss_mb": steady[0]["rss_mb"],
        "start_t_s": steady[0]["t_s"],
        "end_rss_mb": inside[-1]["rss_mb"],
        "end_t_s": inside[-1]["t_s"],
        "peak_rss_mb": max(s["rss_mb"] for s in samples),
        "slope_mb_per_min_second_half": None if line is None else line[0] * 60,
        "samples_in_second_half": len(half),
    }


def machine() -> dict[str, Any]:
    import torch

    from liveness_app.core.device import cpu_model

    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


# -- the bench target (the gui target is in soak_gui.py) -------------------------------------------------
def soak_bench(args: argparse.Namespace, sampler: Sampler) -> dict[str, Any]:
    """The benchmark's capture/scoring/overlay threads for ``args.seconds``; the bench summary after."""
    from liveness_app import bench, paths
    from liveness_app.core.pipeline import Pipeline

    with SamplerThread(sampler, args.interval), contextlib.closing(bench.open_bench_source(args.source)) as source:
        model = bench.load_model(args.model, args.device)
        with bench.open_detector(paths.default_detector_path()) as detector:
            sampler.mark("stream_start")
            run = bench.run_stream(Pipeline(detector, model, heatmap=True), source, args.seconds)
            sampler.mark("stream_end")
        summary = bench.summarize(run, bench.gradcam_overhead(model, run.sample), model.describe(), model)
    return {"bench_summary": summary}


# -- output ----------------------------------------------------------------------------------------------
def plot(record: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t_s"] for s in record["samples"]]
    rss = [s["rss_mb"] for s in record["samples"]]
    summary, marks = record["summary"], record["marks"]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    ax.plot(t, rss, marker=".", lw=1, label="RSS")
    ax.axvspan(0, summary["start_t_s"], color="0.9", label="start-up + warm-up")
    if "stream_end" in marks:
        ax.axvline(marks["stream_end"], color="0.5", ls=":", label="stream stops")
    _, _, half = windows(record["samples"], marks.get("stream_start", 0.0), summary["end_t_s"], record["warmup_s"])
    line = fit_line(half)
    if line is not None:
        ends = np.array([half[0]["t_s"], half[-1]["t_s"]])
        ax.plot(ends, line[0] * ends + line[1], "r--", lw=2, label="second-half fit")
    slope = summary["slope_mb_per_min_second_half"]
    title = f"{record['target']}: {record['seconds']:.0f} s on {record['machine']['cpu']}"
    if slope is not None:
        title += f", second-half slope {slope:+.2f} MiB/min"
    ax.set(xlabel="time since start (s)", ylabel="RSS (MiB)", title=title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def summary_line(record: dict[str, Any]) -> str:
    s, slope = record["summary"], record["summary"]["slope_mb_per_min_second_half"]
    slope_text = "n/a (too few samples)" if slope is None else f"{slope:+.3f} MiB/min"
    return (
        f"soak {record['target']}: {record['seconds']:.0f} s on {record['machine']['cpu']} "
        f"({record['machine']['cpu_count']} CPUs): RSS {s['start_rss_mb']:.1f} MiB after warm-up "
        f"(t={s['start_t_s']:.0f} s) -> {s['end_rss_mb']:.1f} MiB at the end (t={s['end_t_s']:.0f} s), "
        f"peak {s['peak_rss_mb']:.1f} MiB; slope over the second half {slope_text}"
    )


def run_target(target: str, args: argparse.Namespace) -> dict[str, Any]:
    """Soak one target in this process; the record written to ``args.out``."""
    sampler = Sampler()
    runners: dict[str, Callable[[argparse.Namespace, Sampler], dict[str, Any]]] = {"bench": soak_bench, "gui": soak_gui}
    extra = runners[target](args, sampler)
    start = sampler.marks.get("stream_start", 0.0)
    end = sampler.marks.get("stream_end", sampler.now())
    warmup = min(args.warmup, args.seconds / 4)
    record = {
        "target": target,
        "seconds": args.seconds,
        "interval_s": args.interval,
        "warmup_s": warmup,
        "source": str(args.source),
        "model": str(args.model),
        "device": args.device,
        "machine": machine(),
        "marks": sampler.marks,
        "summary": summarize(sampler.samples, start, end, warmup),
        **extra,
        "samples": sampler.samples,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{target}.json").write_text(json.dumps(record, indent=1) + "\n")
    plot(record, args.out / f"{target}.png")
    return record


def run_children(args: argparse.Namespace, argv: list[str]) -> int:
    """``--target both``: each target in a fresh interpreter, one after the other."""
    status = 0
    for target in TARGETS:
        child = [sys.executable, str(Path(__file__).resolve()), *argv, "--target", target]
        status = status or subprocess.run(child, check=False).returncode
    return status


def build_parser() -> argparse.ArgumentParser:
    from liveness_app import paths

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", choices=(*TARGETS, "both"), default="both")
    p.add_argument("--seconds", type=float, default=600.0, help="streaming time per target (default 600)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between RSS samples (default 5)")
    p.add_argument(
        "--warmup",
        type=float,
        default=30.0,
        help="seconds of streaming before the start RSS is taken (at most a quarter of the run)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "soak")
    p.add_argument("--source", default=str(paths.sample_video_path()))
    p.add_argument("--model", type=Path, default=paths.default_model_path())
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="where the model runs")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.seconds <= 0 or args.interval <= 0:
        print("soak: --seconds and --interval must be positive", file=sys.stderr)
        return 2
    if args.target == "both":
        return run_children(args, argv)
    from liveness_app.bench import BenchError

    try:
        record = run_target(args.target, args)
    except BenchError as exc:
        print(f"soak: error: {exc}", file=sys.stderr)
        return 2
    print(summary_line(record), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
