"""Sharding work across processes started by ``torchrun``.

``torchrun --nnodes N --nproc_per_node P -m advrecon run CONFIG`` starts ``N * P`` processes
with ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` set. Each process takes the unit batches
``i`` with ``i % world_size == rank`` (deterministic round-robin over the full, ordered batch
list, so the assignment does not depend on what is already done), writes its own
``results.rank{r}.csv``, and rank 0 merges the parts into ``results.csv`` after a barrier.
CPU processes use the ``gloo`` backend; with CUDA each process drives GPU ``LOCAL_RANK``
through ``nccl``. A plain ``advrecon run`` is world size 1 and needs no process group.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "init_distributed", "shard", "barrier", "shutdown"]

T = TypeVar("T")
# A rank that finishes early waits for the slowest one at the barrier: allow long runs.
_BARRIER_TIMEOUT = timedelta(hours=72)


@dataclass(frozen=True)
class DistInfo:
    """Process placement.

    Attributes:
        rank: Global rank (0 when not distributed).
        world_size: Number of processes (1 when not distributed).
        local_rank: Rank on this node (selects the GPU).
        device: Torch device this process computes on.
        owns_group: True when :func:`init_distributed` created the process group.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    owns_group: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "cpu") -> DistInfo:
    """Join the ``torchrun`` process group if the environment asks for one.

    Args:
        device: Configured device (``cpu``, ``cuda``, ``cuda:1``...). Under torchrun with CUDA
            the device becomes ``cuda:{LOCAL_RANK}``.

    Returns:
        The placement of this process.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=device)
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda") and torch.cuda.is_available()
    if use_cuda:
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=_BARRIER_TIMEOUT)
        owns = True
    return DistInfo(rank, world, local, device, owns)


def shard(items: Sequence[T], info: DistInfo) -> list[T]:
    """Items ``i`` with ``i % world_size == rank``."""
    return [x for i, x in enumerate(items) if i % info.world_size == info.rank]


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op when not distributed)."""
    if info.distributed and dist.is_initialized():
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Destroy the process group if :func:`init_distributed` created it."""
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()
