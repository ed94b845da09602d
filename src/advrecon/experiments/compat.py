"""Everything that keeps older run folders and configs working, in one place.

Results tables of older run folders (read by the report, :func:`advrecon.report.tables.load_run`):

* :data:`OLD_NAMES`: column names of older tables -> today's names;
* :data:`OLD_BUDGET_NAMES`: the budget columns of tables written before the ``budget`` column
  -> the threat model whose budget each held (``budget`` is filled from them);
* :data:`ARRAY_RENAMES`: the array key an older executor used for the control image.

Configs of older run folders keep their hash (the run folder is ``<output>/<hash[:10]>``):

* :func:`without_later_keys`: keys added later are left out of a config's plain form at the
  value that reproduces the older code's results: unset later model keys (``lam``,
  ``iterations``, ``variant``), an empty ``plugins`` list, and what an attack section's
  ``dump_view`` classmethod leaves out;
* :func:`hash_view`: in the hash only, each attack section's ``hash_view`` classmethod (keys
  that only matter with some other keys' values) and its ``HASH_NEUTRAL`` values
  (``{key: value}``: the key at that value is left out).
"""

from __future__ import annotations

from typing import Any

from advrecon.attacks.registry import threat_models
from advrecon.experiments.config_models import LATER_KEYS
from advrecon.experiments.registry_views import RegistryView

__all__ = ["ARRAY_RENAMES", "OLD_BUDGET_NAMES", "OLD_NAMES", "hash_view", "without_later_keys"]

#: Column names of older run folders -> today's names.
OLD_NAMES = {
    "box_w": "region_width",
    "box_h": "region_height",
    "box_grown": "region_grown",
}
#: Array keys renamed when a unit's arrays are saved (an executor that still says "reference").
ARRAY_RENAMES = {"reference": "control"}
#: Budget columns of tables written before ``budget`` existed (then, only the first two shipped
#: threat models did); ``theta_max_deg`` is ``theta_max`` in degrees.
_OLD_BUDGET_COLUMNS = ("eta_percent", "theta_max_deg", "theta_max")


def _old_budget_names() -> dict[str, str]:
    """Older budget column -> the first registered threat model whose budget column it is."""
    owner: dict[str, str] = {}
    for name, threat in threat_models().items():  # registry order: shipped ones first
        owner.setdefault(threat.budget_column, name)
    columns = {c: c.removesuffix("_deg") for c in _OLD_BUDGET_COLUMNS}
    return {old: owner[now] for old, now in columns.items() if now in owner}


#: Older budget columns (dropped; ``budget`` is filled from them if it is missing) -> the
#: threat model whose rows they hold the budget of.
OLD_BUDGET_NAMES = RegistryView(_old_budget_names)


def without_later_keys(d: dict[str, Any]) -> dict[str, Any]:
    """A config's plain form without the keys added later at their neutral value (in place).

    Args:
        d: ``ExperimentConfig.model_dump()`` with only the configured attack sections.
    """
    if not d.get("plugins"):
        d.pop("plugins", None)
    for name, section in d["attacks"].items():
        cls = threat_models()[name].section
        if hasattr(cls, "dump_view"):
            d["attacks"][name] = cls.dump_view(section)
    for m in d["models"]:
        for key in LATER_KEYS:
            if m[key] is None:
                del m[key]
    return d


def hash_view(d: dict[str, Any]) -> dict[str, Any]:
    """The attack sections as the config hash sees them (in place; see the module doc)."""
    for name, section in d["attacks"].items():
        cls = threat_models()[name].section
        if hasattr(cls, "hash_view"):  # keys that only matter with some other keys' values
            section = d["attacks"][name] = cls.hash_view(section)
        for key, value in getattr(cls, "HASH_NEUTRAL", {}).items():
            if key in section and section[key] == value:
                del section[key]
    return d
