"""Result of :func:`~advrecon.attacks.noise.noise_attack`.

:class:`NoiseAttackResult` rows (one per item):
    prefixes ``clean`` (no perturbation), ``adv`` (the attack), ``rand_mean`` / ``rand_worst``
    (random complex Gaussian noise of the same per-coil norm: mean / worst over ``n_random``
    draws, worst = lowest SSIM and PSNR, highest NMSE and MSE; NaN when ``n_random=0``),
    ``control`` (the same ``z`` added to the *fully-sampled* k-space, no model: how visible the
    perturbation itself is); plus ``eta``, ``noise_to_thermal`` (``||z_i|| / (sigma_i
    sqrt(n_i))`` averaged over coils, see :mod:`advrecon.noise_level`), ``rule``, ``search``,
    ``restarts``, ``objective``, ``steps``, ``step_size``, ``random_start``, ``measured_only``,
    ``n_random``,
    ``objective_clean`` (objective at the first iterate), ``objective_adv`` (at the returned
    iterate), ``best_step`` (index of the returned iterate, 0 = start), ``passes``
    (forward+backward passes spent on the item, all restarts) and ``converged`` (the search met
    its stopping rule; only with ``converge``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from advrecon.attacks.results import box_columns
from advrecon.boxes import Box

__all__ = ["NoiseAttackResult"]


@dataclass
class NoiseAttackResult:
    """Result of :func:`advrecon.attacks.noise.noise_attack` for ``N`` items.

    Attributes:
        perturbation: ``(N, C, H, W)`` complex ``z`` (zero outside the acquired columns).
        adversarial: ``(N, h, w)`` reconstruction of ``M(k + z)``.
        clean: ``(N, h, w)`` reconstruction of ``M k``.
        target: ``(N, h, w)`` RSS target ``X``.
        control: ``(N, h, w)`` RSS of the fully-sampled ``k + z`` (the perturbation as a
            scanner would show it, no model; also available as ``reference``).
        boxes: Regions used (after growth).
        box_grown: Whether each box was grown.
        item_index: ``(N,)`` index of each item's slice in the input batch.
        trace: ``(N, steps + 1)`` objective at every iterate (0 = start); with ``converge``
            ``(N, max_steps + 1)``, NaN after an item's last pass.
        best_trace: ``(N, steps + 1)`` best objective so far (running maximum of ``trace``).
        best_step: ``(N,)`` index of the returned iterate.
        metrics: Dict of ``(N,)`` float64 tensors, keys as the row columns.
        eta: ``(N,)`` budgets.
        noise_to_thermal: ``(N,)`` perturbation norm in thermal-noise units.
        sigma: ``(N, C)`` estimated thermal noise std per coil.
        rule, objective, steps, step_size, random_start, measured_only, n_random,
        data_range_convention, search, restarts, converge: The settings used.
        passes: ``(N,)`` long forward+backward passes spent per item (``None``: not counted).
        converged: ``(N,)`` bool, the stopping rule met (``None``: no ``converge``).
    """

    perturbation: torch.Tensor
    adversarial: torch.Tensor
    clean: torch.Tensor
    target: torch.Tensor
    control: torch.Tensor
    boxes: list[Box]
    box_grown: list[bool]
    item_index: torch.Tensor
    trace: torch.Tensor
    best_trace: torch.Tensor
    best_step: torch.Tensor
    metrics: dict[str, torch.Tensor]
    eta: torch.Tensor
    noise_to_thermal: torch.Tensor
    sigma: torch.Tensor
    rule: str
    objective: str
    steps: int
    step_size: float
    random_start: bool
    measured_only: bool
    n_random: int
    data_range_convention: str = "maxmin"
    search: str = "pgd"
    restarts: int = 1
    converge: Any = None
    passes: torch.Tensor | None = None
    converged: torch.Tensor | None = None

    @property
    def reference(self) -> torch.Tensor:
        """Alias of :attr:`control`."""
        return self.control

    def to_rows(self) -> list[dict]:
        """One flat dict per item (columns in the module docstring)."""
        rows = []
        for i, box in enumerate(self.boxes):
            row = {"item": i, "slice_index": int(self.item_index[i])}
            row.update(box_columns(box, self.box_grown[i]))
            row.update(
                eta=float(self.eta[i]),
                noise_to_thermal=float(self.noise_to_thermal[i]),
                rule=self.rule,
                search=self.search,
                restarts=int(self.restarts),
                objective=self.objective,
                steps=int(self.steps),
                step_size=float(self.step_size),
                random_start=bool(self.random_start),
                measured_only=bool(self.measured_only),
                n_random=int(self.n_random),
                data_range_convention=self.data_range_convention,
                objective_clean=float(self.trace[i, 0]),
                objective_adv=float(self.trace[i, int(self.best_step[i])]),
                best_step=int(self.best_step[i]),
                passes=None if self.passes is None else int(self.passes[i]),
            )
            if self.converge is not None:
                row["converged"] = bool(self.converged[i])
            for key, val in self.metrics.items():
                row[key] = float(val[i])
            rows.append(row)
        return rows
