"""Reading weight files that may come from anyone: weights-only, and refusals in our own words.

``torch.load(weights_only=True)`` never unpickles arbitrary objects; when it refuses a file, its message
tells the user to retry with ``weights_only=False`` (which runs whatever code the file holds): that advice
is never repeated here, nor chained into a logged traceback. Used by the app's model loader and by
training (``--pretrained``, ``--resume``).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any, Mapping

import torch

from .meta import ModelLoadError

SHOWN_NAMES = 3  # key names quoted per kind of mismatch; the rest are counted


def read_weights_only(path: Path, what: str) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; any failure is a :class:`ModelLoadError`
    starting with ``what`` (e.g. "cannot resume from run/last_state.pt") and saying why in our words.

    The torch error is not chained (``from None``):
    its text tells the user to retry with ``weights_only=False``, which runs whatever code the file holds,
    and a logged traceback would repeat that advice.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{what}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files; all mean "unusable"
        why = unreadable_reason(exc)
    raise ModelLoadError(f"{what}: {why}") from None


def unreadable_reason(exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, without repeating torch's advice."""
    text = str(exc)
    # torch words it "Unsupported global: GLOBAL a.B" for a class, "unsupported GLOBAL posix.mkdir whose
    # module posix is blocked" for a function a __reduce__ would call: both name the global.
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if isinstance(exc, pickle.UnpicklingError) and found:
        return (
            f"it holds Python objects ({found.group(1)}) besides tensors and plain data, so it was "
            "refused unopened (only weights-only files are loaded)"
        )
    if isinstance(exc, pickle.UnpicklingError):
        return "not a weights-only PyTorch file (corrupt, or a pickle of other objects)"
    first = re.split(r"\n|\. ", text.strip(), maxsplit=1)[0][:160]  # torch's first sentence says what broke
    detail = f": {first}" if first and "weights_only" not in text and "safe_globals" not in text else ""
    return f"the file is corrupt or was not saved by PyTorch ({type(exc).__name__}{detail})"


def describe_state_mismatch(own: Mapping[str, Any], given: Mapping[Any, Any]) -> str:
    """What keeps ``given`` from loading into a module whose state dict is ``own`` (strict), in words;
    "" when it would load. Names the first few missing, unexpected, non-tensor and wrongly shaped
    entries and counts the rest, e.g. ``2 missing keys (a.weight, a.bias); 1 shape mismatch
    (b.weight: expected [8, 4], got [4, 4])``."""
    missing = sorted(set(own) - set(given))
    unexpected = sorted((k for k in given if k not in own), key=str)
    common = [k for k in own if k in given]
    not_tensors = [k for k in common if not isinstance(given[k], torch.Tensor)]
    shapes = [k for k in common if k not in not_tensors and tuple(given[k].shape) != tuple(own[k].shape)]
    parts = []
    if missing:
        parts.append(f"{_count(len(missing), 'missing key')} ({_names(missing)})")
    if unexpected:
        parts.append(f"{_count(len(unexpected), 'unexpected key')} ({_names(unexpected)})")
    if not_tensors:
        parts.append(
            f"{_count(len(not_tensors), 'value')} not a tensor "
            f"({_names([f'{k}: {type(given[k]).__name__}' for k in not_tensors])})"
        )
    if shapes:
        parts.append(
            f"{_count(len(shapes), 'shape mismatch', 'shape mismatches')} ("
            + _names([f"{k}: expected {list(own[k].shape)}, got {list(given[k].shape)}" for k in shapes], sep="; ")
            + ")"
        )
    return "; ".join(parts)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _names(items: list[Any], sep: str = ", ") -> str:
    shown = sep.join(str(item) for item in items[:SHOWN_NAMES])
    return shown + (f"{sep}... {len(items) - SHOWN_NAMES} more" if len(items) > SHOWN_NAMES else "")
