"""Small helpers shared by the classical solvers (batched inner products and norms)."""

from __future__ import annotations

import torch

__all__ = ["dot", "sq_norm", "safe_divide", "History"]

#: Per-iterate objective values ``(B,)`` appended by a solver when a list is passed.
History = list[torch.Tensor] | None


def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Real part of ``<a, b>`` per item: ``(B, ...)`` complex -> ``(B,)`` real."""
    return (a.conj() * b).real.flatten(1).sum(dim=1)


def sq_norm(a: torch.Tensor) -> torch.Tensor:
    """``||a||^2`` per item: ``(B, ...)`` -> ``(B,)`` real."""
    return (a.abs() ** 2).flatten(1).sum(dim=1)


def safe_divide(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den`` where ``den > 0``, else 0, without NaN in either branch's gradient."""
    positive = den > 0
    return torch.where(positive, num / torch.where(positive, den, torch.ones_like(den)), 0.0)
