"""The config section ``attacks.noise`` and how its units group into attack calls.

Budgets ``eta`` are in percent of each coil's k-space norm (:data:`ETA_SCALE` converts to the
fraction :func:`~advrecon.attacks.noise.noise_attack` takes); one batch per (rule, target) of a
(model, slice) holds every box x budget, and the optional tightness check adds its own batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, Field, StrictBool, StrictInt, model_validator

from advrecon.attacks._common import runs_on
from advrecon.attacks.contract import BatchGroup, UnitSpec
from advrecon.attacks.noise.threat import RULES
from advrecon.attacks.objectives import OBJECTIVES
from advrecon.attacks.search import APGD_STEP, SEARCHES
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    ConfigWarning,
    Count,
    Positive,
    PositiveInt,
    Section,
    Text,
    choice,
    fail,
    list_of,
)

__all__ = [
    "DEFAULT_SEARCH",
    "ETA_SCALE",
    "ETA_WARN_PERCENT",
    "TIGHT_RULE",
    "ConvergeConfig",
    "NoiseAttackConfig",
    "TightnessConfig",
    "noise_batch_groups",
]

#: eta in the config is in percent of each coil's k-space norm; the attack takes a fraction.
ETA_SCALE = 0.01

#: Budgets above this many percent of a coil's norm are allowed but warned about.
ETA_WARN_PERCENT = 100.0


#: The config's default gradient search (``attacks.noise.search``): APGD. At the default cost of
#: 10 forward+backward passes it reaches a higher value of the attack's objective than ``l2``
#: PGD on most items (``benchmarks/strength.py``, ``benchmarks/apgd_tuning.py``, docs). A
#: config without ``search`` therefore hashes differently from before (when PGD was the
#: default); ``search: pgd`` keeps the old hash and numbers.
DEFAULT_SEARCH = "apgd"
#: The rule name of the tightness check's units (``attacks.noise.tightness``).
TIGHT_RULE = "tight"


class ConvergeConfig(Section):
    """The noise search's stopping rule (:class:`~advrecon.attacks.search.Converging`).

    The ``l2`` rule's search runs in rounds of ``steps`` passes, each from the best point so
    far, until a round gains less than ``tol`` of the objective (the item has converged) or
    ``max_steps`` passes are spent; every row records its ``passes`` and ``converged``.

    Attributes:
        tol: Least gain of the best objective per round to go on (objective units: region
            SSIM with ``objective: ssim``).
        max_steps: Cap on the passes per item and restart (>= ``steps``).
    """

    tol: Positive
    max_steps: PositiveInt


class TightnessConfig(Section):
    """A tightness check: the region units at ``eta`` re-attacked with ``factor`` x the cost.

    The check's units are extra rows of the results table with rule ``tight``: the same
    (model, slice, box, eta) attacked with ``search`` at ``factor x steps`` steps (with
    ``converge``: ``factor x max_steps``, at least ``factor`` x what any unit spent; same
    restarts, no stopping rule), so that the report can show how far the configured attack
    is from the lowest region SSIM found at ``factor`` x its cost (``advrecon.report.tightness``).

    Attributes:
        eta: Budgets in percent (each must be one of the noise attack's ``eta``).
        models: Model names checked (``None``: all models).
        factor: Cost multiple (>= 2; 10 in docs/benchmarks.md).
        search: Search of the check (``apgd``: the strongest at 100 passes in the benchmark).
        apgd_step: Initial normalised step of an ``apgd`` check: Croce & Hein's 2.0 (``2
            eps``), which at 100 passes beat the 10-pass default 1.0 on training slices
            (lower region SSIM on 81 % vs 72 % of 36 U-Net items, ``benchmarks/apgd_tuning.py``).
    """

    eta: Budgets
    models: list_of(Text) | None = None
    factor: Annotated[StrictInt, Field(ge=2)] = 10
    search: choice(SEARCHES) = "apgd"
    apgd_step: Positive = 2.0


class NoiseAttackConfig(Section):
    """Adversarial k-space noise (per-coil L2 ball of radius ``eta`` % of the coil's norm).

    Attributes:
        eta: Budgets in percent.
        steps, step_size, random_start, objective, measured_only: PGD settings.
        rules: Update rules (``l2``: per-coil normalised-gradient PGD, best iterate, the
            default; ``reference``: exactly the authors' public code, last iterate, which uses
            only part of the budget, see :mod:`advrecon.attacks.noise`). The first rule runs
            on every model, the others only on the
            models in ``rules_on`` (``None``: all models). ``rule`` is accepted as a synonym.
        n_random: Random-noise baselines of the same norm per budget.
        image_eta: Budgets for the complete-image target (``None``: ``eta``). The
            complete-image attack is a comparison with the targeted one; a study that only
            needs it at the largest budget saves a third of the noise attacks' cost.
        search: Gradient search of the ``l2`` rule: ``pgd`` or ``apgd`` (default
            :data:`DEFAULT_SEARCH`); the ``reference`` rule is always the authors' PGD.
        apgd_step: APGD's initial normalised step with ``search: apgd``
            (:data:`~advrecon.attacks.search.APGD_STEP`; the tightness check has its own).
        restarts: Runs per item, best kept (cost ``restarts x steps`` passes).
        converge: Optional :class:`ConvergeConfig` for the ``l2`` rule (``None``: ``steps``
            passes per restart).
        tightness: Optional :class:`TightnessConfig` (``None``: no check).
    """

    #: Values under which a key does not enter the config hash: the results of the code before
    #: the key existed (PGD, one run, no check), so older run folders keep their hash.
    HASH_NEUTRAL: ClassVar[dict[str, Any]] = {
        "search": "pgd", "restarts": 1, "tightness": None, "apgd_step": 2.0, "converge": None,
    }  # fmt: skip

    eta: Budgets
    steps: Count = 10
    step_size: Positive = 0.5
    random_start: StrictBool = True
    objective: choice(OBJECTIVES) = "mse"
    rules: list_of(choice(RULES)) = Field(("l2",), validation_alias=AliasChoices("rules", "rule"))
    rules_on: list_of(Text, unique=False) | None = None
    measured_only: StrictBool = False
    n_random: Count = 1
    image_eta: Budgets | None = None
    search: choice(SEARCHES) = DEFAULT_SEARCH
    apgd_step: Positive = APGD_STEP
    restarts: PositiveInt = 1
    converge: ConvergeConfig | None = None
    tightness: TightnessConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_rules_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rule" in data and "rules" in data:
            raise fail("give 'rule' or 'rules', not both")
        return data

    @model_validator(mode="after")
    def _warn_large_budgets(self) -> NoiseAttackConfig:
        """Budgets above :data:`ETA_WARN_PERCENT` are valid but usually a unit mistake."""
        for key in ("eta", "image_eta"):
            for i, e in enumerate(getattr(self, key) or ()):
                if e > ETA_WARN_PERCENT:
                    warnings.warn(
                        f"attacks.noise.{key}[{i}]: {e:g} % is above {ETA_WARN_PERCENT:g} % of "
                        "each coil's k-space norm (eta is in percent: 2.5 means 2.5 %)",
                        ConfigWarning,
                        stacklevel=2,
                    )
        return self

    @model_validator(mode="after")
    def _tight_eta_is_run(self) -> NoiseAttackConfig:
        """The check compares with the configured attack, so its budgets must be run too."""
        for i, e in enumerate(self.tightness.eta if self.tightness else ()):
            if e not in self.eta:
                raise fail(f"{e:g} is not one of eta {list(self.eta)}", f"tightness.eta[{i}]")
        return self

    @model_validator(mode="after")
    def _converge_fits(self) -> NoiseAttackConfig:
        """Rounds need a step, a cap of at least one round, and a comparable objective."""
        if self.converge is None:
            return self
        if self.steps < 1:
            raise fail("needs steps >= 1 (the passes of one round)", "converge")
        if self.converge.max_steps < self.steps:
            raise fail(f"must be at least steps ({self.steps})", "converge.max_steps")
        if self.objective == "mse_ssim":
            raise fail("needs objective mse or ssim (mse_ssim is re-anchored each round)",
                       "converge")  # fmt: skip
        return self

    @classmethod
    def hash_view(cls, section: dict) -> dict:
        """The section as it enters the config hash: ``apgd_step`` only where APGD runs, and
        the tightness check's ``apgd_step`` only where it is not the 2.0 of the older code."""
        if section.get("search", DEFAULT_SEARCH) != "apgd":
            section.pop("apgd_step", None)
        tight = section.get("tightness")
        if isinstance(tight, dict) and tight.get("apgd_step") == 2.0:
            del tight["apgd_step"]
        return section

    def search_for(self, rule: str) -> str:
        """The search of a rule's units (``reference``: the authors' PGD)."""
        if rule == TIGHT_RULE:
            return self.tightness.search
        return self.search if rule == "l2" else "pgd"

    def apgd_step_for(self, rule: str) -> float:
        """APGD's initial step for a rule's units (the tightness check: its own)."""
        return self.tightness.apgd_step if rule == TIGHT_RULE else self.apgd_step

    def steps_for(self, rule: str) -> int:
        """Steps of a rule's units (the tightness check: ``factor`` x ``steps``, or x
        ``converge.max_steps``: at least ``factor`` x what any unit spent)."""
        if rule != TIGHT_RULE:
            return self.steps
        cap = self.steps if self.converge is None else self.converge.max_steps
        return cap * self.tightness.factor

    def converge_for(self, rule: str) -> dict | None:
        """The stopping rule of a rule's units (``l2`` only; the check and ``reference`` run
        their fixed steps), as ``noise_attack``'s ``converge``."""
        if self.converge is None or rule != "l2":
            return None
        return {"tol": self.converge.tol, "max_steps": self.converge.max_steps}

    def eta_for(self, target: str) -> tuple[float, ...]:
        """Budgets of the ``target`` (``"region"`` or ``"image"``)."""
        return self.image_eta if target == "image" and self.image_eta is not None else self.eta

    def rules_for(self, model_name: str) -> tuple[str, ...]:
        """Rules run on a model (the first on every model, the others on ``rules_on``)."""
        if self.rules_on is None or model_name in self.rules_on:
            return self.rules
        return self.rules[:1]


def noise_batch_groups(
    section: NoiseAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per (rule, target) of a (model, slice), holding every box x budget ``eta``."""
    return [
        BatchGroup(
            f"noise-{rule}/{target}",
            tuple(
                UnitSpec(rule, target, float(eta), bi, box)
                for bi, box in boxes[target]
                for eta in section.eta_for(target)
            ),
        )
        for rule in section.rules_for(model_name)
        for target in targets
    ] + _tight_groups(section, model_name, targets, boxes)


def _tight_groups(
    section: NoiseAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """The tightness check's batch (region target, its budgets) on the checked models."""
    tight = section.tightness
    if tight is None or "region" not in targets:
        return []
    if not runs_on(tight.models, model_name):
        return []
    units = tuple(
        UnitSpec(TIGHT_RULE, "region", float(eta), bi, box)
        for bi, box in boxes["region"]
        for eta in tight.eta
    )
    return [BatchGroup(f"noise-{TIGHT_RULE}/region", units)]
