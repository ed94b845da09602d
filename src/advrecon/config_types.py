"""Shared pydantic pieces of config sections (neutral: no attacks / experiments imports).

The experiment config (:mod:`advrecon.experiments.config`) and the threat models' own config
sections (``NoiseAttackConfig`` in :mod:`advrecon.attacks.noise`, ``RotationAttackConfig`` in
:mod:`advrecon.attacks.rotation`) build on :class:`Section` and these value types, so that every
problem is reported the same way: ``key.path[i]: what is wrong``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    model_validator,
)
from pydantic import Strict as _Strict
from pydantic_core import PydanticCustomError

__all__ = [
    "Budgets",
    "ConfigWarning",
    "Count",
    "NonNegative",
    "Positive",
    "PositiveInt",
    "Section",
    "Text",
    "choice",
    "fail",
    "list_of",
    "one_of",
]


class ConfigWarning(UserWarning):
    """A config value is valid but probably not what was meant (``eta`` above 100 %)."""


def fail(problem: str, at: str = "") -> PydanticCustomError:
    """A validation error whose message is ``problem``; ``at`` extends the key path (``.step``)."""
    return PydanticCustomError("config", problem, {"at": at} if at else None)


def _as_list(v: Any) -> Any:
    """A scalar where a list is expected counts as a list of one (``eta: 2.5``)."""
    return (v,) if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)) else tuple(v)


def _unique(v: tuple) -> tuple:
    if len(set(v)) != len(v):
        raise fail("contains duplicate values")
    return v


def one_of(choices: Sequence[str] | Callable[[], Sequence[str]]) -> Callable[[str], str]:
    """Check that a string is one of ``choices`` (a callable: looked up on use)."""

    def check(v: str) -> str:
        names = tuple(choices() if callable(choices) else choices)
        if v not in names:
            close = difflib.get_close_matches(v, names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise fail(f"must be one of {', '.join(names)}, got '{v}'{hint}")
        return v

    return check


def choice(choices: Sequence[str] | Callable[[], Sequence[str]]) -> Any:
    """A strict string type that must be one of ``choices``."""
    return Annotated[StrictStr, AfterValidator(one_of(choices))]


def list_of(item: Any, unique: bool = True) -> Any:
    """A non-empty list (a scalar is a list of one) of ``item``, as a tuple."""
    items = Annotated[tuple[item, ...], BeforeValidator(_as_list), Field(min_length=1)]
    return Annotated[items, AfterValidator(_unique)] if unique else items


#: A non-empty string; numbers and paths are written as text (``root: 2022`` is ``"2022"``).
Text = Annotated[
    StrictStr, BeforeValidator(lambda v: v if v is None else str(v)), Field(min_length=1)
]
Count = Annotated[StrictInt, Field(ge=0)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]
#: Finite numbers (ints are accepted and stored as floats; ``allow_inf_nan`` is off).
NonNegative = Annotated[float, _Strict(), Field(ge=0)]
Positive = Annotated[float, _Strict(), Field(gt=0)]
Budgets = list_of(NonNegative)


class Section(BaseModel):
    """A frozen config section; an unknown key is rejected with a did-you-mean."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        """``None`` is an empty section; keys must be fields (or one of their aliases)."""
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise fail(f"must be a mapping, got {type(data).__name__}")
        allowed = [
            key
            for name, f in cls.model_fields.items()
            for key in (
                f.validation_alias.choices
                if isinstance(f.validation_alias, AliasChoices)
                else [name]
            )
        ]
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
                raise fail(f"unknown key; {hint}", at=str(key))
        return data
