"""``liveness-export``: write a checkpoint as an ONNX graph that the ONNX Runtime backend (and the lean
runtime) scores with, Grad-CAM map included.

    liveness-export --model models/default.pt --out models/default.onnx

The graph's inputs are ``input`` (N x 3 x S x S, the model's own preprocessing) and ``threshold``; its
outputs ``score`` (P(live)) and ``cam``. The model's metadata travels in the ONNX metadata. Then the file
is loaded back with ONNX Runtime and scored against PyTorch on random inputs; the largest differences are
printed. When the output folder keeps a record of its exports (``models/onnx-copies.json``, which the app
reads to trust the bundled ``.onnx`` beside each ``.pt``), the new pair is added to it. A bad checkpoint or a model that cannot be exported ends with one ``liveness-export: error:``
line and exit status 2. Each stage is announced on stderr as it starts, with its time when it ends
(exporting takes up to a minute on a CPU).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

PROG = "liveness-export"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("--model", type=Path, required=True, help="checkpoint to export (.pt)")
    p.add_argument("--out", type=Path, required=True, help="ONNX file to write (.onnx)")
    return p


def compare(checkpoint: Path, exported: Path, batch: int = 4, seed: int = 0) -> dict[str, float]:
    """Largest |difference| of scores and maps between PyTorch and ONNX Runtime on random inputs, at the
    model's threshold and at both ends (so both signs of the map are compared)."""
    from .core.backends.onnx_scorer import load_onnx
    from .core.backends.torch_scorer import LivenessScorer
    from .core.model import load_checkpoint

    model, meta = load_checkpoint(checkpoint)
    scorer, _, _ = load_onnx(exported)
    torch_scorer = LivenessScorer(model)
    size = meta.preprocessing.input_size
    x = np.random.default_rng(seed).standard_normal((batch, 3, size, size)).astype(np.float32)
    worst = {"score": 0.0, "cam": 0.0}
    for threshold in (0.0, meta.threshold, 1.0):
        ours, theirs = torch_scorer(x, with_cam=True, threshold=threshold), scorer(x, True, threshold)
        assert ours.cams is not None and theirs.cams is not None  # asked for (with_cam)
        worst["score"] = max(worst["score"], float(np.abs(ours.scores - theirs.scores).max()))
        worst["cam"] = max(worst["cam"], float(np.abs(ours.cams - theirs.cams).max()))
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.out.suffix.lower() != ".onnx":
        print(f"{PROG}: error: --out must name a .onnx file, got {args.out.name}", file=sys.stderr)
        return 2
    stages = Stages(3)
    stages.start("loading PyTorch and the ONNX exporter")
    from .core.backends.onnx_export import ExportError, export_onnx
    from .core.meta import ModelLoadError

    try:
        stages.start(f"exporting {args.model.name} (the exporter traces the network: up to a minute on a CPU)")
        meta = export_onnx(args.model, args.out)
        stages.start(f"checking {args.out.name} in ONNX Runtime and comparing it with PyTorch on random inputs")
        worst = compare(args.model, args.out)
    except (ModelLoadError, ExportError, OSError) as exc:
        stages.finish()
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    stages.finish()
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB): model {meta['name'] or args.model.stem}, "
        f"{meta['preprocessing']['input_size']} px, threshold {meta['threshold']:.3f}; ONNX Runtime vs "
        f"PyTorch on random inputs: scores within {worst['score']:.1e}, maps within {worst['cam']:.1e}"
    )
    _record(args.model, args.out)
    return 0


class Stages:
    """Progress of a command that works for a minute without output: each stage's line on stderr when it
    starts ("[2/3] exporting ...") and its time when the next one starts."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.t0 = total, 0, 0.0

    def start(self, text: str) -> None:
        self.finish()
        self.done += 1
        self.t0 = time.perf_counter()
        print(f"[{self.done}/{self.total}] {text} ...", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.t0:
            print(f" {time.perf_counter() - self.t0:.0f} s", file=sys.stderr, flush=True)
            self.t0 = 0.0


def _record(checkpoint: Path, exported: Path) -> None:
    """Add the pair to the output folder's record of exports, where it keeps one."""
    from .core.backends.onnx_copies import SHIPPED_RECORD, VerifiedCopies
    from .core.files import file_sha256

    if (exported.parent / SHIPPED_RECORD).is_file():
        record = VerifiedCopies(exported.parent, name=SHIPPED_RECORD)
        record.add(file_sha256(checkpoint), file_sha256(exported))
        print(f"recorded the pair in {record.path}")


if __name__ == "__main__":
    sys.exit(main())
