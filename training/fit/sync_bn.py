"""BatchNorm over the global batch of a multi-process run (``--sync-bn``).

By default each rank normalises with its own batch's statistics (per-rank BN): at ``--batch-size`` 64 per
rank those are as good as one process's, and no rank waits for another inside the forward pass. With small
per-rank batches, ``--sync-bn`` computes the statistics over all ranks' batches together. On CUDA that is
torch's own :class:`torch.nn.SyncBatchNorm`; torch's works on GPUs only, so on the CPU (gloo)
:class:`GlobalBatchNorm2d` does the same with one differentiable all-reduce of the per-channel sums.
Either way the layers keep their parameters and buffers (the same objects), so the state dict, the
exported model and the running statistics are those of a plain BatchNorm model.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

# What precise BN (loop.refresh_bn_stats) resets and recomputes: plain, CPU-synced and CUDA-synced layers.
BN_TYPES = (nn.BatchNorm2d, nn.SyncBatchNorm)


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) whose backward all-reduces the gradient: each rank's share of the total loss
    reaches every rank's inputs, as in torch's SyncBatchNorm backward."""

    @staticmethod
    def forward(ctx: object, t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        dist.all_reduce(t)
        return t

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode statistics cover every rank's batch (mean and biased variance
    from all-reduced sums; the running variance gets the unbiased one, as BatchNorm's does)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        count = torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)
        # One all-reduce per layer (sum, sum of squares, count); its backward all-reduces the gradients,
        # so each rank's inputs get the gradient of the global statistics.
        stats = _SumOverRanks.apply(torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c : 2 * c] / n - mean * mean).clamp_min(0.0)
        self._track(mean.detach(), var.detach(), float(n.detach()))
        scale = self.weight / torch.sqrt(var + self.eps)
        return (x - mean[None, :, None, None]) * scale[None, :, None, None] + self.bias[None, :, None, None]

    @torch.no_grad()
    def _track(self, mean: torch.Tensor, var: torch.Tensor, n: float) -> None:
        """Running statistics as BatchNorm keeps them (momentum, or a cumulative average when None)."""
        # _global_copy copies layers that track running statistics: the buffers are there
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        self.running_mean.lerp_(mean, factor)
        self.running_var.lerp_(var * n / max(n - 1.0, 1.0), factor)


def convert_sync_bn(model: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm2d of ``model`` made global over the ranks, in place: torch's SyncBatchNorm on CUDA,
    :class:`GlobalBatchNorm2d` on the CPU (same parameters and buffers, same momentum)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            setattr(model, name, _global_copy(child))
        else:
            convert_sync_bn(child, device)
    return model


def _global_copy(bn: nn.BatchNorm2d) -> GlobalBatchNorm2d:
    out = GlobalBatchNorm2d(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    out.weight, out.bias = bn.weight, bn.bias  # the same Parameters: optimizer and EMA keep tracking them
    out.running_mean, out.running_var, out.num_batches_tracked = bn.running_mean, bn.running_var, bn.num_batches_tracked
    out.train(bn.training)
    return out
