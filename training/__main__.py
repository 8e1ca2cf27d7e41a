"""``liveness-train``: train a liveness model from recorded sessions, folders or public datasets.

    liveness-train --data ~/.local/share/LivenessStudio/recordings --epochs 20 --name mine
    liveness-train --data /data/manifest.csv --data oulu:/data/OULU --input-size 224 --device cuda

Writes ``<out>/config.json`` (resolved), ``log.jsonl``, ``best.pt`` (app-loadable, calibrated),
``last_state.pt`` (``--resume`` continues from it) and, when files were skipped, ``skipped.csv`` (path,
reason); ``<out>`` is ``--out-dir``, else the user data folder's ``runs/<name>``. The best model is copied
into the app's model folder. A bad option, data set, ``--pretrained`` or ``--resume`` file ends the run with
one ``liveness-train: error: ...`` line and exit status 2.

Several GPUs or machines: ``torchrun --nproc-per-node 8 -m training --data ... --device cuda`` (see
:mod:`training.fit.distributed`); rank 0 alone prints progress and writes the files above.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from liveness_app.core.backends.factory import require_checkpoint
from training.cli import config_from_args

if TYPE_CHECKING:
    from tqdm import tqdm

    from training.fit.distributed import Dist
    from training.fit.events import TrainEvent

# Importing this module and reading the options (training.cli) imports no torch, scikit-learn or face
# detector (they take seconds); main() imports the training stack once the options are known.


class Progress:
    """What the command line prints of a run's events: cache and batch progress as a tqdm bar, warnings on
    stderr, the rest as lines on stdout, and at the end the best epoch's dev figures as a table."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None
        self.best: Mapping[str, Any] | None = None  # the dev metrics of the epoch best.pt was saved at
        self.best_epoch = 0

    def show(self, ev: TrainEvent) -> None:
        if ev.kind in ("cache", "batch"):
            self._advance(ev)
            return
        if ev.kind == "stage":  # the bar's label says enough on a terminal
            return
        self.close()
        if ev.kind == "warning":
            print(f"liveness-train: warning: {ev.message}", file=sys.stderr, flush=True)
            return
        if ev.kind == "epoch" and ev.metrics.get("improved") and not ev.phase:
            self.best, self.best_epoch = ev.metrics.get("dev"), ev.epoch
        print(ev.message, flush=True)
        if ev.kind == "done" and self.best:
            from training.eval.table import metrics_table

            print(f"dev figures at the best epoch ({self.best_epoch}):\n{metrics_table(self.best)}", flush=True)

    def _advance(self, ev: TrainEvent) -> None:
        from tqdm import tqdm

        desc = "cache" if ev.kind == "cache" else f"{ev.phase or 'epoch'} {ev.epoch}/{ev.epochs}"
        if self.bar is None or self.bar.desc != desc or self.bar.total != ev.steps:
            self.close()
            self.bar = tqdm(total=ev.steps, desc=desc, unit="batch" if ev.kind == "batch" else "file")
        self.bar.update(ev.step - self.bar.n)
        if "loss" in ev.metrics:
            self.bar.set_postfix(loss=f"{ev.metrics['loss']:.4f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def main(argv: list[str] | None = None) -> int:
    """Run ``liveness-train``; returns the exit status (2 for bad options, data or model files). Under
    torchrun every process runs this; only rank 0 prints progress."""
    cfg = config_from_args(argv)
    try:  # an .onnx where weights are needed: said at once, not after seconds of imports
        for value, purpose in ((cfg.init, "fine-tuning (--init)"), (cfg.teacher, "distilling from it (--teacher)")):
            if value:
                require_checkpoint(Path(value), purpose)
    except ValueError as exc:  # ModelLoadError
        print(f"liveness-train: error: {exc}", file=sys.stderr)
        return 2
    from liveness_app.core.face import DetectorError
    from training.fit.distributed import SINGLE, session
    from training.fit.loop import fit

    progress = Progress()
    dist = SINGLE
    try:
        with session(cfg.device) as dist:
            if dist.is_main:
                print(f"run folder: {cfg.out_dir}", flush=True)
            for ev in fit(cfg, dist=dist):
                if dist.is_main:
                    progress.show(ev)
    except KeyboardInterrupt:
        progress.close()
        if dist.is_main:
            print("cancelled; the best checkpoint so far is kept in", cfg.out_dir, file=sys.stderr)
        return 130
    except (ValueError, OSError, DetectorError) as exc:
        # Bad input (options, data, a --pretrained, --init or --resume file: ModelLoadError is a ValueError)
        # is a usage error: one line, no traceback, exit status 2 like argparse's own errors.
        progress.close()
        print(f"liveness-train: error{_rank_note(dist)}: {exc}", file=sys.stderr)
        return 2
    return 0


def _rank_note(dist: Dist) -> str:
    """ " (rank N)" in the error line of a rank other than 0: an error that only one machine meets (a file
    missing there) is shown too, and says where."""
    return "" if dist.is_main else f" (rank {dist.rank})"


if __name__ == "__main__":
    sys.exit(main())
