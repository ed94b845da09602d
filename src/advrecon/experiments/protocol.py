"""Audit protocols: named, versioned, hashed sets of budgets, searches, grids, slices and seeds.

A protocol is everything of an experiment config except the model and the data: the slice
selection, the masks, the targets, the seed, every threat model's section (budgets, search,
restarts, grid, tightness check), the budget each threat model's headline score is read at, and
the verdict thresholds. Two audits under the same protocol hash ran the same attacks with the
same budgets on the same kind of data, so their numbers compare.

Shipped protocols live in ``advrecon/protocols/<name>.yaml``:

* ``quick``: minutes on a 2-core CPU on the synthetic knee-like set;
* ``knee-v1``: the full study on fastMRI knee with fastMRI+ boxes, every shipped threat model.

A shipped protocol is immutable: its hash is recorded in :data:`KNOWN_HASHES`, and a file that no
longer matches is refused (a changed protocol needs a new version). A user's own protocol is any
YAML file of the same form, passed by path.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from advrecon.errors import ConfigError, InputFileError

__all__ = [
    "KNOWN_HASHES",
    "PROTOCOL_NAMES",
    "Protocol",
    "Verdict",
    "load_protocol",
]

#: The shipped protocols.
PROTOCOL_NAMES = ("quick", "knee-v1")

#: ``(name, version) -> hash`` of every shipped protocol version: the files are immutable.
KNOWN_HASHES: dict[tuple[str, int], str] = {
    ("quick", 1): "6e5e10dd1a65",
    ("knee-v1", 1): "3945207711e5",
}

_KEYS = {
    "protocol", "version", "description", "requires", "seed", "slices", "masks", "targets",
    "attacks", "headline", "verdict",
}  # fmt: skip
_REQUIRED = ("protocol", "version", "attacks", "headline")


@dataclass(frozen=True)
class Verdict:
    """Verdict thresholds on the region-SSIM drop ``clean - worst case`` (its 95 % interval).

    ``robust``: the interval lies below ``robust_below``; ``vulnerable``: it lies above
    ``vulnerable_above``; ``inconclusive`` otherwise.
    """

    robust_below: float = 0.02
    vulnerable_above: float = 0.05

    def of(self, low: float, high: float) -> str:
        """The verdict of a drop whose 95 % interval is ``[low, high]`` (NaN: inconclusive)."""
        if high < self.robust_below:
            return "robust"
        if low > self.vulnerable_above:
            return "vulnerable"
        return "inconclusive"


@dataclass(frozen=True)
class Protocol:
    """One protocol (see the module docstring).

    Attributes:
        name: ``quick``, ``knee-v1`` or a user's name.
        version: Integer version.
        description: One paragraph for people (does not enter the hash).
        settings: The experiment-config keys: ``seed``, ``slices``, ``masks``, ``targets``,
            ``attacks`` (each a plain mapping as in a config).
        headline: Threat model -> the budget its headline score is read at.
        verdict: The verdict thresholds.
        requires: ``data_kind`` (``fastmri`` / ``synthetic``) and ``annotations`` (bool) the
            data must meet (empty: any).
        source: The file it was read from.
    """

    name: str
    version: int
    description: str
    settings: dict[str, Any]
    headline: dict[str, float]
    verdict: Verdict = Verdict()
    requires: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def hash(self) -> str:
        """First 12 hex digits of the SHA-256 of everything but the description and source."""
        blob = json.dumps(self.hashed(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def hashed(self) -> dict[str, Any]:
        """What enters the hash (plain JSON)."""
        return {
            "protocol": self.name,
            "version": self.version,
            "requires": self.requires,
            **self.settings,
            "headline": self.headline,
            "verdict": vars(self.verdict),
        }

    def identity(self) -> dict[str, Any]:
        """``{"name", "version", "hash"}``: what a card and a leaderboard show."""
        return {"name": self.name, "version": self.version, "hash": self.hash}

    def experiment(self, data: dict, model: dict, output: str) -> dict[str, Any]:
        """An experiment config mapping: this protocol's settings, one model, the data."""
        return {
            "name": f"audit-{self.name}-v{self.version}",
            "output": output,
            "data": data,
            "models": [model],
            **json.loads(json.dumps(self.settings)),  # a deep copy
        }


def _shipped_path(name: str) -> Path:
    return Path(str(resources.files("advrecon") / "protocols" / f"{name}.yaml"))


def load_protocol(name_or_path: str | Path) -> Protocol:
    """A shipped protocol by name (``quick``, ``knee-v1``) or a protocol YAML file by path.

    Raises:
        ConfigError: unknown name, a key missing or unknown, a headline budget the threat
            model does not run, or a shipped file edited without a new version.
        InputFileError: the file cannot be read or is not YAML.
    """
    text = str(name_or_path)
    shipped = text in PROTOCOL_NAMES
    path = _shipped_path(text) if shipped else Path(text)
    if not shipped and not path.is_file():
        raise ConfigError(
            f"unknown protocol {text!r}: give one of {', '.join(PROTOCOL_NAMES)} or a protocol "
            "YAML file"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot be read ({exc})") from None
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    protocol = _parse(raw, path)
    known = KNOWN_HASHES.get((protocol.name, protocol.version))
    if shipped and known != protocol.hash:
        raise ConfigError(
            f"{path}: protocol {protocol.name} version {protocol.version} was edited (hash "
            f"{protocol.hash}, recorded {known}); a changed protocol needs a new version"
        )
    return protocol


def _parse(raw: Any, path: Path) -> Protocol:
    """The :class:`Protocol` of a loaded YAML mapping (one-line errors with the key)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a protocol file is a mapping with keys {sorted(_KEYS)}")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown protocol key (known: {sorted(_KEYS)})")
    for key in _REQUIRED:
        if key not in raw:
            raise ConfigError(f"{path}: {key}: required")
    version = raw["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConfigError(f"{path}: version: must be a positive integer, got {version!r}")
    attacks, headline = raw["attacks"], raw["headline"]
    if not isinstance(attacks, dict) or not attacks:
        raise ConfigError(f"{path}: attacks: must name at least one threat model")
    if not isinstance(headline, dict) or set(headline) != set(attacks):
        raise ConfigError(
            f"{path}: headline: give one budget for each threat model of attacks "
            f"({', '.join(attacks)})"
        )
    for name, budget in headline.items():
        _check_headline(path, name, budget, attacks[name])
    try:
        verdict = Verdict(**(raw.get("verdict") or {}))
    except TypeError as exc:
        raise ConfigError(f"{path}: verdict: {exc}") from None
    settings = {k: raw[k] for k in ("seed", "slices", "masks", "targets", "attacks") if k in raw}
    return Protocol(
        name=str(raw["protocol"]),
        version=version,
        description=" ".join(str(raw.get("description", "")).split()),
        settings=settings,
        headline={k: float(v) for k, v in headline.items()},
        verdict=verdict,
        requires=dict(raw.get("requires") or {}),
        source=str(path),
    )


def _check_headline(path: Path, name: str, budget: Any, section: Any) -> None:
    """The headline budget is a number that one of the section's budget lists holds."""
    if not isinstance(budget, (int, float)) or isinstance(budget, bool):
        raise ConfigError(f"{path}: headline.{name}: must be a number, got {budget!r}")
    lists = [v for v in (section or {}).values() if isinstance(v, list)]
    if not any(
        float(budget) in [float(x) for x in v if isinstance(x, (int, float))] for v in lists
    ):
        raise ConfigError(
            f"{path}: headline.{name}: {budget:g} is not one of attacks.{name}'s budgets"
        )
