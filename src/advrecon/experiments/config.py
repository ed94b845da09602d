"""Experiment configuration: YAML -> validated, frozen dataclasses.

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
nothing that does not (``output``, ``device``, ``chunk_size``, ``arrays``, ``name``): the run
folder is ``<output>/<hash[:10]>``, so a resumed run finds its own folder again.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import math
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from advrecon.attacks.geometry import INTERPOLATIONS
from advrecon.attacks.noise import RULES as NOISE_RULES
from advrecon.attacks.objectives import OBJECTIVES, SELECT_BY
from advrecon.attacks.rotation import GRIDS as ROTATION_GRIDS
from advrecon.errors import ConfigError, InputFileError
from advrecon.masks import MASK_TYPES as MASK_FUNCS
from advrecon.masks import PAPER_MASKS as DEFAULT_CENTER_FRACTION
from advrecon.models.presets import ARCHITECTURES

__all__ = [
    "DataConfig",
    "SliceSelection",
    "MaskConfig",
    "ModelConfig",
    "NoiseAttackConfig",
    "RotationAttackConfig",
    "ExperimentConfig",
    "load_config",
    "parse_config",
    "TARGETS",
    "RESULT_NEUTRAL_KEYS",
    "ConfigWarning",
    "parse_device",
]

logger = logging.getLogger(__name__)

#: Attack targets: the annotated box (``region``) or the complete image (``image``).
TARGETS = ("region", "image")
# The other tables of valid values are imported from the modules they belong to (above).
MASK_TYPES = tuple(MASK_FUNCS)
#: Trained architectures (presets), the zero-filled baseline, or a user's model.
ARCHS = (*ARCHITECTURES, "zero_filled", "custom")
#: Top-level keys that do not change results (excluded from the config hash).
RESULT_NEUTRAL_KEYS = ("name", "output", "device", "chunk_size", "arrays")
#: Budgets above this many percent of a coil's norm are allowed but warned about.
ETA_WARN_PERCENT = 100.0
#: Device types a run can use (checked for availability at load).
DEVICE_TYPES = ("cpu", "cuda", "mps")


class ConfigWarning(UserWarning):
    """A config value is valid but probably not what was meant (``eta`` above 100 %)."""


# --------------------------------------------------------------------------------------------
# dataclasses
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataConfig:
    """Where the slices come from.

    Attributes:
        kind: ``"fastmri"`` (a folder of fastMRI multicoil ``.h5`` files) or ``"synthetic"``
            (a folder generated with :mod:`advrecon.data.synthetic` when absent).
        root: The folder of ``.h5`` files.
        annotations: fastMRI+ CSV; ``None`` for synthetic data means ``<root>/annotations.csv``.
        synthetic: Keyword arguments of ``SynthConfig`` (synthetic data only).
    """

    kind: str = "synthetic"
    root: str = "data/synthetic"
    annotations: str | None = None
    synthetic: dict[str, Any] = field(default_factory=dict)

    def annotations_path(self) -> Path | None:
        if self.annotations is not None:
            return Path(self.annotations)
        if self.kind == "synthetic":
            return Path(self.root) / "annotations.csv"
        return None


@dataclass(frozen=True)
class SliceSelection:
    """Which slices are attacked.

    Attributes:
        annotated_only: Only slices with at least one fastMRI+ box.
        one_per_volume: At most one slice per volume (the first eligible one after sorting).
        max_slices: At most this many slices in total (``None``: all).
        select: Explicit ``(file, slice)`` pairs; overrides the other filters when given.
        box_policy: fastMRI+ box policy passed to the data layer (``"all"``, ...).
    """

    annotated_only: bool = True
    one_per_volume: bool = False
    max_slices: int | None = None
    select: tuple[tuple[str, int], ...] | None = None
    box_policy: str = "all"


@dataclass(frozen=True)
class MaskConfig:
    """Undersampling masks.

    Attributes:
        type: ``"random"``, ``"equispaced_fraction"`` or ``"equispaced"``.
        seed: ``"per_volume"``: the seed is derived from the file name as fastMRI does for its
            validation set (``tuple(map(ord, fname))``), so every model/attack sees the same
            mask for a slice; or an ``int`` shared by all slices.
    """

    type: str = "equispaced_fraction"
    seed: str | int = "per_volume"


@dataclass(frozen=True)
class ModelConfig:
    """One reconstruction model at one acceleration.

    Exactly one of ``checkpoint``, ``shipped`` or ``spec`` says where the weights come from.

    Attributes:
        name: Label in the results (``unet``); ``(name, acceleration)`` must be unique.
        arch: ``unet``, ``varnet``, ``zero_filled`` or ``custom``.
        preset: Architecture preset (``demo``, ``paper``, ``fastmri``) or ``None``.
        checkpoint: Path of a checkpoint file (safetensors / TorchScript).
        shipped: Use the demo weights shipped with the package.
        spec: ``module:callable`` returning a Reconstructor.
        acceleration: Undersampling factor.
        center_fraction: Fraction of fully sampled central columns (paper: 0.08 at 4x, 0.04 at 8x).
    """

    name: str
    arch: str = "custom"
    preset: str | None = None
    checkpoint: str | None = None
    shipped: bool = False
    spec: str | None = None
    acceleration: int = 4
    center_fraction: float = 0.08

    @property
    def key(self) -> str:
        """Unique label ``name@{acc}x``."""
        return f"{self.name}@{self.acceleration}x"

    def source(self) -> str:
        """Human-readable origin of the weights."""
        if self.shipped:
            return f"shipped:{self.arch}_{self.acceleration}x"
        return str(self.checkpoint or self.spec or self.arch)


@dataclass(frozen=True)
class NoiseAttackConfig:
    """Adversarial k-space noise (per-coil L2 ball of radius ``eta`` % of the coil's norm).

    Attributes:
        eta: Budgets in percent.
        steps, step_size, random_start, objective, measured_only: PGD settings.
        rules: Update rules (``l2``: per-coil normalised-gradient PGD, best iterate, the
            default; ``reference``: exactly the authors' public code, last iterate, which uses
            only part of the budget, see :mod:`advrecon.attacks.noise`). The first rule runs
            on every model, the others only on the
            models in ``rules_on`` (``None``: all models).
        n_random: Random-noise baselines of the same norm per budget.
        image_eta: Budgets for the complete-image target (``None``: ``eta``). The
            complete-image attack is a comparison with the targeted one; a study that only
            needs it at the largest budget saves a third of the noise attacks' cost.
    """

    eta: tuple[float, ...] = (0.0, 0.5, 1.0, 2.5)
    steps: int = 10
    step_size: float = 0.5
    random_start: bool = True
    objective: str = "mse"
    rules: tuple[str, ...] = ("l2",)
    rules_on: tuple[str, ...] | None = None
    measured_only: bool = False
    n_random: int = 1
    image_eta: tuple[float, ...] | None = None

    def eta_for(self, target: str) -> tuple[float, ...]:
        """Budgets of the ``target`` (``"region"`` or ``"image"``)."""
        return self.image_eta if target == "image" and self.image_eta is not None else self.eta

    def rules_for(self, model_name: str) -> tuple[str, ...]:
        if self.rules_on is None or model_name in self.rules_on:
            return self.rules
        return self.rules[:1]


@dataclass(frozen=True)
class RotationAttackConfig:
    """Adversarial rotation: grid search over ``[-theta_max, theta_max]``.

    Attributes:
        theta_max: Largest angles in degrees.
        step: Grid step in degrees.
        interpolation: ``paper`` (the paper's) or ``fourier``.
        select_by: Metric that picks the worst angle (``mse`` or ``ssim``).
        n_random: Random angles per ``theta_max`` as a baseline.
        grid: ``inclusive`` (default; the paper's text: ``-theta_max ... theta_max`` with both
            ends) or ``exclusive`` (the authors' code: ``arange(-theta_max, theta_max,
            step)[1:]``, both ends excluded); see :func:`advrecon.attacks.rotation.angle_grid`.
        identity_at_zero: ``paper`` interpolation: make angle 0 the exact identity (default
            false: resample at angle 0 as the authors' pipeline does).
    """

    theta_max: tuple[float, ...] = (0.0, 1.0, 3.0, 5.0)
    step: float = 0.1
    interpolation: str = "paper"
    select_by: str = "mse"
    n_random: int = 1
    grid: str = "inclusive"
    identity_at_zero: bool = False


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment (see the module docstring for the YAML form)."""

    data: DataConfig
    models: tuple[ModelConfig, ...]
    slices: SliceSelection = SliceSelection()
    masks: MaskConfig = MaskConfig()
    noise: NoiseAttackConfig | None = None
    rotation: RotationAttackConfig | None = None
    targets: tuple[str, ...] = TARGETS
    seed: int = 0
    name: str = "experiment"
    output: str = "runs"
    device: str = "cpu"
    chunk_size: int | None = None
    arrays: str = "all"

    def to_dict(self) -> dict[str, Any]:
        """Plain (YAML/JSON-able) form that :func:`parse_config` reads back to an equal config."""
        d = asdict(self)
        attacks: dict[str, Any] = {}
        for kind in ("noise", "rotation"):
            if d[kind] is not None:
                attacks[kind] = d[kind]
        d.pop("noise")
        d.pop("rotation")
        d["attacks"] = attacks
        return _plain(d)

    def hash(self) -> str:
        """SHA-256 hex digest of everything that changes results."""
        d = self.to_dict()
        for key in RESULT_NEUTRAL_KEYS:
            d.pop(key, None)
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
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})

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
# validation helpers
# --------------------------------------------------------------------------------------------
def _fail(path: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: {problem}" if path else problem)


def _check_keys(d: Any, allowed: list[str], path: str, required: tuple[str, ...] = ()) -> dict:
    where = path or "config"
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise _fail(where, f"must be a mapping, got {type(d).__name__}")
    for key in d:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; allowed: {', '.join(allowed)}"
            raise _fail(f"{path + '.' if path else ''}{key}", f"unknown key{hint}")
    for key in required:
        if key not in d:
            raise _fail(f"{path + '.' if path else ''}{key}", "required key is missing")
    return d


def _bool(v: Any, path: str) -> bool:
    if not isinstance(v, bool):
        raise _fail(path, f"must be true or false, got {v!r}")
    return v


def _int(v: Any, path: str, minimum: int | None = None, allow_none: bool = False) -> int | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(path, f"must be an integer, got {v!r}")
    if minimum is not None and v < minimum:
        raise _fail(path, f"must be >= {minimum}")
    return v


def _float(v: Any, path: str, minimum: float | None = None, strict: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(path, f"must be a number, got {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise _fail(path, f"must be a finite number, got {v}")
    if minimum is not None and (v <= minimum if strict else v < minimum):
        raise _fail(path, f"must be {'>' if strict else '>='} {minimum:g}")
    return v


def _str(v: Any, path: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(v, str) or not v:
        raise _fail(path, f"must be a non-empty string, got {v!r}")
    if choices is not None and v not in choices:
        close = difflib.get_close_matches(v, choices, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise _fail(path, f"must be one of {', '.join(choices)}, got '{v}'{hint}")
    return v


def _list(v: Any, path: str, nonempty: bool = True) -> list:
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
        v = [v]
    if nonempty and not v:
        raise _fail(path, "must not be empty")
    return list(v)


def _floats(v: Any, path: str, minimum: float = 0.0) -> tuple[float, ...]:
    values = [_float(x, f"{path}[{i}]", minimum) for i, x in enumerate(_list(v, path))]
    if len(set(values)) != len(values):
        raise _fail(path, "contains duplicate values")
    return tuple(values)


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
    import torch

    if not isinstance(v, str) or not v:
        raise _fail(path, f"must be a device name such as cpu, cuda or cuda:0, got {v!r}")
    if allow_auto and v == "auto":
        return v
    try:
        dev = torch.device(v)
    except (RuntimeError, ValueError, TypeError):
        raise _fail(path, f"'{v}' is not a device; use cpu, cuda, cuda:N or mps") from None
    if dev.type not in DEVICE_TYPES:
        raise _fail(
            path, f"device type '{dev.type}' is not supported; use cpu, cuda, cuda:N or mps"
        )
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise _fail(
                path, f"'{v}' requested but CUDA is not available here; use cpu (--device cpu)"
            )
        if dev.index is not None and dev.index >= count:
            raise _fail(path, f"'{v}' requested but this machine has {count} CUDA device(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise _fail(path, f"'{v}' requested but MPS is not available here; use cpu (--device cpu)")
    return v


# --------------------------------------------------------------------------------------------
# section parsers
# --------------------------------------------------------------------------------------------
def _parse_data(d: Any) -> DataConfig:
    d = _check_keys(d, ["kind", "root", "annotations", "synthetic"], "data", ("root",))
    kind = _str(d.get("kind", "fastmri"), "data.kind", ("fastmri", "synthetic"))
    root = _str(str(d["root"]) if d.get("root") is not None else None, "data.root")
    ann = d.get("annotations")
    if ann is not None:
        ann = _str(str(ann), "data.annotations")
    synth = d.get("synthetic") or {}
    if not isinstance(synth, dict):
        raise _fail("data.synthetic", "must be a mapping of SynthConfig fields")
    if synth and kind != "synthetic":
        raise _fail("data.synthetic", "only allowed with data.kind: synthetic")
    _check_synthetic(synth)
    return DataConfig(kind=kind, root=root, annotations=ann, synthetic=dict(synth))


def _check_synthetic(synth: dict) -> None:
    """``data.synthetic`` keys are ``SynthConfig`` fields of the right type and pass its checks."""
    from dataclasses import fields

    from advrecon.data.synthetic import SynthConfig

    types = {f.name: str(f.type) for f in fields(SynthConfig)}
    _check_keys(synth, list(types), "data.synthetic")
    for key, value in synth.items():
        _check_typed(value, f"data.synthetic.{key}", types[key])
    try:
        SynthConfig(**synth)
    except ConfigError as exc:
        raise _fail("data.synthetic", str(exc).removeprefix("synthetic data config: ")) from None


def _check_typed(v: Any, path: str, type_: str) -> None:
    """Check ``v`` against a simple annotation: int, float, str, tuple[...] (optionally | None)."""
    base = type_.removesuffix(" | None")
    if v is None and base != type_:
        return
    if base.startswith("tuple[") and base.endswith("]"):
        inner = base[len("tuple[") : -1].split(", ")
        if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
            raise _fail(path, f"must be a list, got {v!r}")
        if inner[-1] != "..." and len(v) != len(inner):
            raise _fail(path, f"must be a list of {len(inner)} values, got {list(v)!r}")
        for i, item in enumerate(v):
            _check_typed(item, f"{path}[{i}]", inner[0])
    elif base == "int":
        _int(v, path)
    elif base == "float":
        _float(v, path)
    elif base == "str":
        _str(v, path)


def _box_policies() -> tuple[str, ...]:
    from advrecon.data.annotations import BOX_POLICIES

    return tuple(BOX_POLICIES)


def _parse_slices(d: Any) -> SliceSelection:
    allowed = ["annotated_only", "one_per_volume", "max_slices", "select", "box_policy"]
    d = _check_keys(d, allowed, "slices")
    select = d.get("select")
    pairs = None
    if select is not None:
        pairs = []
        for i, item in enumerate(_list(select, "slices.select")):
            p = f"slices.select[{i}]"
            if isinstance(item, str) and ":" in item:
                file, _, num = item.rpartition(":")
                try:
                    item = [file, int(num)]
                except ValueError:
                    raise _fail(
                        p, f"expected 'file:slice' or [file, slice], got {item!r}"
                    ) from None
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise _fail(p, f"expected 'file:slice' or [file, slice], got {item!r}")
            file = Path(_str(str(item[0]), p)).stem
            pairs.append((file, _int(item[1], f"{p}[1]", 0)))
        pairs = tuple(pairs)
    return SliceSelection(
        annotated_only=_bool(d.get("annotated_only", True), "slices.annotated_only"),
        one_per_volume=_bool(d.get("one_per_volume", False), "slices.one_per_volume"),
        max_slices=_int(d.get("max_slices"), "slices.max_slices", 1, allow_none=True),
        select=pairs,
        box_policy=_str(d.get("box_policy", "all"), "slices.box_policy", _box_policies()),
    )


def _parse_masks(d: Any) -> MaskConfig:
    d = _check_keys(d, ["type", "seed"], "masks")
    seed = d.get("seed", "per_volume")
    if not (seed == "per_volume" or (isinstance(seed, int) and not isinstance(seed, bool))):
        raise _fail("masks.seed", f"must be 'per_volume' or an integer, got {seed!r}")
    return MaskConfig(
        type=_str(d.get("type", "equispaced_fraction"), "masks.type", MASK_TYPES), seed=seed
    )


def _preset(v: Any, path: str, arch: str, shipped: bool, spec: Any) -> str | None:
    """A size preset of :data:`advrecon.models.presets.PRESETS` valid for this model entry."""
    if v is None:
        return None
    from advrecon.models.checkpoints import SHIPPED_PRESET
    from advrecon.models.presets import PRESETS

    if arch == "zero_filled" or spec is not None:
        raise _fail(path, "a preset applies only to checkpoint or shipped weights, not to a spec")
    names = (
        tuple(PRESETS[arch])
        if arch in PRESETS
        else tuple(dict.fromkeys(name for presets in PRESETS.values() for name in presets))
    )
    v = _str(v, path, names)
    if shipped and v != SHIPPED_PRESET:
        raise _fail(path, f"the shipped weights are the '{SHIPPED_PRESET}' preset, not '{v}'")
    return v


def _parse_model(d: Any, i: int) -> list[ModelConfig]:
    p = f"models[{i}]"
    allowed = [
        "name",
        "arch",
        "preset",
        "checkpoint",
        "shipped",
        "spec",
        "acceleration",
        "accelerations",
        "center_fraction",
    ]
    d = _check_keys(d, allowed, p, ("name",))
    name = _str(d["name"], f"{p}.name")
    if "@" in name or "/" in name or "," in name:
        raise _fail(f"{p}.name", "must not contain '@', '/' or ','")
    arch = _str(d.get("arch", "custom"), f"{p}.arch", ARCHS)
    shipped = _bool(d.get("shipped", False), f"{p}.shipped")
    checkpoint = d.get("checkpoint")
    spec = d.get("spec")
    sources = [
        k for k, v in (("checkpoint", checkpoint), ("shipped", shipped), ("spec", spec)) if v
    ]
    if arch == "zero_filled":
        if sources:
            raise _fail(p, "arch zero_filled takes no checkpoint, shipped or spec")
    elif len(sources) != 1:
        raise _fail(
            p,
            "give exactly one of 'checkpoint', 'shipped: true' or 'spec' "
            f"(got {', '.join(sources) or 'none'})",
        )
    if shipped and arch not in ("unet", "varnet"):
        raise _fail(f"{p}.arch", "shipped weights exist for arch unet and varnet only")
    if spec is not None:
        spec = _str(str(spec), f"{p}.spec")
    if checkpoint is not None:
        checkpoint = _str(str(checkpoint), f"{p}.checkpoint")
    if "acceleration" in d and "accelerations" in d:
        raise _fail(p, "give 'acceleration' or 'accelerations', not both")
    accs = d.get("accelerations", d.get("acceleration", 4))
    key = "accelerations" if "accelerations" in d else "acceleration"
    accs = [
        _int(a, f"{p}.{key}" + (f"[{j}]" if key == "accelerations" else ""), 1)
        for j, a in enumerate(_list(accs, f"{p}.{key}"))
    ]
    preset = _preset(d.get("preset"), f"{p}.preset", arch, shipped, spec)
    if len(accs) > 1 and checkpoint is not None:
        raise _fail(
            f"{p}.accelerations",
            "one checkpoint serves one acceleration; add one model entry per acceleration",
        )
    out = []
    for a in accs:
        cf = d.get("center_fraction", DEFAULT_CENTER_FRACTION.get(a))
        if cf is None:
            raise _fail(f"{p}.center_fraction", f"required for acceleration {a}")
        cf = _float(cf, f"{p}.center_fraction", 0.0, strict=True)
        if cf >= 1:
            raise _fail(f"{p}.center_fraction", "must be < 1")
        out.append(
            ModelConfig(
                name=name,
                arch=arch,
                preset=preset,
                checkpoint=checkpoint,
                shipped=shipped,
                spec=spec,
                acceleration=a,
                center_fraction=cf,
            )
        )
    return out


def _parse_noise(d: Any) -> NoiseAttackConfig:
    p = "attacks.noise"
    allowed = [
        "eta",
        "steps",
        "step_size",
        "random_start",
        "objective",
        "rules",
        "rule",
        "rules_on",
        "measured_only",
        "n_random",
        "image_eta",
    ]
    d = _check_keys(d, allowed, p, ("eta",))
    if "rule" in d and "rules" in d:
        raise _fail(p, "give 'rule' or 'rules', not both")
    rk = "rules" if "rules" in d else "rule"
    rules = tuple(
        _str(r, f"{p}.{rk}[{i}]", NOISE_RULES)
        for i, r in enumerate(_list(d.get(rk, ["l2"]), f"{p}.{rk}"))
    )
    if len(set(rules)) != len(rules):
        raise _fail(f"{p}.{rk}", "contains duplicate values")
    rules_on = d.get("rules_on")
    if rules_on is not None:
        rules_on = tuple(
            _str(r, f"{p}.rules_on[{i}]") for i, r in enumerate(_list(rules_on, f"{p}.rules_on"))
        )
    eta = _floats(d["eta"], f"{p}.eta")
    image_eta = d.get("image_eta")
    if image_eta is not None:
        image_eta = _floats(image_eta, f"{p}.image_eta")
    for key, e, i in [("eta", e, i) for i, e in enumerate(eta)] + [
        ("image_eta", e, i) for i, e in enumerate(image_eta or ())
    ]:
        if e > ETA_WARN_PERCENT:
            warnings.warn(
                f"{p}.{key}[{i}]: {e:g} % is above {ETA_WARN_PERCENT:g} % of each coil's k-space "
                "norm (eta is in percent: 2.5 means 2.5 %)",
                ConfigWarning,
                stacklevel=2,
            )
    return NoiseAttackConfig(
        eta=eta,
        steps=_int(d.get("steps", 10), f"{p}.steps", 0),
        step_size=_float(d.get("step_size", 0.5), f"{p}.step_size", 0.0, strict=True),
        random_start=_bool(d.get("random_start", True), f"{p}.random_start"),
        objective=_str(d.get("objective", "mse"), f"{p}.objective", OBJECTIVES),
        rules=rules,
        rules_on=rules_on,
        measured_only=_bool(d.get("measured_only", False), f"{p}.measured_only"),
        n_random=_int(d.get("n_random", 1), f"{p}.n_random", 0),
        image_eta=image_eta,
    )


def _check_grid(theta_max: tuple[float, ...], step: float, p: str) -> None:
    """The angle grid over ``+-max(theta_max)`` holds at most the attack's ``MAX_ANGLES``."""
    from advrecon.attacks.rotation import MAX_ANGLES as MAX_ROTATION_ANGLES  # one bound

    top = max(theta_max)
    n = 2 * int(math.floor(min(top / step, 1e18) + 1e-9)) + 1  # multiples of step in the window
    if n > MAX_ROTATION_ANGLES:
        raise _fail(
            f"{p}.step",
            f"a {step:g} deg grid over +-{top:g} deg has {n} angles, more than the maximum of "
            f"{MAX_ROTATION_ANGLES}; use a larger step",
        )


def _parse_rotation(d: Any) -> RotationAttackConfig:
    p = "attacks.rotation"
    allowed = [
        "theta_max",
        "step",
        "interpolation",
        "select_by",
        "n_random",
        "grid",
        "identity_at_zero",
    ]
    d = _check_keys(d, allowed, p, ("theta_max",))
    theta_max = _floats(d["theta_max"], f"{p}.theta_max")
    step = _float(d.get("step", 0.1), f"{p}.step", 0.0, strict=True)
    _check_grid(theta_max, step, p)
    return RotationAttackConfig(
        theta_max=theta_max,
        step=step,
        interpolation=_str(d.get("interpolation", "paper"), f"{p}.interpolation", INTERPOLATIONS),
        select_by=_str(d.get("select_by", "mse"), f"{p}.select_by", SELECT_BY),
        n_random=_int(d.get("n_random", 1), f"{p}.n_random", 0),
        # grid: which angles a theta_max window holds; identity_at_zero: angle 0 unresampled
        grid=_str(d.get("grid", "inclusive"), f"{p}.grid", ROTATION_GRIDS),
        identity_at_zero=_bool(d.get("identity_at_zero", False), f"{p}.identity_at_zero"),
    )


_TOP_KEYS = [
    "name",
    "seed",
    "device",
    "chunk_size",
    "output",
    "data",
    "slices",
    "masks",
    "models",
    "attacks",
    "targets",
    "arrays",
]


def parse_config(d: Any) -> ExperimentConfig:
    """Validate a config mapping (as loaded from YAML) into an :class:`ExperimentConfig`.

    Raises:
        ConfigError: naming the key path of the first problem.
    """
    d = _check_keys(d, _TOP_KEYS, "", ("data", "models", "attacks"))
    models: list[ModelConfig] = []
    for i, m in enumerate(_list(d["models"], "models")):
        models.extend(_parse_model(m, i))
    seen = set()
    for m in models:
        if m.key in seen:
            raise _fail("models", f"model '{m.name}' at {m.acceleration}x is listed twice")
        seen.add(m.key)
    attacks = _check_keys(d["attacks"], ["noise", "rotation"], "attacks")
    noise = _parse_noise(attacks["noise"]) if attacks.get("noise") is not None else None
    rotation = _parse_rotation(attacks["rotation"]) if attacks.get("rotation") is not None else None
    if noise is None and rotation is None:
        raise _fail("attacks", "configure at least one of 'noise' or 'rotation'")
    if noise is not None and noise.rules_on is not None:
        names = {m.name for m in models}
        for i, r in enumerate(noise.rules_on):
            if r not in names:
                raise _fail(f"attacks.noise.rules_on[{i}]", f"no model named '{r}'")
    targets = tuple(
        _str(t, f"targets[{i}]", TARGETS)
        for i, t in enumerate(_list(d.get("targets", list(TARGETS)), "targets"))
    )
    if len(set(targets)) != len(targets):
        raise _fail("targets", "contains duplicate values")
    chunk = _int(d.get("chunk_size"), "chunk_size", 1, allow_none=True)
    return ExperimentConfig(
        data=_parse_data(d["data"]),
        models=tuple(models),
        slices=_parse_slices(d.get("slices")),
        masks=_parse_masks(d.get("masks")),
        noise=noise,
        rotation=rotation,
        targets=targets,
        seed=_int(d.get("seed", 0), "seed", 0),
        name=_str(str(d.get("name", "experiment")), "name"),
        output=_str(str(d.get("output", "runs")), "output"),
        device=parse_device(d.get("device", "cpu"), "device"),
        chunk_size=chunk,
        arrays=_str(d.get("arrays", "all"), "arrays", ("all", "none")),
    )


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
