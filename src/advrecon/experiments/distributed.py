"""Sharding work across processes started by ``torchrun`` (experiments and training).

``torchrun --nnodes N --nproc_per_node P -m advrecon run CONFIG`` starts ``N * P`` processes
with ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` set. Each process takes the unit batches
``i`` with ``i % world_size == rank`` (deterministic round-robin over the full, ordered batch
list, so the assignment does not depend on what is already done), writes its own
``results.rank{r}.csv``, and rank 0 merges the parts into ``results.csv`` after a barrier.
CPU processes use the ``gloo`` backend; with CUDA each process drives GPU ``LOCAL_RANK``
through ``nccl``. A plain ``advrecon run`` is world size 1 and needs no process group.

Failure handling: the set-up steps run in :func:`together` (ending in :func:`agree`), which
tells every rank whether any rank failed (so nobody waits forever at a barrier for a rank that
stopped); a rank that fails while computing exits, and torchrun stops the others. Workers
started by torchrun also stop (SIGTERM) when the launcher itself is killed, instead of running
on unsupervised.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from advrecon.errors import AdvreconError

__all__ = [
    "DistInfo",
    "init_distributed",
    "shard",
    "barrier",
    "agree",
    "together",
    "broadcast",
    "all_reduce_sum",
    "shutdown",
]

T = TypeVar("T")
# A rank that finishes early waits for the slowest one at the barrier: allow long runs.
_BARRIER_TIMEOUT = timedelta(hours=72)
#: Seconds between checks that the torchrun launcher is still alive; grace before a hard exit.
_ORPHAN_POLL_S = 1.0
_ORPHAN_GRACE_S = 60.0


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

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes shared files."""
        return self.rank == 0


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
    if "TORCHELASTIC_RUN_ID" in os.environ:
        watch_launcher()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=_BARRIER_TIMEOUT)
        owns = True
    return DistInfo(rank, world, local, device, owns)


def watch_launcher(poll_s: float = _ORPHAN_POLL_S, grace_s: float = _ORPHAN_GRACE_S) -> None:
    """Stop this worker when its parent (the torchrun launcher) dies.

    A daemon thread polls the parent pid; when the worker is re-parented it sends itself
    SIGTERM (the run records ``interrupted`` and exits) and, if still alive after ``grace_s``
    (e.g. stuck in a collective with dead peers), exits hard. Results stay safe either way.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os._exit(143)

    threading.Thread(target=watch, name="advrecon-launcher-watch", daemon=True).start()


def agree(info: DistInfo, error: str | None) -> list[str]:
    """Exchange set-up failures: every rank learns the errors of all ranks.

    Args:
        info: Placement.
        error: This rank's error message, or ``None``.

    Returns:
        ``"rank R: message"`` for every failed rank (empty: all went well).
    """
    if not (info.distributed and dist.is_initialized()):
        return [] if error is None else [error]
    errors: list[str | None] = [None] * info.world_size
    dist.all_gather_object(errors, error)
    return [f"rank {r}: {e}" for r, e in enumerate(errors) if e is not None]


def together(info: DistInfo, step: Callable[[], T]) -> T:
    """Run a set-up step on every rank; if any rank fails, every rank raises (no one waits).

    Returns:
        The step's value on this rank.

    Raises:
        BaseException: this rank's own failure, as it was raised.
        AdvreconError: another rank failed (naming it and its message).
    """
    value: Any = None
    failure: BaseException | None = None
    try:
        value = step()
    except BaseException as exc:  # also bugs and Ctrl-C: the other ranks must not wait
        failure = exc
    errors = agree(info, None if failure is None else (str(failure) or type(failure).__name__))
    if failure is not None:
        raise failure
    if errors:
        raise AdvreconError(f"another process of this run failed: {errors[0]}")
    return value


def broadcast(info: DistInfo, obj: T) -> T:
    """Rank 0's ``obj`` on every rank (identity when not distributed)."""
    if not (info.distributed and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shard(items: Sequence[T], info: DistInfo) -> list[T]:
    """Items ``i`` with ``i % world_size == rank``."""
    return [x for i, x in enumerate(items) if i % info.world_size == info.rank]


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op when not distributed)."""
    if info.distributed and dist.is_initialized():
        dist.barrier()


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over all ranks, a new tensor (``x`` itself without a process group)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        x = x.clone()
        dist.all_reduce(x)
    return x


def shutdown(info: DistInfo) -> None:
    """Destroy the process group if :func:`init_distributed` created it."""
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()
