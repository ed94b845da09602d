"""The threat-model registry: a one-way list of plug-ins.

Three sources, in this order (the order batches run in):

1. the shipped plug-ins (:data:`SHIPPED`: ``name -> module``; each module's ``THREAT_MODEL``);
2. Python entry points of the group ``advrecon.threat_models`` (installed packages: the entry
   point names a :class:`~advrecon.attacks.contract.ThreatModel` or a module holding
   ``THREAT_MODEL``);
3. modules named by an experiment config (``plugins: [module, ...]``, :func:`load_plugins`)
   or values passed to :func:`register` from Python.

Plug-in modules import :mod:`advrecon.attacks.contract` (the types), never this module, so the
list only points one way. Nothing outside this module and the plug-ins' own modules names a
threat model.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from advrecon.attacks.contract import ThreatModel
from advrecon.errors import AdvreconError, ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "SHIPPED",
    "get_threat_model",
    "load_plugins",
    "register",
    "threat_models",
    "unregister",
]

#: The shipped plug-ins, in the order their batches run: name -> module holding THREAT_MODEL.
SHIPPED: dict[str, str] = {
    "noise": "advrecon.attacks.noise.plugin",
    "rotation": "advrecon.attacks.rotation.plugin",
    "motion": "advrecon.attacks.motion.plugin",
    "feature": "advrecon.attacks.feature.plugin",
    "hallucination": "advrecon.attacks.hallucination.plugin",
    "offresonance": "advrecon.attacks.offresonance.plugin",
    "drift": "advrecon.attacks.drift.plugin",
    "spikes": "advrecon.attacks.spikes.plugin",
    "snr": "advrecon.attacks.snr.plugin",
}
#: Entry-point group of external plug-ins.
ENTRY_POINT_GROUP = "advrecon.threat_models"

_REGISTERED: dict[str, ThreatModel] = {}
_LOADED = False


def _from_value(value: Any, where: str) -> list[ThreatModel]:
    """The threat model(s) of an entry point's or module's value."""
    if isinstance(value, ThreatModel):
        return [value]
    found = getattr(value, "THREAT_MODEL", None)
    if isinstance(found, ThreatModel):
        return [found]
    many = getattr(value, "THREAT_MODELS", None)
    if isinstance(many, list | tuple) and all(isinstance(t, ThreatModel) for t in many):
        return list(many)
    raise AdvreconError(
        f"{where}: not a threat-model plug-in (expected an advrecon ThreatModel, or a module "
        "with THREAT_MODEL = ThreatModel(...))"
    )


def _import(module: str, where: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import plug-in module {module!r}: {exc}") from None


def _add(model: ThreatModel, where: str, again_ok: bool = True) -> None:
    old = _REGISTERED.get(model.name)
    if old is not None and (old is not model or not again_ok):
        raise AdvreconError(f"{where}: threat model {model.name!r} is already registered")
    _REGISTERED[model.name] = model


def _load() -> None:
    """Fill the registry once: shipped plug-ins, then entry points."""
    global _LOADED
    if _LOADED:
        return
    for name, module in SHIPPED.items():
        (model,) = _from_value(_import(module, f"shipped plug-in {name}"), module)
        _REGISTERED[model.name] = model
    _LOADED = True  # before the entry points: a bad one must not reload the shipped ones
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        where = f"entry point {ep.name} = {ep.value} (group {ENTRY_POINT_GROUP})"
        try:
            value = ep.load()
        except ImportError as exc:
            raise AdvreconError(f"{where}: cannot be loaded: {exc}") from None
        for model in _from_value(value, where):
            _add(model, where)


def threat_models() -> dict[str, ThreatModel]:
    """Every registered threat model: shipped ones first, then entry points, then the rest."""
    _load()
    return _REGISTERED


def register(model: ThreatModel) -> ThreatModel:
    """Add a threat model from Python; its section is then ``attacks.<name>`` of configs.

    Raises:
        AdvreconError: the name is taken by another threat model.
    """
    threat_models()
    _add(model, "register()", again_ok=False)
    return model


def unregister(name: str) -> None:
    """Remove a threat model added with :func:`register` (the shipped ones stay)."""
    if name in SHIPPED:
        raise AdvreconError(f"the shipped threat model {name!r} cannot be unregistered")
    threat_models().pop(name, None)


def load_plugins(modules: list[str] | tuple[str, ...], where: str = "plugins") -> list[str]:
    """Import the plug-in modules a config names and register their threat models.

    Registering the same module twice is harmless (the same object).

    Returns:
        The names of the threat models the modules hold.

    Raises:
        ConfigError: a module cannot be imported, holds no plug-in, or its name is taken.
    """
    threat_models()
    names = []
    for i, module in enumerate(modules):
        key = f"{where}[{i}]"
        try:
            found = _from_value(_import(module, key), f"{key}: {module}")
            for model in found:
                _add(model, f"{key}: {module}")
        except ConfigError:
            raise
        except AdvreconError as exc:
            raise ConfigError(str(exc)) from None
        names += [m.name for m in found]
    return names


def get_threat_model(name: str) -> ThreatModel:
    """The registered threat model ``name``; one-line error naming the known ones."""
    models = threat_models()
    if name not in models:
        raise AdvreconError(
            f"unknown attack {name!r}: registered threat models are {sorted(models)}"
        )
    return models[name]
