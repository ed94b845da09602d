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
    plugins: [my_package.my_threat_model]   # optional: modules registering more threat models

The sections live in their own modules: ``data`` / ``slices`` / ``masks`` in
:mod:`.config_sections`, ``models`` in :mod:`.config_models`, ``attacks`` and ``plugins`` in
:mod:`.config_attacks` (each ``attacks.<name>`` is the registered threat model's own section),
``device`` in :mod:`.devices`. ``config.<name>`` is ``config.attacks.<name>``.

The *config hash* (:meth:`ExperimentConfig.hash`) covers everything that changes results and
nothing that does not (``output``, ``device``, ``chunk_size``, ``memory_limit``, ``arrays``,
``name``): the run folder is ``<output>/<hash[:10]>``, so a resumed run finds its own folder
again. Keys added later leave the hash of configs without them unchanged (:mod:`.compat`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BeforeValidator, ValidationError, model_validator

from advrecon.attacks.registry import threat_models
from advrecon.config_types import ConfigWarning, Count, Section, Text, choice, fail, list_of
from advrecon.errors import ConfigError, InputFileError
from advrecon.experiments.compat import hash_view, without_later_keys
from advrecon.experiments.config_attacks import (
    AttacksConfig,
    load_config_plugins,
    plugin_modules,
)
from advrecon.experiments.config_errors import config_error
from advrecon.experiments.config_models import (
    ARCHS,
    CLASSICAL_KEYS,
    DEFAULT_CENTER_FRACTION,
    WEIGHTLESS,
    ModelConfig,
    expand_models,
)
from advrecon.experiments.config_sections import (
    MASK_TYPES,
    DataConfig,
    MaskConfig,
    SliceSelection,
)
from advrecon.experiments.devices import DEVICE_TYPES, check_device, parse_device

__all__ = [
    "DataConfig",
    "SliceSelection",
    "MaskConfig",
    "ModelConfig",
    "AttacksConfig",
    "ExperimentConfig",
    "load_config",
    "parse_config",
    "TARGETS",
    "RESULT_NEUTRAL_KEYS",
    "ConfigWarning",
    "parse_device",
    "ARCHS",
    "CLASSICAL_KEYS",
    "DEFAULT_CENTER_FRACTION",
    "DEVICE_TYPES",
    "MASK_TYPES",
    "WEIGHTLESS",
]

logger = logging.getLogger(__name__)

#: Attack targets: the annotated box (``region``) or the complete image (``image``).
TARGETS = ("region", "image")
#: Top-level keys that do not change results (excluded from the config hash).
RESULT_NEUTRAL_KEYS = ("name", "output", "device", "chunk_size", "memory_limit", "arrays")


def _chunk_size(v: Any) -> Any:
    """A positive integer, ``"auto"`` or ``None``."""
    if v is None or v == "auto":
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise fail("must be >= 1")
        return v
    raise fail(f"must be a positive integer or 'auto', got {v!r}")


def _memory_limit(v: Any) -> Any:
    """A size (``"8GiB"``), a fraction of the available memory (``0.5``) or ``None``."""
    from advrecon.experiments.memory import parse_memory

    if v is None:
        return v
    try:
        parse_memory(v)
    except ValueError as exc:
        raise fail(str(exc)) from None
    return v


class ExperimentConfig(Section):
    """A whole experiment (see the module docstring for the YAML form).

    ``chunk_size`` is the largest number of items per forward pass, or ``auto`` (picked per
    model and attack from a measured per-item footprint within ``memory_limit``: a size such
    as ``"8GiB"`` or a fraction of the available memory; default half the available memory;
    see :mod:`advrecon.experiments.memory`).

    ``plugins`` lists modules that register threat models (imported before ``attacks`` is
    validated, :func:`~.config_attacks.load_config_plugins`); a non-empty list enters the hash.
    """

    data: DataConfig
    models: Annotated[tuple[ModelConfig, ...], BeforeValidator(expand_models)]
    attacks: AttacksConfig
    slices: SliceSelection = SliceSelection()
    masks: MaskConfig = MaskConfig()
    targets: list_of(choice(TARGETS)) = TARGETS
    seed: Count = 0
    name: Text = "experiment"
    output: Text = "runs"
    device: Annotated[str, BeforeValidator(check_device)] = "cpu"
    chunk_size: Annotated[Any, BeforeValidator(_chunk_size)] = None
    memory_limit: Annotated[Any, BeforeValidator(_memory_limit)] = None
    arrays: choice(("all", "none")) = "all"
    plugins: Annotated[tuple[Text, ...], BeforeValidator(plugin_modules)] = ()

    @model_validator(mode="before")
    @classmethod
    def _plugins_first(cls, data: Any) -> Any:
        """Register the ``plugins:`` threat models before ``attacks`` is validated."""
        if isinstance(data, dict):
            load_config_plugins(data.get("plugins"))
        return data

    @model_validator(mode="after")
    def _models_named_once(self) -> ExperimentConfig:
        """``(name, acceleration)`` is unique; attack sections name configured models only."""
        seen: set[str] = set()
        for m in self.models:
            if m.key in seen:
                raise fail(f"model '{m.name}' at {m.acceleration}x is listed twice", "models")
            seen.add(m.key)
        if self.memory_limit is not None and self.chunk_size != "auto":
            raise fail("only used with chunk_size: auto", "memory_limit")
        names = {m.name for m in self.models}
        for path, name in self.attacks.model_references():
            if name not in names:
                raise fail(f"no model named '{name}'", path)
        return self

    def __getattr__(self, name: str) -> Any:
        """``config.<name>``: the section ``attacks.<name>`` of a registered threat model."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name in threat_models():
                return getattr(self.attacks, name)
            raise

    def to_dict(self) -> dict[str, Any]:
        """Plain (YAML/JSON-able) form that :func:`parse_config` reads back to an equal config."""
        d = self.model_dump()
        d["attacks"] = {k: v for k, v in d["attacks"].items() if v is not None}
        return _plain(without_later_keys(d))

    def hash(self) -> str:
        """SHA-256 hex digest of everything that changes results."""
        d = self.to_dict()
        for key in RESULT_NEUTRAL_KEYS:
            d.pop(key, None)
        blob = json.dumps(hash_view(d), sort_keys=True, separators=(",", ":"))
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


def parse_config(d: Any) -> ExperimentConfig:
    """Validate a config mapping (as loaded from YAML) into an :class:`ExperimentConfig`.

    Raises:
        ConfigError: naming the key path of the first problem.
    """
    try:
        return ExperimentConfig.model_validate(d)
    except ValidationError as exc:
        raise config_error(exc) from None


def _read_yaml(path: Path) -> Any:
    """The YAML document of a config file (not ``None``).

    Raises:
        InputFileError: the file is missing, a folder, unreadable, not YAML or empty.
    """
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
    return raw


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
    raw = _read_yaml(path)
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
