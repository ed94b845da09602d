"""Pydantic validation errors -> one-line config messages with the key path.

``attacks.noise.eta[2]: must be >= 0``: the path of the first problem (list indices in
brackets; a section's own checks extend it with :func:`advrecon.config_types.fail` ``at``) and
a short sentence saying what is wrong.
"""

from __future__ import annotations

from pydantic import ValidationError

from advrecon.errors import ConfigError

__all__ = ["config_error", "problem"]

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


def problem(exc: ValidationError) -> tuple[str, str]:
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


def config_error(exc: ValidationError) -> ConfigError:
    """The first problem of a pydantic error as ``key.path[i]: what is wrong``."""
    path, message = problem(exc)
    return ConfigError(f"{path or 'config'}: {message}")
