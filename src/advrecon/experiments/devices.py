"""Devices a run can use: ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, checked on this machine.

A device is checked when the config is loaded (well-formed for ``torch.device``, a supported
type, and present here), so a config written for another machine fails at once with one line
(``device: 'cuda' requested but CUDA is not available here; use cpu (--device cpu)``) instead of
in the middle of a run. ``--device`` replaces the config's device before the check.
"""

from __future__ import annotations

from typing import Any

from advrecon.config_types import fail
from advrecon.errors import ConfigError

__all__ = ["DEVICE_TYPES", "check_device", "device_problem", "parse_device"]

#: Device types a run can use (checked for availability at load).
DEVICE_TYPES = ("cpu", "cuda", "mps")


def device_problem(v: Any, allow_auto: bool = False) -> str | None:
    """Why ``v`` is not a device usable here (``None``: it is)."""
    import torch

    if not isinstance(v, str) or not v:
        return f"must be a device name such as cpu, cuda or cuda:0, got {v!r}"
    if allow_auto and v == "auto":
        return None
    try:
        dev = torch.device(v)
    except (RuntimeError, ValueError, TypeError):
        return f"'{v}' is not a device; use cpu, cuda, cuda:N or mps"
    if dev.type not in DEVICE_TYPES:
        return f"device type '{dev.type}' is not supported; use cpu, cuda, cuda:N or mps"
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            return f"'{v}' requested but CUDA is not available here; use cpu (--device cpu)"
        if dev.index is not None and dev.index >= count:
            return f"'{v}' requested but this machine has {count} CUDA device(s)"
    if dev.type == "mps" and not torch.backends.mps.is_available():
        return f"'{v}' requested but MPS is not available here; use cpu (--device cpu)"
    return None


def parse_device(v: Any, path: str = "device", allow_auto: bool = False) -> str:
    """Check a device string: well-formed (``torch.device``) and present on this machine.

    Args:
        v: ``cpu``, ``cuda``, ``cuda:N``, ``mps`` (and ``auto`` when ``allow_auto``).
        path: Key path or option for the message (``device``, ``--device``).
        allow_auto: Accept ``auto`` (CUDA when available, else CPU).

    Returns:
        ``v`` unchanged.

    Raises:
        ConfigError: malformed, unsupported type, or CUDA/MPS not available here.
    """
    problem = device_problem(v, allow_auto)
    if problem is not None:
        raise ConfigError(f"{path}: {problem}")
    return v


def check_device(v: Any) -> str:
    """The ``device`` key's check (a validation error with the problem; ``auto`` not allowed)."""
    problem = device_problem(v)
    if problem is not None:
        raise fail(problem)
    return v
