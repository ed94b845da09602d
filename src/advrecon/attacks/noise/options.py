"""The settings of one :func:`~advrecon.attacks.noise.noise_attack` call, checked once.

:class:`NoiseOptions` holds the keyword arguments of the call; :meth:`NoiseOptions.checked`
raises the one-line errors for bad values, :meth:`NoiseOptions.searcher` builds the gradient
search (:func:`make_search`) and :meth:`NoiseOptions.settings` the settings the result records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import check_count
from advrecon.attacks.noise.threat import RULES
from advrecon.attacks.objectives import OBJECTIVES
from advrecon.attacks.search import (
    APGD,
    APGD_STEP,
    SEARCHES,
    Converge,
    Converging,
    ProjectedGradient,
)
from advrecon.errors import AdvreconError

__all__ = ["NoiseOptions", "check_converge", "make_search"]


def check_converge(converge: Any, steps: int, objective: str, rule: str) -> Converge | None:
    """``converge`` (``None``, a :class:`~advrecon.attacks.search.Converge` or a dict with
    ``tol`` and ``max_steps``) as a checked :class:`~advrecon.attacks.search.Converge`.

    Raises:
        AdvreconError: Not a rule, ``tol <= 0``, ``steps = 0``, ``max_steps < steps``, the
            ``mse_ssim`` objective (re-anchored by every round) or the ``reference`` rule.
    """
    if converge is None:
        return None
    if isinstance(converge, dict):
        if set(converge) != {"tol", "max_steps"}:
            keys = sorted(converge)
            raise AdvreconError(f"converge needs the keys tol and max_steps, got {keys}")
        converge = Converge(**converge)
    if not isinstance(converge, Converge):
        raise AdvreconError(f"converge must be a Converge or a dict, got {type(converge).__name__}")
    if not float(converge.tol) > 0:
        raise AdvreconError(f"converge.tol must be > 0, got {converge.tol}")
    cap = check_count("converge.max_steps", converge.max_steps)
    if steps < 1:
        raise AdvreconError("converge runs rounds of steps passes: steps must be at least 1")
    if cap < steps:
        raise AdvreconError(f"converge.max_steps must be at least steps ({steps}), got {cap}")
    if objective == "mse_ssim" or rule != "l2":
        raise AdvreconError(
            "converge compares the best objective across rounds: it needs rule 'l2' and "
            f"objective 'mse' or 'ssim' (got rule {rule!r}, objective {objective!r})"
        )
    return Converge(float(converge.tol), cap)


def make_search(
    search: str, rule: str, steps: int, step_size: float, objective: str,
    apgd_step: float = APGD_STEP,
):  # fmt: skip
    """The gradient search of ``noise_attack``: PGD with ``rule`` and ``step_size``, or APGD
    (initial step ``apgd_step``, then its own).

    Returns:
        :class:`~advrecon.attacks.search.ProjectedGradient` or
        :class:`~advrecon.attacks.search.APGD`.

    Raises:
        AdvreconError: unknown search, or APGD with the ``reference`` rule.
    """
    if search not in SEARCHES:
        raise AdvreconError(f"search must be one of {SEARCHES}, got {search!r}")
    if search == "pgd":
        return ProjectedGradient(steps, float(step_size), rule, objective)
    if rule != "l2":
        raise AdvreconError(
            "search 'apgd' adapts its own step and returns the best iterate: use rule 'l2' "
            f"with it (got rule {rule!r}; the reference rule is the authors' PGD)"
        )
    if not apgd_step > 0:
        raise AdvreconError(f"apgd_step must be > 0, got {apgd_step}")
    return APGD(steps, objective, step_size=float(apgd_step))


@dataclass(frozen=True)
class NoiseOptions:
    """The keyword arguments of :func:`~advrecon.attacks.noise.noise_attack` (same meaning and
    defaults; see its docstring)."""

    steps: int = 10
    step_size: float = 0.5
    random_start: bool = True
    objective: str = "mse"
    rule: str = "l2"
    padding: Sequence[int] | None = None
    measured_only: bool = False
    n_random: int = 0
    data_range: str = "maxmin"
    generator: torch.Generator | int | None = None
    chunk_size: int | None = None
    recon_size: Sequence[int] | None = None
    search: str = "pgd"
    restarts: int = 1
    apgd_step: float = APGD_STEP
    converge: Converge | dict | None = None

    def checked(self) -> NoiseOptions:
        """The options with ``steps``, ``n_random`` and ``restarts`` as ints (the search and
        its APGD step are checked by :meth:`searcher`).

        Raises:
            AdvreconError: Bad objective, rule, steps, step size, n_random, restarts or
                converge (one line each, in this order).
        """
        if self.objective not in OBJECTIVES:
            raise AdvreconError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.rule not in RULES:
            raise AdvreconError(f"rule must be one of {RULES}, got {self.rule!r}")
        steps = check_count("steps", self.steps)
        if not self.step_size > 0:
            raise AdvreconError(f"step_size must be > 0, got {self.step_size}")
        n_random = check_count("n_random", self.n_random)
        if check_count("restarts", self.restarts) < 1:
            raise AdvreconError(f"restarts must be at least 1 (runs per item), got {self.restarts}")
        converge = check_converge(self.converge, steps, self.objective, self.rule)
        return replace(
            self, steps=steps, n_random=n_random, restarts=int(self.restarts), converge=converge
        )

    def searcher(self) -> Any:
        """The gradient search (:func:`make_search`; raises for a bad search or APGD step), in
        rounds (:class:`~advrecon.attacks.search.Converging`) when ``converge`` is set."""
        search = make_search(
            self.search, self.rule, self.steps, self.step_size, self.objective, self.apgd_step
        )
        if self.converge is None:
            return search
        return Converging(search, self.converge.tol, self.converge.max_steps)

    def settings(self) -> dict[str, Any]:
        """The settings a :class:`~advrecon.attacks.noise.result.NoiseAttackResult` records."""
        return dict(
            rule=self.rule, objective=self.objective, steps=self.steps,
            step_size=float(self.apgd_step if self.search == "apgd" else self.step_size),
            random_start=bool(self.random_start), measured_only=bool(self.measured_only),
            n_random=self.n_random, data_range_convention=self.data_range, search=self.search,
            restarts=self.restarts, converge=self.converge,
        )  # fmt: skip
