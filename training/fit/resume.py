"""The resumable state of a training run (``last_state.pt``, what ``--resume`` continues from): model,
optimizer, scheduler, weight average and progress.

Like the model file (:mod:`training.fit.checkpoint`) it is made of plain types and tensors, so resuming never
unpickles arbitrary objects. The file is untrusted: it is loaded weights-only, its structure is checked
against the model, optimizer and scheduler it goes into, and anything wrong raises :class:`ModelLoadError`
with a message that names the problem (never torch's advice to load the file with ``weights_only=False``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from liveness_app.core.model import ModelLoadError, save_torch
from liveness_app.core.weights import _count, _names, describe_state_mismatch, read_weights_only

# What fit() saves in last_state.pt, and the type each entry must have ("ema" is optional).
STATE_TYPES: dict[str, tuple[type, ...]] = {
    "model": (dict,),
    "optimizer": (dict,),
    "scheduler": (dict,),
    "epoch": (int,),
    "best": (list, tuple),
    "stale": (int,),
}


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically write the resumable state (model, optimizer, scheduler, epoch, best so far)."""
    save_torch(Path(path), state)


def load_state(path: Path) -> dict[str, Any]:
    """The resumable state written by :func:`save_state`, weights-only, with its entries and their types
    checked; :class:`ModelLoadError` ("cannot resume from PATH: ...") otherwise."""
    what = f"cannot resume from {path}"
    state = read_weights_only(Path(path), what)
    if not isinstance(state, dict):
        raise ModelLoadError(
            f"{what}: not a training state (it holds a {type(state).__name__}, expected a "
            f"dict with {', '.join(STATE_TYPES)})"
        )
    missing = [k for k in STATE_TYPES if k not in state]
    if missing:
        raise ModelLoadError(f"{what}: not a training state (no {', '.join(repr(k) for k in missing)})")
    for key, types in {**STATE_TYPES, "ema": (dict,), "lrs": (list, tuple)}.items():
        if key in state and (not isinstance(state[key], types) or isinstance(state[key], bool)):
            raise ModelLoadError(
                f"{what}: '{key}' is a {type(state[key]).__name__}, expected {' or '.join(t.__name__ for t in types)}"
            )
    if state["epoch"] < 0 or state["stale"] < 0:
        raise ModelLoadError(f"{what}: negative epoch ({state['epoch']}) or stale count ({state['stale']})")
    best = state["best"]
    if len(best) not in (2, 3) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in best):
        raise ModelLoadError(f"{what}: 'best' is {best!r}, expected two or three numbers")
    lrs = state.get("lrs", ())
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in lrs):
        raise ModelLoadError(f"{what}: 'lrs' holds something other than positive numbers")
    return state


def restore_state(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    ema: nn.Module | None = None,
    state: dict[str, Any] | None = None,
) -> tuple[int, tuple[float, ...], int]:
    """Load ``last_state.pt`` into the run's model, optimizer, scheduler (and EMA, when both have one);
    returns (first epoch to run, best dev key so far, epochs without improvement). Everything is checked
    before it is used, so a state from another model or run fails here with a message, never mid-epoch.
    ``state``: that file as :func:`load_state` read it already (rank 0 reads it once under torchrun)."""
    what = f"cannot resume from {path}"
    state = load_state(path) if state is None else state
    _load_module(model, state["model"], f"{what}: the saved model")
    if ema is not None and "ema" in state:
        _load_module(ema, state["ema"], f"{what}: the saved weight average (ema)")
    _check_optimizer(optimizer, state["optimizer"], f"{what}: the saved optimizer state")
    _check_settings(scheduler.state_dict(), state["scheduler"], f"{what}: the saved scheduler state")
    try:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as exc:
        raise ModelLoadError(
            f"{what}: the saved optimizer or scheduler state does not fit: {type(exc).__name__}: {str(exc)[:160]}"
        ) from exc
    # a state saved before the dev loss joined the key (two numbers) resumes with that term unknown (+inf)
    best = tuple(float(v) for v in state["best"]) + (float("inf"),) * (3 - len(state["best"]))
    return int(state["epoch"]) + 1, best, int(state["stale"])


def _load_module(module: nn.Module, given: dict[Any, Any], what: str) -> None:
    mismatch = describe_state_mismatch(module.state_dict(), given)
    if mismatch:
        raise ModelLoadError(
            f"{what} does not match this model ({mismatch}); was the run started with "
            "other settings (e.g. --lbp-grid, --ema-decay)?"
        )
    try:
        module.load_state_dict(given, strict=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{what} does not load: {str(exc).strip().splitlines()[0][:200]}") from exc


def _check_optimizer(optimizer: torch.optim.Optimizer, given: dict[Any, Any], what: str) -> None:
    """The saved optimizer state has this optimizer's groups, parameter counts, settings of the same
    kind, and per-parameter tensors shaped like the parameters (torch checks only the counts, and a
    wrong shape would fail at the first step)."""
    groups, per_param = given.get("param_groups"), given.get("state")
    if not isinstance(groups, list) or not isinstance(per_param, dict):
        raise ModelLoadError(f"{what} has no 'param_groups' list and 'state' dict")
    if len(groups) != len(optimizer.param_groups):
        raise ModelLoadError(
            f"{what} has {len(groups)} parameter group(s), this optimizer {len(optimizer.param_groups)}"
        )
    params: dict[Any, torch.Tensor] = {}
    for i, (saved, live) in enumerate(zip(groups, optimizer.param_groups)):
        ids = saved.get("params") if isinstance(saved, dict) else None
        if not isinstance(ids, list) or not all(isinstance(p, int) for p in ids):
            raise ModelLoadError(f"{what}: parameter group {i} has no list of parameter numbers")
        if len(ids) != len(live["params"]):
            raise ModelLoadError(
                f"{what}: parameter group {i} holds {len(ids)} parameters, this model {len(live['params'])}"
            )
        _check_settings(
            {k: v for k, v in live.items() if k != "params"},
            {k: v for k, v in saved.items() if k != "params"},
            f"{what}, group {i},",
            allow_unknown=True,
        )
        params.update(zip(ids, live["params"]))
    _check_param_state(params, per_param, what)


def _check_param_state(params: dict[Any, torch.Tensor], per_param: dict[Any, Any], what: str) -> None:
    unknown = [k for k in per_param if k not in params]
    if unknown:
        raise ModelLoadError(f"{what} refers to parameter(s) {_names(unknown)} that no group holds")
    wrong = []
    for key, entry in per_param.items():
        if not isinstance(entry, dict):
            raise ModelLoadError(f"{what}: the entry of parameter {key!r} is a {type(entry).__name__}")
        shape = tuple(params[key].shape)
        wrong += [
            f"parameter {key} {name}: expected {list(shape)}, got {list(v.shape)}"
            for name, v in entry.items()
            if isinstance(v, torch.Tensor) and v.dim() and v.shape != shape
        ]
    if wrong:
        count = _count(len(wrong), "shape mismatch", "shape mismatches")
        raise ModelLoadError(f"{what} does not match this model ({count}: {_names(wrong, sep='; ')})")


def _check_settings(own: Mapping[str, Any], given: Mapping[Any, Any], what: str, allow_unknown: bool = False) -> None:
    """Saved settings have the kind (number, flag, text, list of n) of this object's own settings.

    A scheduler's ``load_state_dict`` copies every saved key onto the object, so an unknown key (one
    named like a method, say) is refused unless ``allow_unknown``; a key the save lacks keeps its value.
    """
    unknown = sorted((k for k in given if k not in own), key=str)
    if unknown and not allow_unknown:
        raise ModelLoadError(f"{what} has unknown entr{'y' if len(unknown) == 1 else 'ies'} {_names(unknown)}")
    wrong = [f"{k}: {given[k]!r}" for k in own if k in given and not _same_kind(own[k], given[k])]
    if wrong:
        raise ModelLoadError(f"{what} has value(s) of the wrong kind ({_names(wrong)})")


def _same_kind(own: Any, given: Any) -> bool:
    if own is None or given is None:  # optional settings (e.g. foreach) are None or a value
        return True
    if isinstance(own, bool) or isinstance(given, bool):
        return isinstance(own, bool) and isinstance(given, bool)
    if isinstance(own, (int, float)):
        return isinstance(given, (int, float))
    if isinstance(own, (list, tuple)):
        return (
            isinstance(given, (list, tuple))
            and len(own) == len(given)
            and all(_same_kind(a, b) for a, b in zip(own, given))
        )
    return type(own) is type(given)
