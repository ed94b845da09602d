"""The ``attacks:`` section and the ``plugins:`` key: one section per registered threat model.

The sections are the registry's (:func:`advrecon.attacks.registry.threat_models`): the shipped
threat models, those of installed packages (entry points) and those of the modules a config
names under ``plugins:``. :func:`load_config_plugins` imports those modules before the
``attacks:`` section is validated, so an external ``attacks.<name>`` section is validated
(and reported, ``attacks.<name>.<key>: ...``) exactly like a shipped one. Nothing here names a
threat model.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from advrecon.attacks.registry import load_plugins, threat_models
from advrecon.config_types import fail
from advrecon.errors import ConfigError
from advrecon.experiments.config_errors import problem

__all__ = ["AttacksConfig", "MODEL_NAME_KEYS", "load_config_plugins", "plugin_modules"]

#: Keys of an attack section (at any depth) whose values are names of the config's models.
MODEL_NAME_KEYS = ("models", "rules_on")


def plugin_modules(value: Any) -> tuple[str, ...]:
    """The ``plugins:`` value as module names (``None``: none; one string: a list of one).

    Raises:
        ConfigError: not a list of non-empty strings (the message names the key path).
    """
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"plugins: must be a list of module names, got {value!r}")
    for i, module in enumerate(value):
        if not isinstance(module, str) or not module.strip():
            raise ConfigError(f"plugins[{i}]: must be a module name (a string), got {module!r}")
    return tuple(value)


def load_config_plugins(value: Any) -> list[str]:
    """Import the modules of a config's ``plugins:`` and register their threat models.

    Returns:
        The names of the threat models the modules hold.

    Raises:
        ConfigError: one line naming the key path (``plugins[0]: cannot import plug-in module
            'x': No module named 'x'``): a module that cannot be imported, fails while being
            imported, holds no plug-in, or whose threat model's name is taken.
    """
    modules = plugin_modules(value)
    for i, module in enumerate(modules):
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # load_plugins names the key path and the reason
        except Exception as exc:  # the plug-in's own code failed: still one line
            reason = (str(exc).strip().splitlines() or [""])[0]
            raise ConfigError(
                f"plugins[{i}]: plug-in module {module!r} failed while being imported: "
                f"{type(exc).__name__}: {reason}"
            ) from None
    return load_plugins(modules) if modules else []


def _section(name: str, data: Any) -> Any:
    """Validate ``attacks.<name>`` with its threat model's section model."""
    try:
        return threat_models()[name].section.model_validate(data)
    except ValidationError as exc:
        path, message = problem(exc)
        raise fail(message, at=f"{name}.{path}" if path else name) from None


def _model_references(section: BaseModel, path: str) -> Iterator[tuple[str, str]]:
    """``(key path, model name)`` for every :data:`MODEL_NAME_KEYS` value in ``section``."""
    for key in type(section).model_fields:
        value = getattr(section, key)
        if isinstance(value, BaseModel):
            yield from _model_references(value, f"{path}.{key}")
        elif key in MODEL_NAME_KEYS and value:
            for i, name in enumerate(value):
                yield f"{path}.{key}[{i}]", name


class AttacksConfig(BaseModel):
    """The ``attacks:`` section: one section per registered threat model, at least one.

    Each registered name is an attribute (``attacks.<name>``; ``None`` when not configured),
    validated by the threat model's own section model.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, data: Any) -> dict[str, Any]:
        """Every registered name -> its validated section or ``None``; unknown keys rejected."""
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise fail(f"must be a mapping, got {type(data).__name__}")
        names = list(threat_models())
        for key in data:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(names)}"
                raise fail(f"unknown key; {hint}", at=str(key))
        sections = {n: None if data.get(n) is None else _section(n, data[n]) for n in names}
        if all(v is None for v in sections.values()):
            quoted = [f"'{n}'" for n in names]
            listed = ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]
            raise fail(f"configure at least one of {listed}")
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

    def model_references(self) -> Iterator[tuple[str, str]]:
        """``(attacks.<name>.<key>[i], model name)`` for every model a section names.

        The keys are :data:`MODEL_NAME_KEYS`, in the section's field order and at any depth
        (``attacks.<name>.tightness.models[0]``), sections in registry order.
        """
        for name, section in self.configured().items():
            yield from _model_references(section, f"attacks.{name}")
