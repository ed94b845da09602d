"""The ``models:`` entries: one reconstruction model at one or more accelerations.

An entry names exactly one source of weights (``checkpoint``, ``shipped: true`` or a ``spec``
``module:callable``) unless its architecture has none (zero-filled, SENSE, CS-TV,
CS-L1-wavelet); ``accelerations: [4, 8]`` expands to one :class:`ModelConfig` per acceleration
with the paper's centre fraction.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictBool, StrictStr, TypeAdapter, model_validator
from pydantic import Strict as _Strict
from pydantic_core import PydanticCustomError

from advrecon.config_types import PositiveInt, Section, Text, choice, fail, list_of, one_of
from advrecon.masks import PAPER_MASKS as DEFAULT_CENTER_FRACTION
from advrecon.models.classical.defaults import CLASSICAL_ARCHS
from advrecon.models.presets import ARCHITECTURES

__all__ = [
    "ARCHS",
    "CLASSICAL_KEYS",
    "DEFAULT_CENTER_FRACTION",
    "LATER_KEYS",
    "ModelConfig",
    "WEIGHTLESS",
    "expand_models",
]

#: Trained architectures (presets), the zero-filled baseline, the classical reconstructions
#: (SENSE, CS-TV, CS-L1-wavelet; no weights), or a user's model.
ARCHS = (*ARCHITECTURES, "zero_filled", *CLASSICAL_ARCHS, "custom")
#: Architectures without weights (no checkpoint, shipped or spec).
WEIGHTLESS = ("zero_filled", *CLASSICAL_ARCHS)
#: Model keys that only the classical architectures take (dropped from the hash when unset).
CLASSICAL_KEYS = ("lam", "iterations")
#: Model keys added later, left out of a config's plain form and hash when unset, so that older
#: configs keep their hash (:func:`advrecon.experiments.compat.without_later_keys`).
LATER_KEYS = (*CLASSICAL_KEYS, "variant")


def _model_name(v: str) -> str:
    if "@" in v or "/" in v or "," in v:
        raise fail("must not contain '@', '/' or ','")
    return v


class ModelConfig(Section):
    """One reconstruction model at one acceleration.

    Exactly one of ``checkpoint``, ``shipped`` or ``spec`` says where the weights come from.

    Attributes:
        name: Label in the results (``unet``); ``(name, acceleration)`` must be unique.
        arch: ``unet``, ``varnet``, ``zero_filled``, ``sense``, ``cs_tv``, ``cs_wavelet`` or
            ``custom``.
        preset: Architecture preset (``demo``, ``paper``, ``fastmri``) or ``None``.
        checkpoint: Path of a checkpoint file (safetensors / TorchScript).
        shipped: Use the demo weights shipped with the package.
        spec: ``module:callable`` returning a Reconstructor.
        acceleration: Undersampling factor.
        center_fraction: Fraction of fully sampled central columns (paper: 0.08 at 4x, 0.04 at 8x).
        lam: Regularisation weight of a classical arch (``>= 0``); ``None`` = the grid-searched
            default (:mod:`advrecon.models.classical.defaults`).
        iterations: Solver iterations of a classical arch; ``None`` = the default.
        variant: With ``shipped: true``, a hardened variant of the shipped weights (the
            robust-training remedy: ``adversarial``, ``jitter``); ``None`` = standard training.
    """

    name: Annotated[StrictStr, Field(min_length=1), AfterValidator(_model_name)]
    arch: choice(ARCHS) = "custom"
    preset: StrictStr | None = None
    checkpoint: Text | None = None
    shipped: StrictBool = False
    spec: Text | None = None
    acceleration: PositiveInt = 4
    center_fraction: Annotated[float, _Strict(), Field(gt=0, lt=1)] = 0.08
    lam: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    iterations: PositiveInt | None = None
    variant: Text | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        """Exactly one weights source, and a preset that fits it."""
        sources = [k for k in ("checkpoint", "shipped", "spec") if getattr(self, k)]
        for key in CLASSICAL_KEYS:
            if getattr(self, key) is not None and self.arch not in CLASSICAL_ARCHS:
                raise fail(
                    f"applies only to arch {', '.join(CLASSICAL_ARCHS)} (this model is "
                    f"arch {self.arch})",
                    key,
                )
        if self.arch in WEIGHTLESS and sources:
            raise fail(f"arch {self.arch} takes no checkpoint, shipped or spec")
        if self.arch not in WEIGHTLESS and len(sources) != 1:
            raise fail(
                "give exactly one of 'checkpoint', 'shipped: true' or 'spec' "
                f"(got {', '.join(sources) or 'none'})"
            )
        if self.variant is not None and not self.shipped:
            raise fail("applies only to shipped weights (shipped: true)", "variant")
        if self.shipped and self.arch not in ("unet", "varnet"):
            raise fail("shipped weights exist for arch unet and varnet only", at="arch")
        if self.preset is not None:
            self._check_preset()
        return self

    def _check_preset(self) -> None:
        """The preset is a size preset of :data:`advrecon.models.presets.PRESETS` for ``arch``."""
        from advrecon.models.checkpoints import SHIPPED_PRESET
        from advrecon.models.presets import PRESETS

        if self.arch in WEIGHTLESS or self.spec is not None:
            raise fail(
                "a preset applies only to checkpoint or shipped weights, not to a spec", "preset"
            )
        names = PRESETS.get(self.arch) or {n: 0 for presets in PRESETS.values() for n in presets}
        try:
            one_of(tuple(names))(self.preset)
        except PydanticCustomError as exc:
            raise fail(exc.message(), "preset") from None
        if self.shipped and self.preset != SHIPPED_PRESET:
            raise fail(
                f"the shipped weights are the '{SHIPPED_PRESET}' preset, not '{self.preset}'",
                "preset",
            )

    @property
    def key(self) -> str:
        """Unique label ``name@{acc}x``."""
        return f"{self.name}@{self.acceleration}x"

    def source(self) -> str:
        """Human-readable origin of the weights."""
        if self.shipped:
            variant = f"_{self.variant}" if self.variant else ""
            return f"shipped:{self.arch}_{self.acceleration}x{variant}"
        return str(self.checkpoint or self.spec or self.arch)


class _ModelEntry(ModelConfig):
    """One ``models:`` entry as written: a model at one or more accelerations."""

    acceleration: PositiveInt | None = None
    accelerations: list_of(PositiveInt, unique=False) | None = None
    center_fraction: Annotated[float, _Strict(), Field(gt=0, lt=1)] | None = None

    @model_validator(mode="after")
    def _one_acceleration_key(self) -> _ModelEntry:
        if self.acceleration is not None and self.accelerations is not None:
            raise fail("give 'acceleration' or 'accelerations', not both")
        if self.accelerations is not None and len(self.accelerations) > 1 and self.checkpoint:
            raise fail(
                "one checkpoint serves one acceleration; add one model entry per acceleration",
                "accelerations",
            )
        for a in self.accelerations or (self.acceleration or 4,):
            if self.center_fraction is None and a not in DEFAULT_CENTER_FRACTION:
                raise fail(f"required for acceleration {a}", "center_fraction")
        return self

    def expand(self) -> list[ModelConfig]:
        """One :class:`ModelConfig` per acceleration (the paper's centre fraction by default)."""
        common = self.model_dump(exclude={"acceleration", "accelerations", "center_fraction"})
        return [
            ModelConfig(
                **common,
                acceleration=a,
                center_fraction=self.center_fraction or DEFAULT_CENTER_FRACTION[a],
            )
            for a in self.accelerations or (self.acceleration or 4,)
        ]


_MODEL_ENTRIES = TypeAdapter(list_of(_ModelEntry, unique=False))


def expand_models(v: Any) -> tuple[ModelConfig, ...]:
    """``models:`` entries -> one :class:`ModelConfig` per (entry, acceleration)."""
    return tuple(m for e in _MODEL_ENTRIES.validate_python(v) for m in e.expand())
