"""Memory-aware batching: ``chunk_size: auto``, a memory budget, out-of-memory retries.

A unit batch's attack runs its items (budgets, angles, random draws) through the model in
chunks of at most ``chunk_size`` items per forward pass. With ``chunk_size: auto`` the chunk is
picked per (model, attack) from a *measured* per-item footprint: the first batch of that pair
runs with one item per forward while the peak memory is measured, and

    chunk = floor(budget / peak_of_one_item)      (at least 1, at most :data:`MAX_CHUNK`)

How the peak is measured:

* CUDA: ``torch.cuda.max_memory_allocated`` minus the allocation before the batch;
* CPU (Linux): the process's resident set size (``/proc/self/statm``), sampled every
  :data:`SAMPLE_S` seconds in a background thread, minus the RSS before the batch (freed heap
  is returned to the OS first with glibc's ``malloc_trim`` so that reused pages are counted);
  elsewhere the growth of ``ru_maxrss``. Sampling can miss a very short peak, so the budget is
  only a fraction of the memory (see :func:`memory_budget`).

The budget is ``memory_limit`` (bytes, e.g. ``"8GiB"``, less what the process already uses),
a fraction of the available memory (``0.5``), or by default :data:`DEFAULT_FRACTION` of the
memory available now (free GPU memory, or ``MemAvailable`` on the CPU). If one item does not
fit, activation checkpointing is turned on (VarNet / U-Net ``set_checkpointing``: identical
results, about one more forward pass of compute) and measured again.

Whatever the chunk size (``auto`` or a number), an out-of-memory error
(``torch.OutOfMemoryError``, a ``RuntimeError`` saying "out of memory", ``MemoryError``) is
answered with a warning and a retry of the same batch with half the chunk (then checkpointing),
from the batch's own seed, so the results are those of the smaller chunk; later batches of the
same (model, attack) keep the smaller chunk. Only when one item with checkpointing does not fit
does the run stop, with one sentence saying so.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import re
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from advrecon.errors import AdvreconError

__all__ = [
    "DEFAULT_FRACTION",
    "MAX_CHUNK",
    "ChunkPlanner",
    "PeakMeter",
    "enable_checkpointing",
    "is_out_of_memory",
    "memory_budget",
    "parse_memory",
    "plan_chunk",
]

logger = logging.getLogger(__name__)

#: Share of the available memory that ``chunk_size: auto`` plans with when no limit is given.
DEFAULT_FRACTION = 0.5
#: Largest chunk ``auto`` picks (more items per forward hardly speed anything up).
MAX_CHUNK = 256
#: Smallest per-item footprint assumed (a measurement below it is noise).
MIN_ITEM_BYTES = 1 << 20
#: RSS sampling interval on the CPU (seconds).
SAMPLE_S = 0.002
#: First chunk tried after an out-of-memory error when ``chunk_size`` was unlimited.
_UNLIMITED_RETRY = 64

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1e3,
    "kb": 1e3,
    "m": 1e6,
    "mb": 1e6,
    "g": 1e9,
    "gb": 1e9,
    "t": 1e12,
    "tb": 1e12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_memory(value: Any) -> int | float:
    """A memory limit as bytes (``int``) or as a fraction of the available memory (``float``).

    Accepts ``"8GiB"``, ``"512 MB"``, ``"1.5G"``, a byte count (``4000000000``) or a fraction in
    ``(0, 1]`` (``0.5`` or ``"0.5"``). Units: B, kB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB
    (powers of 1024); case-insensitive.

    Raises:
        ValueError: with a one-line description of what is wrong.
    """
    expected = "expected a size like '8GiB' or '512MB', or a fraction in (0, 1] like 0.5"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{expected}, got {value!r}")
    m = _SIZE.match(str(value))
    if m is None or m.group(2).lower() not in _UNITS:
        raise ValueError(f"{expected}, got {value!r}")
    number, unit = float(m.group(1)), m.group(2).lower()
    if unit == "" and 0 < number <= 1 and not (isinstance(value, int) and number == 1):
        return number
    size = int(number * _UNITS[unit])
    if size < MIN_ITEM_BYTES:
        raise ValueError(f"{expected}; {value!r} is less than 1 MiB")
    return size


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says that memory ran out (CUDA, MPS or the CPU allocator)."""
    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    if isinstance(exc, (oom, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _is_cuda(device: str | torch.device) -> bool:
    return torch.device(device).type == "cuda"


def _rss() -> int:
    """Resident set size of this process in bytes (Linux ``/proc``; else peak RSS)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _available(device: str | torch.device) -> int:
    """Memory available now: free GPU memory, or ``MemAvailable`` of the machine."""
    if _is_cuda(device):
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def _in_use(device: str | torch.device) -> int:
    """What this process already holds: allocated GPU memory, or the CPU RSS."""
    return int(torch.cuda.memory_allocated(torch.device(device))) if _is_cuda(device) else _rss()


def memory_budget(limit: int | float | None, device: str | torch.device) -> int:
    """Bytes one batch may use on ``device`` (see the module doc).

    Args:
        limit: Bytes for the whole process, a fraction of the available memory, or ``None``
            (:data:`DEFAULT_FRACTION`).
        device: Where the model runs.
    """
    if limit is None or isinstance(limit, float):
        return int((DEFAULT_FRACTION if limit is None else limit) * _available(device))
    return max(0, int(limit) - _in_use(device))


def plan_chunk(per_item: int, budget: int, cap: int = MAX_CHUNK) -> int:
    """Items per forward that fit ``budget`` at ``per_item`` bytes each (1 <= chunk <= cap)."""
    return int(max(1, min(cap, budget // max(int(per_item), MIN_ITEM_BYTES))))


def _trim_heap() -> None:
    """Give freed heap back to the OS (glibc), so that the RSS grows with new allocations."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMeter:
    """Context manager: ``.peak`` = the most memory allocated inside the block (bytes)."""

    def __init__(self, device: str | torch.device) -> None:
        self.device = torch.device(device)
        self.peak = 0
        self._stop = threading.Event()
        self._max = 0

    def __enter__(self) -> PeakMeter:
        gc.collect()
        if _is_cuda(self.device):
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            return self
        _trim_heap()
        self._start = self._max = _rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, _rss())
            time.sleep(SAMPLE_S)

    def __exit__(self, *exc: object) -> None:
        if _is_cuda(self.device):
            torch.cuda.synchronize(self.device)
            self.peak = int(torch.cuda.max_memory_allocated(self.device)) - self._start
            return
        self._stop.set()
        self._thread.join()
        self.peak = max(0, max(self._max, _rss()) - self._start)


def enable_checkpointing(model: Any) -> bool:
    """Turn on activation checkpointing in every VarNet (or else U-Net) of ``model``.

    Returns:
        Whether anything was turned on (``False`` if it was already on or there is nothing).
    """
    from advrecon.models.unet import Unet
    from advrecon.models.varnet import VarNet

    if not isinstance(model, torch.nn.Module) or getattr(model, "_advrecon_ckpt", False):
        return False
    found = [m for m in model.modules() if isinstance(m, VarNet)]
    found = found or [m for m in model.modules() if isinstance(m, Unet)]
    for m in found:
        m.set_checkpointing(True)
    model._advrecon_ckpt = bool(found)
    return bool(found)


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


@dataclass
class ChunkPlanner:
    """Runs unit batches with a chunk size that fits (see the module doc).

    Attributes:
        chunk_size: The config's ``chunk_size``: a number, ``"auto"`` or ``None`` (all at once).
        memory_limit: The config's ``memory_limit`` (parsed with :func:`parse_memory`).
        device: Where the models run.
        chosen: ``(model key, attack) -> chunk`` in use (measured, or reduced after an OOM).
        footprints: ``(model key, attack) -> measured bytes of one item``.
    """

    chunk_size: int | str | None
    memory_limit: Any = None
    device: str = "cpu"
    chosen: dict[tuple[str, str], int | None] = field(default_factory=dict)
    footprints: dict[tuple[str, str], int] = field(default_factory=dict)

    def execute(self, executor: Any, batch: Any, ctx: Any) -> Any:
        """``executor(batch, ctx)`` with ``ctx.chunk_size`` set to a chunk that fits."""
        key = (batch.model.key, batch.kind)
        if key not in self.chosen:
            if self.chunk_size == "auto":
                return self._measure(executor, batch, ctx, key)
            self.chosen[key] = self.chunk_size
        return self._run(executor, batch, ctx, key)

    def _attempt(self, executor: Any, batch: Any, ctx: Any, chunk: int | None) -> Any:
        ctx.chunk_size = chunk
        ctx.generator = torch.Generator().manual_seed(batch.seed)  # a retry starts afresh
        return executor(batch, ctx)

    def _run(self, executor: Any, batch: Any, ctx: Any, key: tuple[str, str]) -> Any:
        while True:
            chunk = self.chosen[key]
            try:
                return self._attempt(executor, batch, ctx, chunk)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                del exc  # its traceback holds the failed attempt's tensors
                self._release()
                self._smaller(batch, ctx, key, chunk)

    def _smaller(self, batch: Any, ctx: Any, key: tuple[str, str], chunk: int | None) -> None:
        """After an OOM at ``chunk``: halve it, else turn on checkpointing, else stop."""
        where = f"model {batch.model.key}, attack {batch.kind}"
        if chunk is None or chunk > 1:
            new = _UNLIMITED_RETRY if chunk is None else max(1, chunk // 2)
            logger.warning(
                "%s: out of memory with chunk_size %s; retrying the batch with chunk_size %d",
                where,
                chunk or "unlimited",
                new,
            )
            self.chosen[key] = new
        elif enable_checkpointing(ctx.model):
            logger.warning(
                "%s: out of memory with chunk_size 1; retrying with activation checkpointing",
                where,
            )
        else:
            raise AdvreconError(
                f"{where}: out of memory on {self.device} even with one item per forward pass"
                " (and activation checkpointing where the model has it); use a device with more"
                " memory or a smaller model"
            )

    def _measure(self, executor: Any, batch: Any, ctx: Any, key: tuple[str, str]) -> Any:
        """Run the first batch of ``key`` one item at a time, measure, pick the chunk."""
        limit = None if self.memory_limit is None else parse_memory(self.memory_limit)
        budget = memory_budget(limit, self.device)
        self.chosen[key] = 1
        with PeakMeter(self.device) as meter:
            out = self._run(executor, batch, ctx, key)
        per_item = meter.peak
        if per_item > budget and enable_checkpointing(ctx.model):
            logger.info(
                "model %s, attack %s: one item needs %s > budget %s; activation checkpointing on",
                batch.model.key,
                batch.kind,
                _mib(per_item),
                _mib(budget),
            )
            with PeakMeter(self.device) as meter:
                out = self._run(executor, batch, ctx, key)
            per_item = meter.peak
        self.footprints[key] = per_item
        self.chosen[key] = plan_chunk(per_item, budget)
        logger.info(
            "model %s, attack %s: chunk_size auto -> %d (measured %s per item, budget %s)",
            batch.model.key,
            batch.kind,
            self.chosen[key],
            _mib(per_item),
            _mib(budget),
        )
        return out

    def _release(self) -> None:
        gc.collect()
        if _is_cuda(self.device) and torch.cuda.is_available():
            torch.cuda.empty_cache()
