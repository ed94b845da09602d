"""Experiment configuration: YAML -> validated, frozen pydantic models.

An experiment config names the data, the slice selection, the models, the masks, the attacks
and their budgets, the attack targets and the run settings. :func:`load_config` validates every
key on load and raises :class:`~advrecon.errors.ConfigError` with the *key path* of the first
problem (``attacks.noise.eta[2]: must be >= 0``); unknown keys are rejected with a did-you-mean.

Example (``configs/demo.yaml`` is a complete one)::

    seed: 0
    output: runs
    data: {kind: synthetic, root: demo_out/synthetic, synthetic: {num_volumes: 4}}
    slices: {annotated_only: true, one_per_volume: true, max_slices: 4}
    masks: {type: equispaced_fraction, seed: per_volume}
    models:
      - {name: unet, arch: unet, shipped: true, acceleration: 4}
      - {name: varnet, arch: varnet, checkpoint: ckpt/varnet_8x.safetensors, acceleration: 8}
    attacks:
      noise: {eta: [0, 0.5, 1, 2.5], steps: 10, rules: [l2, reference]}
      rotation: {theta_max: [0, 1, 3, 5], step: 0.5}
    targets: [region, image]

The *config hash* (:meth:`ExperimentConfig.hash`) covers everything that changes results and
nothing that does not (``output``, ``device``, ``chunk_size``, ``memory_limit``, ``arrays``,
``name``): the run
folder is ``<output>/<hash[:10]>``, so a resumed run finds its own folder again.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic import Strict as _Strict
from pydantic_core import PydanticCustomError

from advrecon.attacks.noise import ETA_WARN_PERCENT, NoiseAttackConfig
from advrecon.attacks.registry import threat_models
from advrecon.attacks.rotation import RotationAttackConfig
from advrecon.config_types import (
    ConfigWarning,
    Count,
    PositiveInt,
    Section,
    Text,
    choice,
    fail,
    list_of,
    one_of,
)
from advrecon.errors import ConfigError, InputFileError
from advrecon.masks import MASK_TYPES as MASK_FUNCS
from advrecon.masks import PAPER_MASKS as DEFAULT_CENTER_FRACTION
from advrecon.models.classical.defaults import CLASSICAL_ARCHS
from advrecon.models.presets import ARCHITECTURES

__all__ = [
    "DataConfig",
    "SliceSelection",
    "MaskConfig",
    "ModelConfig",
    "NoiseAttackConfig",
    "RotationAttackConfig",
    "AttacksConfig",
    "ExperimentConfig",
    "load_config",
    "parse_config",
    "TARGETS",
    "RESULT_NEUTRAL_KEYS",
    "ConfigWarning",
    "ETA_WARN_PERCENT",
    "parse_device",
]

logger = logging.getLogger(__name__)

#: Attack targets: the annotated box (``region``) or the complete image (``image``).
TARGETS = ("region", "image")
# The other tables of valid values are imported from the modules they belong to (above).
MASK_TYPES = tuple(MASK_FUNCS)
#: Trained architectures (presets), the zero-filled baseline, the classical reconstructions
#: (SENSE, CS-TV, CS-L1-wavelet; no weights), or a user's model.
ARCHS = (*ARCHITECTURES, "zero_filled", *CLASSICAL_ARCHS, "custom")
#: Architectures without weights (no checkpoint, shipped or spec).
WEIGHTLESS = ("zero_filled", *CLASSICAL_ARCHS)
#: Model keys that only the classical architectures take (dropped from the hash when unset).
CLASSICAL_KEYS = ("lam", "iterations")
#: Top-level keys that do not change results (excluded from the config hash).
RESULT_NEUTRAL_KEYS = ("name", "output", "device", "chunk_size", "memory_limit", "arrays")
#: Device types a run can use (checked for availability at load).
DEVICE_TYPES = ("cpu", "cuda", "mps")


# Value types and the section base live in advrecon.config_types (shared with the threat
# models, whose own sections ``attacks.<name>`` are in their modules); short names here.
_Section = Section
_fail = fail
_choice = choice
_list_of = list_of


def _box_policies() -> tuple[str, ...]:
    from advrecon.data.annotations import BOX_POLICIES

    return tuple(BOX_POLICIES)


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------


def _n_values(n: int) -> Callable[[tuple], tuple]:
    def check(v: tuple) -> tuple:
        if len(v) != n:
            raise _fail(f"must be a list of {n} values, got {list(v)!r}")
        return v

    return check


def _strict_type(t: Any) -> Any:
    """A ``SynthConfig`` field type, strict, with ``tuple[int, int]`` as a list of 2 values."""
    args = get_args(t)
    if get_origin(t) in (Union, UnionType):
        return Union[tuple(_strict_type(a) for a in args)]  # noqa: UP007 (built at run time)
    if get_origin(t) is tuple:
        if Ellipsis in args:
            return tuple[_strict_type(args[0]), ...]
        return Annotated[tuple[_strict_type(args[0]), ...], AfterValidator(_n_values(len(args)))]
    return Annotated[t, _Strict()] if t in (int, float, str, bool) else t


@functools.cache
def _synthetic_keys() -> type[_Section]:
    """A section whose keys are the ``SynthConfig`` fields, with their (strict) types."""
    from advrecon.data.synthetic import SynthConfig

    hints = get_type_hints(SynthConfig)
    keys = {f.name: (_strict_type(hints[f.name]), None) for f in fields(SynthConfig)}
    return create_model("SynthConfig", __base__=_Section, **keys)


def _check_synthetic(synth: dict) -> None:
    """``data.synthetic`` keys are ``SynthConfig`` fields of the right type and pass its checks."""
    from advrecon.data.synthetic import SynthConfig

    _synthetic_keys().model_validate(synth)
    try:
        SynthConfig(**synth)
    except ConfigError as exc:
        raise _fail(str(exc).removeprefix("synthetic data config: ")) from None


class DataConfig(_Section):
    """Where the slices come from.

    Attributes:
        kind: ``"fastmri"`` (a folder of fastMRI multicoil ``.h5`` files) or ``"synthetic"``
            (a folder generated with :mod:`advrecon.data.synthetic` when absent).
        root: The folder of ``.h5`` files.
        annotations: fastMRI+ CSV; ``None`` for synthetic data means ``<root>/annotations.csv``.
        synthetic: Keyword arguments of ``SynthConfig`` (synthetic data only).
    """

    kind: _choice(("fastmri", "synthetic")) = "fastmri"
    root: Text
    annotations: Text | None = None
    synthetic: dict[str, Any] = {}

    @field_validator("synthetic", mode="before")
    @classmethod
    def _synthetic(cls, v: Any, info: ValidationInfo) -> dict[str, Any]:
        v = v or {}
        if not isinstance(v, dict):
            raise _fail("must be a mapping of SynthConfig fields")
        if v and info.data.get("kind", "synthetic") != "synthetic":
            raise _fail("only allowed with data.kind: synthetic")
        _check_synthetic(v)
        return dict(v)

    def annotations_path(self) -> Path | None:
        if self.annotations is not None:
            return Path(self.annotations)
        if self.kind == "synthetic":
            return Path(self.root) / "annotations.csv"
        return None


def _slice_pair(item: Any) -> Any:
    """``"file:slice"`` or ``[file, slice]`` -> ``(file stem, slice)``."""
    problem = f"expected 'file:slice' or [file, slice], got {item!r}"
    if isinstance(item, str) and ":" in item:
        file, _, num = item.rpartition(":")
        try:
            item = [file, int(num)]
        except ValueError:
            raise _fail(problem) from None
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        raise _fail(problem)
    return (Path(str(item[0])).stem, item[1])


class SliceSelection(_Section):
    """Which slices are attacked.

    Attributes:
        annotated_only: Only slices with at least one fastMRI+ box.
        one_per_volume: At most one slice per volume (the first eligible one after sorting).
        max_slices: At most this many slices in total (``None``: all).
        select: Explicit ``(file, slice)`` pairs; overrides the other filters when given.
        box_policy: fastMRI+ box policy passed to the data layer (``"all"``, ...).
    """

    annotated_only: StrictBool = True
    one_per_volume: StrictBool = False
    max_slices: PositiveInt | None = None
    select: (
        _list_of(Annotated[tuple[Text, Count], BeforeValidator(_slice_pair)], unique=False) | None
    ) = None
    box_policy: _choice(_box_policies) = "all"


def _mask_seed(v: Any) -> Any:
    if v == "per_volume" or (isinstance(v, int) and not isinstance(v, bool)):
        return v
    raise _fail(f"must be 'per_volume' or an integer, got {v!r}")


class MaskConfig(_Section):
    """Undersampling masks.

    Attributes:
        type: ``"random"``, ``"equispaced_fraction"`` or ``"equispaced"``.
        seed: ``"per_volume"``: the seed is derived from the file name as fastMRI does for its
            validation set (``tuple(map(ord, fname))``), so every model/attack sees the same
            mask for a slice; or an ``int`` shared by all slices.
    """

    type: _choice(MASK_TYPES) = "equispaced_fraction"
    seed: Annotated[str | int, BeforeValidator(_mask_seed)] = "per_volume"


def _model_name(v: str) -> str:
    if "@" in v or "/" in v or "," in v:
        raise _fail("must not contain '@', '/' or ','")
    return v


class ModelConfig(_Section):
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
    """

    name: Annotated[StrictStr, Field(min_length=1), AfterValidator(_model_name)]
    arch: _choice(ARCHS) = "custom"
    preset: StrictStr | None = None
    checkpoint: Text | None = None
    shipped: StrictBool = False
    spec: Text | None = None
    acceleration: PositiveInt = 4
    center_fraction: Annotated[float, _Strict(), Field(gt=0, lt=1)] = 0.08
    lam: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    iterations: PositiveInt | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        """Exactly one weights source, and a preset that fits it."""
        sources = [k for k in ("checkpoint", "shipped", "spec") if getattr(self, k)]
        for key in CLASSICAL_KEYS:
            if getattr(self, key) is not None and self.arch not in CLASSICAL_ARCHS:
                raise _fail(
                    f"applies only to arch {', '.join(CLASSICAL_ARCHS)} (this model is "
                    f"arch {self.arch})",
                    key,
                )
        if self.arch in WEIGHTLESS and sources:
            raise _fail(f"arch {self.arch} takes no checkpoint, shipped or spec")
        if self.arch not in WEIGHTLESS and len(sources) != 1:
            raise _fail(
                "give exactly one of 'checkpoint', 'shipped: true' or 'spec' "
                f"(got {', '.join(sources) or 'none'})"
            )
        if self.shipped and self.arch not in ("unet", "varnet"):
            raise _fail("shipped weights exist for arch unet and varnet only", at="arch")
        if self.preset is not None:
            self._check_preset()
        return self

    def _check_preset(self) -> None:
        """The preset is a size preset of :data:`advrecon.models.presets.PRESETS` for ``arch``."""
        from advrecon.models.checkpoints import SHIPPED_PRESET
        from advrecon.models.presets import PRESETS

        if self.arch in WEIGHTLESS or self.spec is not None:
            raise _fail(
                "a preset applies only to checkpoint or shipped weights, not to a spec", "preset"
            )
        names = PRESETS.get(self.arch) or {n: 0 for presets in PRESETS.values() for n in presets}
        try:
            one_of(tuple(names))(self.preset)
        except PydanticCustomError as exc:
            raise _fail(exc.message(), "preset") from None
        if self.shipped and self.preset != SHIPPED_PRESET:
            raise _fail(
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
            return f"shipped:{self.arch}_{self.acceleration}x"
        return str(self.checkpoint or self.spec or self.arch)


class _ModelEntry(ModelConfig):
    """One ``models:`` entry as written: a model at one or more accelerations."""

    acceleration: PositiveInt | None = None
    accelerations: _list_of(PositiveInt, unique=False) | None = None
    center_fraction: Annotated[float, _Strict(), Field(gt=0, lt=1)] | None = None

    @model_validator(mode="after")
    def _one_acceleration_key(self) -> _ModelEntry:
        if self.acceleration is not None and self.accelerations is not None:
            raise _fail("give 'acceleration' or 'accelerations', not both")
        if self.accelerations is not None and len(self.accelerations) > 1 and self.checkpoint:
            raise _fail(
                "one checkpoint serves one acceleration; add one model entry per acceleration",
                "accelerations",
            )
        for a in self.accelerations or (self.acceleration or 4,):
            if self.center_fraction is None and a not in DEFAULT_CENTER_FRACTION:
                raise _fail(f"required for acceleration {a}", "center_fraction")
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


_MODEL_ENTRIES = TypeAdapter(_list_of(_ModelEntry, unique=False))


def _expand_models(v: Any) -> tuple[ModelConfig, ...]:
    """``models:`` entries -> one :class:`ModelConfig` per (entry, acceleration)."""
    return tuple(m for e in _MODEL_ENTRIES.validate_python(v) for m in e.expand())


def _registered_names() -> list[str]:
    return list(threat_models())


def _problem(exc: ValidationError) -> tuple[str, str]:
    """``(key path, message)`` of the first problem of a pydantic error (path may be empty)."""
    err = exc.errors(include_url=False)[0]
    ctx = err.get("ctx") or {}
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
    at = ctx.get("at", "")
    path = (path + (at if at.startswith("[") else f".{at}" if at else "")).lstrip(".")
    template = _MESSAGES.get(err["type"])
    if template is None:
        return path, err["msg"]
    return path, template.format(input=err["input"], kind=type(err["input"]).__name__, **ctx)


def _section(name: str, data: Any) -> Any:
    """Validate ``attacks.<name>`` with its threat model's section model."""
    try:
        return threat_models()[name].section.model_validate(data)
    except ValidationError as exc:
        path, message = _problem(exc)
        raise _fail(message, at=f"{name}.{path}" if path else name) from None


class AttacksConfig(BaseModel):
    """The ``attacks:`` section: one section per registered threat model, at least one.

    The sections are the registry's (:func:`advrecon.attacks.registry.threat_models`): each is
    an attribute (``attacks.noise``; ``None`` when not configured), validated by the threat
    model's own section model.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: Any) -> dict[str, Any]:
        """Every registered name -> its validated section or ``None``; unknown keys rejected."""
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise _fail(f"must be a mapping, got {type(data).__name__}")
        names = _registered_names()
        for key in data:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(names)}"
                raise _fail(f"unknown key; {hint}", at=str(key))
        sections = {n: None if data.get(n) is None else _section(n, data[n]) for n in names}
        if all(v is None for v in sections.values()):
            quoted = [f"'{n}'" for n in names]
            listed = ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]
            raise _fail(f"configure at least one of {listed}")
        return sections

    def __getattr__(self, name: str) -> Any:
        """A registered threat model not in this config (registered after it was read): None."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name in threat_models():
                return None
            raise

    def configured(self) -> dict[str, Any]:
        """Configured sections, in registry order (name -> section)."""
        return {n: s for n, s in (self.model_extra or {}).items() if s is not None}


def _device_problem(v: Any, allow_auto: bool = False) -> str | None:
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
    problem = _device_problem(v, allow_auto)
    if problem is not None:
        raise ConfigError(f"{path}: {problem}")
    return v


def _device(v: Any) -> str:
    problem = _device_problem(v)
    if problem is not None:
        raise _fail(problem)
    return v


def _chunk_size(v: Any) -> Any:
    """A positive integer, ``"auto"`` or ``None``."""
    if v is None or v == "auto":
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise _fail("must be >= 1")
        return v
    raise _fail(f"must be a positive integer or 'auto', got {v!r}")


def _memory_limit(v: Any) -> Any:
    """A size (``"8GiB"``), a fraction of the available memory (``0.5``) or ``None``."""
    from advrecon.experiments.memory import parse_memory

    if v is None:
        return v
    try:
        parse_memory(v)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return v


class ExperimentConfig(_Section):
    """A whole experiment (see the module docstring for the YAML form).

    ``chunk_size`` is the largest number of items per forward pass, or ``auto`` (picked per
    model and attack from a measured per-item footprint within ``memory_limit``: a size such
    as ``"8GiB"`` or a fraction of the available memory; default half the available memory;
    see :mod:`advrecon.experiments.memory`).
    """

    data: DataConfig
    models: Annotated[tuple[ModelConfig, ...], BeforeValidator(_expand_models)]
    attacks: AttacksConfig
    slices: SliceSelection = SliceSelection()
    masks: MaskConfig = MaskConfig()
    targets: _list_of(_choice(TARGETS)) = TARGETS
    seed: Count = 0
    name: Text = "experiment"
    output: Text = "runs"
    device: Annotated[str, BeforeValidator(_device)] = "cpu"
    chunk_size: Annotated[Any, BeforeValidator(_chunk_size)] = None
    memory_limit: Annotated[Any, BeforeValidator(_memory_limit)] = None
    arrays: _choice(("all", "none")) = "all"

    @model_validator(mode="after")
    def _models_named_once(self) -> ExperimentConfig:
        """``(name, acceleration)`` is unique; ``rules_on`` / ``models`` name configured models."""
        seen: set[str] = set()
        for m in self.models:
            if m.key in seen:
                raise _fail(f"model '{m.name}' at {m.acceleration}x is listed twice", "models")
            seen.add(m.key)
        if self.memory_limit is not None and self.chunk_size != "auto":
            raise _fail("only used with chunk_size: auto", "memory_limit")
        names = {m.name for m in self.models}
        for i, r in enumerate((self.noise and self.noise.rules_on) or ()):
            if r not in names:
                raise _fail(f"no model named '{r}'", f"attacks.noise.rules_on[{i}]")
        tight = self.noise.tightness if self.noise else None
        for i, r in enumerate((tight and tight.models) or ()):
            if r not in names:
                raise _fail(f"no model named '{r}'", f"attacks.noise.tightness.models[{i}]")
        for attack, section in self.attacks.configured().items():  # sections with ``models:``
            for i, r in enumerate(getattr(section, "models", None) or ()):
                if r not in names:
                    raise _fail(f"no model named '{r}'", f"attacks.{attack}.models[{i}]")
        return self

    @property
    def noise(self) -> NoiseAttackConfig | None:
        """The noise attack (``attacks.noise``), if configured."""
        return self.attacks.noise

    @property
    def rotation(self) -> RotationAttackConfig | None:
        """The rotation attack (``attacks.rotation``), if configured."""
        return self.attacks.rotation

    def to_dict(self) -> dict[str, Any]:
        """Plain (YAML/JSON-able) form that :func:`parse_config` reads back to an equal config."""
        d = self.model_dump()
        d["attacks"] = {k: v for k, v in d["attacks"].items() if v is not None}
        rot = d["attacks"].get("rotation")
        if rot is not None and rot.get("coils") == "rotate":
            del rot["coils"]  # the default (the paper's): configs from before it hash alike
        for m in d["models"]:  # unset classical keys: configs without them keep their hash
            for key in CLASSICAL_KEYS:
                if m[key] is None:
                    del m[key]
        return _plain(d)

    def hash(self) -> str:
        """SHA-256 hex digest of everything that changes results."""
        d = self.to_dict()
        for key in RESULT_NEUTRAL_KEYS:
            d.pop(key, None)
        for name, section in d["attacks"].items():
            # keys added later, at the value that reproduces the older code's results, are left
            # out (the section's HASH_NEUTRAL): older run folders keep their hash
            cls = threat_models()[name].section
            if hasattr(cls, "hash_view"):  # keys that only matter with some other keys' values
                section = d["attacks"][name] = cls.hash_view(section)
            for key, value in getattr(cls, "HASH_NEUTRAL", {}).items():
                if key in section and section[key] == value:
                    del section[key]
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def run_dir(self) -> Path:
        """``<output>/<hash[:10]>``."""
        return Path(self.output) / self.hash()[:10]

    def with_overrides(self, **kwargs: Any) -> ExperimentConfig:
        """Copy with run settings replaced (``output``, ``device``, ``chunk_size``...).

        Raises:
            ConfigError: the new ``device`` is malformed or not available here.
        """
        if kwargs.get("device") is not None:
            parse_device(kwargs["device"], "device")
        return self.model_copy(update={k: v for k, v in kwargs.items() if v is not None})

    def check_paths(self) -> None:
        """Raise :class:`InputFileError` naming the first missing data/annotation/weights path."""
        root = Path(self.data.root)
        if self.data.kind == "fastmri" and not root.is_dir():
            raise InputFileError(root, "data folder not found (config key data.root)")
        ann = self.data.annotations_path()
        if self.data.annotations is not None and not ann.is_file():
            raise InputFileError(ann, "annotation CSV not found (config key data.annotations)")
        for i, m in enumerate(self.models):
            if m.checkpoint is not None and not Path(m.checkpoint).exists():
                raise InputFileError(
                    m.checkpoint,
                    f"checkpoint not found (config key models[{i}].checkpoint); edit the config "
                    "to point at your trained weights",
                )


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


# --------------------------------------------------------------------------------------------
# pydantic errors -> one-line messages with the key path
# --------------------------------------------------------------------------------------------
_MESSAGES = {
    "missing": "required key is missing",
    "bool_type": "must be true or false, got {input!r}",
    "int_type": "must be an integer, got {input!r}",
    "float_type": "must be a number, got {input!r}",
    "finite_number": "must be a finite number, got {input}",
    "string_type": "must be a non-empty string, got {input!r}",
    "string_too_short": "must be a non-empty string, got {input!r}",
    "greater_than_equal": "must be >= {ge:g}",
    "greater_than": "must be > {gt:g}",
    "less_than": "must be < {lt:g}",
    "too_short": "must not be empty",
    "model_type": "must be a mapping, got {kind}",
    "dict_type": "must be a mapping, got {kind}",
}


def _config_error(exc: ValidationError) -> ConfigError:
    """The first problem of a pydantic error as ``key.path[i]: what is wrong``."""
    path, message = _problem(exc)
    return ConfigError(f"{path or 'config'}: {message}")


# --------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------
def parse_config(d: Any) -> ExperimentConfig:
    """Validate a config mapping (as loaded from YAML) into an :class:`ExperimentConfig`.

    Raises:
        ConfigError: naming the key path of the first problem.
    """
    try:
        return ExperimentConfig.model_validate(d)
    except ValidationError as exc:
        raise _config_error(exc) from None


def load_config(
    path: str | Path, check_paths: bool = True, device: str | None = None
) -> ExperimentConfig:
    """Read and validate a YAML experiment config.

    Warnings about valid but suspicious values (:class:`ConfigWarning`) are logged with the
    file name and key path.

    Args:
        path: The YAML file.
        check_paths: Also check that data/annotation/checkpoint paths exist.
        device: Replaces the config's ``device`` before validation (``--device``), so that a
            config written for another machine loads here.

    Raises:
        InputFileError: the file is missing/unreadable, or (``check_paths``) a path it names is.
        ConfigError: a key is unknown, missing or has a bad value (the message names it).
    """
    path = Path(path)
    if path.is_dir():
        raise InputFileError(path, "is a folder without config.yaml, not a YAML config file")
    if not path.is_file():
        raise InputFileError(path, "config file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputFileError(path, "is not a text file (expected a YAML config)") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if raw is None:
        raise InputFileError(path, "config file is empty")
    if device is not None and isinstance(raw, dict):
        raw = {**raw, "device": parse_device(device, "--device")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        try:
            cfg = parse_config(raw)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    for w in caught:
        if issubclass(w.category, ConfigWarning):
            logger.warning("%s: %s", path, w.message)
        else:
            warnings.warn(w.message, w.category, stacklevel=2)
    if check_paths:
        cfg.check_paths()
    return cfg
