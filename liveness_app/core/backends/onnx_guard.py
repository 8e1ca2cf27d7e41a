"""An ONNX file is checked before ONNX Runtime opens it in the app's process.

1. :func:`.onnx_inspect.inspect_graph` reads the protobuf and refuses a graph that names external data,
   calls an operator outside :data:`.onnx_inspect.ALLOWED_OPS` or defines functions.
2. :func:`trial_run` (here) opens and runs the graph once in a child process under a time limit and, on
   Linux, a memory limit: a graph that never returns or swells to gigabytes is abandoned there, and the
   child killed. With ``reference`` (a ``.pt`` the graph claims to be an export of) the child also scores
   fixed inputs with the checkpoint in PyTorch and the outputs must agree: a derived file is trusted for
   what it computes, never for what it says about itself.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..meta import ModelLoadError

TRIAL_TIMEOUT_S = 60.0  # the shipped graphs open and run in under a second; a busy CI machine is slower
REFERENCE_TIMEOUT_S = 240.0  # with the PyTorch comparison: importing torch alone takes seconds
TRIAL_MEMORY_BYTES = 4 * 2**30  # address space of the child while ONNX Runtime runs (about 0.4 GiB used)
# An export scores within 1e-6 of its checkpoint and draws its maps within 1e-5 (README, export); an
# untrained network's scores all sit near 0.5, so the maps are compared too.
SCORE_TOLERANCE, CAM_TOLERANCE = 1e-4, 1e-3
_aborts = [0]  # counted up by abort_trials(): a trial started before the latest count is abandoned
_aborts_lock = threading.Lock()


def trial_run(
    data: bytes, name: str, size: int, threads: int, reference: Path | None = None, timeout_s: float | None = None
) -> dict[str, Any] | None:
    """Open and run the graph in a child process (see the module docstring); :class:`ModelLoadError` when
    it fails, exceeds the limits, or (with ``reference``) does not compute what the checkpoint does.
    Returns the reference checkpoint's metadata (as a dict), or None without a reference."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or Qt state inherited
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_child,
        args=(send, data, size, threads, str(reference) if reference else None),
        name="onnx-trial",
        daemon=True,
    )
    limit = timeout_s or (REFERENCE_TIMEOUT_S if reference else TRIAL_TIMEOUT_S)
    started = _aborts[0]
    child.start()
    send.close()
    try:
        answer = _wait(receive, limit, started)
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if _aborts[0] != started:
        raise ModelLoadError(f"{name}: loading was cancelled (the app is closing)")
    if answer is None:
        raise ModelLoadError(f"{name}: the graph did not finish a trial run in {limit:.0f} s; refused")
    if answer[0] == "died":
        raise ModelLoadError(
            f"{name}: the trial run of the graph crashed or ran past "
            f"{TRIAL_MEMORY_BYTES / 2**30:.0f} GiB of memory (exit code {child.exitcode}); refused"
        )
    if answer[0] != "ok":
        raise ModelLoadError(f"{name}: {answer[1]}")
    return answer[1]


def _wait(receive: Any, limit: float, started: int) -> tuple[str, Any] | None:
    """The child's answer; None after ``limit`` seconds or once :func:`abort_trials` was called."""
    deadline = time.monotonic() + limit
    try:
        while _aborts[0] == started:
            if receive.poll(max(0.0, min(0.1, deadline - time.monotonic()))):
                return receive.recv()
            if time.monotonic() >= deadline:
                return None
    except EOFError:  # the child died without answering: killed by the memory limit, or crashed
        return ("died", None)
    return None


def abort_trials() -> None:
    """Abandon every trial run in flight (the app is closing): each raises :class:`ModelLoadError` within
    a tenth of a second and its child is killed. Trials started later run as usual."""
    with _aborts_lock:
        _aborts[0] += 1


def _limit_memory(soft: int | None) -> None:
    """Cap (or, with None, uncap) the address space of this process where the platform supports it."""
    if sys.platform != "linux":
        return  # macOS does not enforce RLIMIT_AS; Windows has no rlimit: the time limit still holds
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    target = hard if soft is None else (soft if hard == resource.RLIM_INFINITY else min(soft, hard))
    resource.setrlimit(resource.RLIMIT_AS, (target, hard))


def _child(conn: Any, data: bytes, size: int, threads: int, reference: str | None) -> None:
    """Child process: run the graph on a blank face and on fixed inputs, then compare with ``reference``."""
    try:
        _limit_memory(TRIAL_MEMORY_BYTES)
        outputs = _run_graph(data, size, threads)
        _limit_memory(None)  # the graph is gone; PyTorch maps several GiB of address space when imported
        conn.send(("ok", _compare(outputs, Path(reference), size) if reference is not None else None))
    except ModelLoadError as exc:
        conn.send(("refused", str(exc)))
    except MemoryError:
        conn.send(
            (
                "refused",
                f"the trial run of the graph needed more than {TRIAL_MEMORY_BYTES / 2**30:.0f} GiB of memory; refused",
            )
        )
    except Exception as exc:  # ORT's own error types: the graph cannot run
        conn.send(("refused", f"the graph fails on a trial input ({type(exc).__name__}: {str(exc)[:160]})"))
    finally:
        conn.close()


def fixed_inputs(size: int) -> np.ndarray:
    """A blank face and three seeded random ones in the normalised range: the same in every process."""
    noise = np.random.default_rng(20261204).uniform(-2.0, 2.0, (3, 3, size, size)).astype(np.float32)
    return np.concatenate([np.zeros((1, 3, size, size), np.float32), noise])


def _run_graph(data: bytes, size: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and maps of the fixed inputs, each checked to be probabilities and maps in [0, 1]."""
    import onnxruntime as ort

    from .onnx_scorer import check_io, check_outputs, session_options

    session = ort.InferenceSession(data, session_options(threads), providers=["CPUExecutionProvider"])
    check_io(session, size)
    scores, cams = [], []
    for x in fixed_inputs(size):  # one at a time: the batch dimension may be fixed at 1
        score, cam = session.run(["score", "cam"], {"input": x[None], "threshold": np.asarray([0.5], np.float32)})
        check_outputs(score, cam, 1)
        scores.append(np.asarray(score).reshape(-1)[0])
        cams.append(np.asarray(cam)[0])
    return np.asarray(scores), np.asarray(cams)


def _compare(outputs: tuple[np.ndarray, np.ndarray], reference: Path, size: int) -> dict[str, Any]:
    """The checkpoint's metadata, when the graph's outputs are the checkpoint's (else ModelLoadError)."""
    import torch

    from ..model import load_checkpoint
    from .onnx_export import ScoreAndCam

    model, meta = load_checkpoint(reference, "cpu")
    with torch.no_grad():
        scores, cams = ScoreAndCam(model)(torch.from_numpy(fixed_inputs(size)), torch.tensor([0.5]))
    worst = (
        float(np.max(np.abs(scores.numpy() - outputs[0]))),
        float(np.max(np.abs(cams.numpy() - outputs[1]))) if cams.shape == outputs[1].shape else float("inf"),
    )
    if not (worst[0] <= SCORE_TOLERANCE and worst[1] <= CAM_TOLERANCE):
        raise ModelLoadError(
            f"its scores and maps differ from {reference.name}'s (by up to {worst[0]:.2g} and "
            f"{worst[1]:.2g}) on fixed inputs: it is not an export of that checkpoint"
        )
    return meta.to_dict()
