"""Read-only mappings computed from the threat-model registry on each access.

The results schema's columns and budget units, and the budget columns of older run folders,
depend on which threat models are registered, and plug-ins may be registered after this
package is imported (a config's ``plugins:``, :func:`advrecon.attacks.registry.register`). A
:class:`RegistryView` is a mapping that asks the registry each time it is read, so it always
holds every registered plug-in, and importing a module that defines one imports no plug-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["RegistryView"]


class RegistryView(Mapping):
    """A read-only mapping whose items are ``build()`` at the time of each access.

    Args:
        build: Returns the current items (called on every lookup, iteration or ``len``).
    """

    def __init__(self, build: Callable[[], Mapping[str, Any]]) -> None:
        self._build = build

    def __getitem__(self, key: str) -> Any:
        return self._build()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def __contains__(self, key: object) -> bool:
        return key in self._build()

    def __repr__(self) -> str:
        return f"RegistryView({dict(self._build())!r})"
