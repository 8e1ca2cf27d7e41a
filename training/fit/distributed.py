"""``liveness-train`` under ``torchrun``: one process per GPU (or CPU process), one model.

``torchrun`` starts the processes and sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; :func:`session`
joins them into a process group (NCCL on CUDA, gloo on the CPU) and hands ``fit()`` a :class:`Dist`. Without
``torchrun`` (or with one process) it is :data:`SINGLE`: no process group, and every helper below is a
no-op that returns what one process would have, so a plain run is exactly what it was before.

What the ranks share and how: each trains on its own part of the epoch's balanced sample
(:func:`balanced_share`) with the gradients averaged by ``DistributedDataParallel``; dev crops are scored
a part per rank and gathered (:meth:`Dist.gather_scores`), so every rank takes the same early-stopping
and learning-rate decisions from the same numbers; rank 0 alone writes files (``Dist.is_main``).
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from liveness_app.core.device import select_device
from training.fit.sync_bn import convert_sync_bn

T = TypeVar("T")


@dataclass(frozen=True)
class Dist:
    """This process's place in the run: rank, number of processes, GPU index on its machine, backend
    ("" when there is no process group)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def local_device(self, device: torch.device) -> torch.device:
        """This rank's own GPU (``cuda:LOCAL_RANK``) when training on CUDA under torchrun."""
        return torch.device("cuda", self.local_rank) if self.active and device.type == "cuda" else device

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def all_gather_object(self, obj: T) -> list[T]:
        """Every rank's ``obj`` (picklable), in rank order."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box: list[Any] = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, device=self._comm_device())
        return box[0]

    def from_main(self, load: Callable[[], T]) -> T:
        """``load()`` run on rank 0 only and its result (or its ValueError / OSError, raised again) on every
        rank: a file only rank 0 may see (``--resume`` state on its disk) read once, refused everywhere."""
        if not self.active:
            return load()
        result: Any = None
        if self.is_main:
            try:
                result = ("ok", load())
            except (ValueError, OSError) as exc:
                result = ("error", exc)
        kind, value = self.broadcast_object(result)
        if kind == "error":
            raise value
        return value

    def mean(self, value: float | None) -> float | None:
        """The average over the ranks of a per-rank number (e.g. the mean training loss: every rank
        trains on as many images)."""
        if not self.active or value is None:
            return value
        t = torch.tensor([float(value)], dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def gather_scores(self, score: Callable[[list[T]], np.ndarray], items: Sequence[T]) -> np.ndarray:
        """``score(items)`` with the work split: each rank scores every ``world_size``-th item from its rank
        on, and the parts are put back in the items' order on every rank."""
        if not self.active:
            return score(list(items))
        parts = self.all_gather_object(np.asarray(score(list(items[self.rank :: self.world_size]))))
        out = np.empty(len(items), dtype=parts[0].dtype if len(parts[0]) else np.float32)
        for rank, part in enumerate(parts):
            out[rank :: self.world_size] = part
        return out

    def broadcast_tensors(self, tensors: Iterable[torch.Tensor]) -> None:
        """Rank 0's values into these tensors (parameters about to be trained in step)."""
        if self.active:
            _in_one(list(tensors), lambda flat: dist.broadcast(flat, src=0))

    def average_gradients(self, params: Iterable[torch.Tensor]) -> None:
        """What DDP does for a model, for parameters trained outside one (the distillation stage)."""
        if self.active:
            _in_one(
                [p.grad for p in params if p.grad is not None],
                lambda flat: (dist.all_reduce(flat), flat.div_(self.world_size)),
            )

    def in_sync(self, model: nn.Module) -> bool:
        """Whether every rank holds bit-identical parameters: what makes N processes one DDP run rather
        than N runs that each trained alone."""
        if not self.active:
            return True
        digest = hashlib.sha256()
        for p in model.parameters():
            digest.update(p.detach().float().cpu().numpy().tobytes())
        return len(set(self.all_gather_object(digest.hexdigest()))) == 1

    def wrap(self, model: nn.Module, device: torch.device, sync_bn: bool) -> nn.Module:
        """The module to train: ``model`` itself for one process, else ``model`` (BatchNorm made global
        first when ``sync_bn``) inside ``DistributedDataParallel``. ``model`` stays the same object, so
        the weight average, the saved model and the L2-SP pull go on using it."""
        if not self.active:
            return model
        if sync_bn:
            convert_sync_bn(model, device)
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def describe(self, sync_bn: bool, batch_size: int) -> dict[str, Any]:
        """The ``training`` metadata of a model: how many processes trained it, and how."""
        return {
            "world_size": self.world_size,
            "distributed": {
                "backend": self.backend or None,
                "sync_bn": bool(sync_bn and self.active),
                "batch_per_rank": batch_size,
                "global_batch": batch_size * self.world_size,
            },
        }

    def _comm_device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")


SINGLE = Dist()


@torch.no_grad()
def _in_one(tensors: list[torch.Tensor], op: Callable[[torch.Tensor], object]) -> None:
    """``op`` on one flat copy of ``tensors``, the result copied back: one collective instead of one per
    tensor, and contiguous whatever their memory format (channels_last weights are not)."""
    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    op(flat)
    offset = 0
    for t in tensors:
        t.copy_(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()


def balanced_share(
    weights: torch.Tensor, n: int, generator: torch.Generator, rank: int = 0, world_size: int = 1
) -> list[int]:
    """This rank's part of an epoch's balanced sample of ``n`` indices (drawn with replacement by
    ``weights``, as ``WeightedRandomSampler`` draws them). Every rank draws the whole epoch with the same
    seeded generator, then keeps every ``world_size``-th index from its rank on: the parts are disjoint and
    together are the epoch. ``n`` is rounded up to a multiple of ``world_size`` so that every rank has as
    many batches (DDP waits for every rank at every step: one batch more on one rank would hang the run)."""
    total = -(-n // world_size) * world_size
    drawn = torch.multinomial(weights, total, replacement=True, generator=generator).tolist()
    return drawn[rank::world_size]


def from_env(env: Mapping[str, str] = os.environ) -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun sets them; (0, 1, 0) without torchrun."""
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        return (int(env.get("RANK", "0")), world, int(env.get("LOCAL_RANK", "0"))) if world > 1 else (0, 1, 0)
    except ValueError as exc:
        raise ValueError(f"torchrun's WORLD_SIZE, RANK or LOCAL_RANK is not a number: {exc}") from None


@contextmanager
def session(device_preference: str, env: Mapping[str, str] = os.environ) -> Iterator[Dist]:
    """The run's :class:`Dist`; under torchrun with several processes, the process group around it
    (NCCL when the device is CUDA, else gloo), destroyed at the end, also on an error."""
    rank, world, local = from_env(env)
    if world == 1:
        yield SINGLE
        return
    cuda = select_device(device_preference)[0].type == "cuda"
    if cuda:
        if local >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK {local} but this machine has {torch.cuda.device_count()} GPU(s): "
                "give torchrun --nproc-per-node at most the number of GPUs"
            )
        torch.cuda.set_device(local)  # before the NCCL group: each rank owns one GPU
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield Dist(dist.get_rank(), dist.get_world_size(), local, "nccl" if cuda else "gloo")
    finally:
        dist.destroy_process_group()
