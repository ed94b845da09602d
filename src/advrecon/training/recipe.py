"""The robust-training recipe (:class:`RobustRecipe`): which remedy, at what budget, how hard.

Three remedies harden a reconstructor against a worst-case perturbation of its input:

* ``jitter`` (Krainovic, Soltanolkotabi & Heckel, NeurIPS 2023): complex Gaussian noise is added
  to the measured k-space samples of every training slice
  (:func:`advrecon.training.jitter.jitter_sigma`: the noise's expected per-coil energy equals
  the attack's ball, ``E ||n_i||^2 = (eta ||k_i||)^2``);
* ``adversarial`` (Madry et al., ICLR 2018): a few passes of APGD (or PGD) over a threat model's
  feasible set (k-space noise ``||z_i|| <= eta ||k_i||`` per coil, or inter-shot motion) find
  the worst perturbation of each training slice, and the loss is taken on it
  (:mod:`advrecon.training.adversary`);
* ``fnaf`` (Cheng et al., MIDL 2020): a small bright feature is inserted in a random box of each
  training slice, its shape optimised so that the reconstruction loses it, and the loss on the
  slice with the feature is added (:mod:`advrecon.training.fnaf`).

The loss of a slice is ``mix * L(clean) + (1 - mix) * L(robust input)`` (one forward pass of
both halves). ``eta`` is in the threat model's config units: percent of each coil's k-space
norm (``jitter``, ``adversarial`` with ``noise``), degrees of rotation per shot with a
translation bound of the same number of pixels (``motion``), percent of the mean tissue
intensity in the box (``fnaf``'s feature contrast).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from advrecon.errors import ConfigError

__all__ = [
    "DEFAULT_ETA",
    "DEFAULT_MIX",
    "OBJECTIVES",
    "REMEDIES",
    "SEARCHES",
    "TARGETS",
    "RobustRecipe",
]

#: The remedies of ``advrecon train --robust``.
REMEDIES = ("jitter", "adversarial", "fnaf")
#: Where the adversary scores its perturbation: a random box per slice, or the whole image.
TARGETS = ("box", "image")
#: Searches of the adversary (:mod:`advrecon.attacks.search`).
SEARCHES = ("apgd", "pgd")
#: Objectives of the adversary (:func:`advrecon.attacks.objectives.objective_value`).
OBJECTIVES = ("mse", "ssim")
#: Default budget per remedy (config units, see the module docstring).
DEFAULT_ETA = {"jitter": 1.0, "adversarial": 1.0, "fnaf": 25.0}
#: Default weight of the clean loss per remedy (``jitter`` and ``adversarial``: the loss on the
#: perturbed input alone, as the papers; ``fnaf``: clean and feature loss with equal weight).
DEFAULT_MIX = {"jitter": 0.0, "adversarial": 0.0, "fnaf": 0.5}
#: Units of ``eta`` per (remedy, threat), as stored in the checkpoint metadata.
ETA_UNITS = {
    ("jitter", "noise"): "percent of each coil's k-space norm",
    ("adversarial", "noise"): "percent of each coil's k-space norm",
    ("adversarial", "motion"): "degrees per shot (translation bound: the same number of pixels)",
    ("fnaf", "feature"): "percent of the mean target intensity in the box",
}


@dataclass(frozen=True)
class RobustRecipe:
    """How a training run hardens its model (module docstring).

    Attributes:
        remedy: ``"jitter"``, ``"adversarial"`` or ``"fnaf"``.
        eta: Budget in the threat model's config units (> 0).
        threat: The adversary's threat model: ``"noise"`` (jitter; adversarial by default),
            ``"motion"`` or another registered threat model with a training adversary
            (adversarial), ``"feature"`` (fnaf).
        steps: Passes (forward + backward) of the adversary's search per training step
            (adversarial, fnaf; 0 for jitter).
        mix: Weight of the clean loss in ``[0, 1]``.
        target: ``"box"`` (a random box per slice) or ``"image"``.
        search: ``"apgd"`` or ``"pgd"`` (adversarial).
        objective: ``"mse"`` or ``"ssim"`` in the target region (adversarial).
    """

    remedy: str
    eta: float
    threat: str
    steps: int
    mix: float
    target: str = "box"
    search: str = "apgd"
    objective: str = "mse"

    @classmethod
    def make(
        cls,
        remedy: str,
        eta: float | None = None,
        threat: str | None = None,
        steps: int | None = None,
        mix: float | None = None,
        **kw: Any,
    ) -> RobustRecipe:
        """A checked recipe with each remedy's defaults filled in.

        Args:
            remedy: One of :data:`REMEDIES`.
            eta, threat, steps, mix: ``None`` = the remedy's default (:data:`DEFAULT_ETA`;
                ``noise`` / ``feature``; 3 passes, none for jitter; :data:`DEFAULT_MIX`).
            **kw: ``target``, ``search``, ``objective``.

        Raises:
            ConfigError: a one-line message naming the bad option.
        """
        if remedy not in REMEDIES:
            raise ConfigError(f"robust: unknown remedy {remedy!r}; choose one of {REMEDIES}")
        default_threat = {"jitter": "noise", "adversarial": "noise", "fnaf": "feature"}[remedy]
        return cls(
            remedy=remedy,
            eta=DEFAULT_ETA[remedy] if eta is None else eta,
            threat=default_threat if threat is None else threat,
            steps=(0 if remedy == "jitter" else 3) if steps is None else steps,
            mix=DEFAULT_MIX[remedy] if mix is None else mix,
            **kw,
        )

    def __post_init__(self) -> None:
        if self.remedy not in REMEDIES:
            raise ConfigError(f"robust: unknown remedy {self.remedy!r}; choose one of {REMEDIES}")
        eta = self.eta
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not math.isfinite(eta):
            raise ConfigError(f"robust_eta: must be a finite number, got {eta!r}")
        if eta <= 0:
            raise ConfigError(f"robust_eta: must be > 0, got {eta}")
        if self.remedy == "jitter" and self.threat != "noise":
            raise ConfigError(f"robust_threat: jitter adds k-space noise, not {self.threat!r}")
        if self.remedy == "fnaf" and self.threat != "feature":
            raise ConfigError(f"robust_threat: fnaf inserts a feature, not {self.threat!r}")
        if self.remedy == "adversarial" and self.threat == "feature":
            raise ConfigError("robust_threat: use --robust fnaf for the feature threat model")
        steps = self.steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ConfigError(f"robust_steps: must be a non-negative integer, got {steps!r}")
        if self.remedy != "jitter" and steps < 1:
            raise ConfigError(f"robust_steps: {self.remedy} needs at least 1 pass, got {steps}")
        mix = self.mix
        if isinstance(mix, bool) or not isinstance(mix, (int, float)) or not 0 <= mix <= 1:
            raise ConfigError(f"robust_mix: must be a number in [0, 1], got {mix!r}")
        for name, allowed in (
            ("target", TARGETS),
            ("search", SEARCHES),
            ("objective", OBJECTIVES),
        ):
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"robust_{name}: must be one of {allowed}, got {getattr(self, name)!r}"
                )

    @property
    def eta_unit(self) -> str:
        """``eta``'s unit in words."""
        return ETA_UNITS.get((self.remedy, self.threat), f"the {self.threat} budget's unit")

    def as_metadata(self) -> dict[str, Any]:
        """The recipe as stored under ``robust`` in the checkpoint metadata (plain JSON)."""
        out = asdict(self)
        out["eta"], out["mix"] = float(self.eta), float(self.mix)
        out["eta_unit"] = self.eta_unit
        if self.remedy == "jitter":
            out["sigma_rule"] = "sigma_i = eta ||k_i|| / sqrt(measured samples per coil)"
            for key in ("steps", "search", "objective", "target"):
                out.pop(key)
        if self.remedy == "fnaf":
            out.pop("objective")
            out["search"] = "signed gradient (feature shape)"
        reference = {
            "jitter": "Krainovic, Soltanolkotabi, Heckel, NeurIPS 2023",
            "adversarial": "Madry et al., ICLR 2018",
            "fnaf": "Cheng et al., MIDL 2020",
        }
        out["reference"] = reference[self.remedy]
        return out

    @classmethod
    def from_metadata(cls, meta: dict[str, Any] | None) -> RobustRecipe | None:
        """The recipe of a checkpoint's ``robust`` metadata (``None`` for standard training)."""
        if not meta:
            return None
        keys = ("remedy", "eta", "threat", "steps", "mix", "target", "search", "objective")
        kw = {k: meta[k] for k in keys if k in meta}
        if meta.get("remedy") == "fnaf":
            kw.pop("search", None)
        return cls.make(**kw)
