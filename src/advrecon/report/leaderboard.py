"""``advrecon leaderboard CARD_OR_RUN ...``: rank audited models from their ``card.json`` files.

A card (``card.json``, schema version 1, written next to the report of an ``advrecon audit``
run) summarises one model under one protocol: the clean metric and, per threat model, the
worst case with its 95 % CI, the random baseline, the drop, the attack's tightness, the share
of converged searches and a verdict. The leaderboard reads several cards and writes::

    leaderboard.md     Markdown tables
    leaderboard.html   one self-contained page (inline CSS, tables sortable on a header click)

Only like is ranked with like: cards are grouped by protocol (name, version, hash) and
acceleration, and each group gets its own section. Giving cards of more than one protocol is
a warning (an error with ``strict``). Within a group, two cards of the same model (same weights
hash, or same source) keep the later one, with a warning. Rows are ranked by the worst case,
descending: a higher worst case is a more robust model.
This module builds the data (plain numbers and strings); the layout of both files lives in the
Jinja2 templates ``report/templates/leaderboard.{md,html}.j2``.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from advrecon.errors import AdvreconError, InputFileError
from advrecon.files import atomic_write_text, os_errors
from advrecon.report.card_schema import SCHEMA_VERSION, VERDICTS

__all__ = ["make_leaderboard", "load_card", "build_sections", "render", "register"]
__all__ += ["LeaderboardWarning", "MixedProtocolsError"]

CARD_NAME = "card.json"

_NUM = (int, float)
_NONE = type(None)

#: Required fields of a card: dotted path -> accepted types.
_CARD_FIELDS: dict[str, tuple[type, ...]] = {
    "model": (dict,),
    "model.key": (str,),
    "model.source": (str,),
    "protocol": (dict,),
    "protocol.name": (str,),
    "protocol.version": (int,),
    "protocol.hash": (str,),
    "acceleration": _NUM,
    "metric": (str,),
    "clean": (dict,),
    "threat_models": (list,),
}

#: Required fields of each ``threat_models`` entry (a value may be null where noted).
_THREAT_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "clean": (*_NUM, _NONE),
    "worst_case": (*_NUM, _NONE),
    "ci95": (list, _NONE),
    "random": (*_NUM, _NONE),
    "drop": (*_NUM, _NONE),
    "tightness": (*_NUM, _NONE),
    "converged": (*_NUM, _NONE),
    "verdict": (str, _NONE),
}


class LeaderboardWarning(UserWarning):
    """Cards of several protocols were given, or one model came twice (the later card kept)."""


class MixedProtocolsError(AdvreconError):
    """Cards of more than one protocol were given and mixing was refused (``--strict``)."""


# ----------------------------------------------------------------------------- reading cards


def card_path(path: str | Path) -> Path:
    """The ``card.json`` that ``path`` names: the file itself, or the one in a run folder.

    Raises:
        InputFileError: ``path`` is neither a file nor a folder holding ``card.json``.
    """
    path = Path(path)
    if path.is_dir():
        if (path / CARD_NAME).is_file():
            return path / CARD_NAME
        raise InputFileError(path, f"no {CARD_NAME} in this folder (not an audited run folder)")
    if path.is_file():
        return path
    raise InputFileError(path, f"no such file or folder (expected {CARD_NAME} or a run folder)")


def load_card(path: str | Path) -> dict[str, Any]:
    """Read and check one card.

    Args:
        path: A ``card.json`` file or a run folder holding one.

    Returns:
        The card as parsed, with ``"path"`` (the file read, as a string) added.

    Raises:
        InputFileError: unreadable file, invalid JSON, wrong or missing ``schema_version``,
            or a missing / mistyped field (the message names the file and the field).
    """
    file = card_path(path)
    try:
        card = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(file, f"cannot read the card ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputFileError(file, "not a text file (expected a JSON card)") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InputFileError(file, f"not valid JSON ({exc.msg} at {where})") from None
    check_card(card, file)
    return {**card, "path": str(file)}


def check_card(card: Any, file: Path) -> None:
    """Raise :class:`InputFileError` naming ``file`` and the field if ``card`` breaks the schema."""
    if not isinstance(card, dict):
        raise InputFileError(file, "not a card (the JSON is not an object)")
    if "schema_version" not in card:
        raise InputFileError(file, "missing field schema_version (not an advrecon card?)")
    version = card["schema_version"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise InputFileError(
            file, f"schema_version is {version!r}; this advrecon reads {SCHEMA_VERSION}"
        )
    for field, types in _CARD_FIELDS.items():
        _check_field(card, field, types, file)
    _check_field(card["clean"], card["metric"], (*_NUM, _NONE), file, prefix="clean.")
    if not card["threat_models"]:
        raise InputFileError(file, "field threat_models is empty")
    for i, tm in enumerate(card["threat_models"]):
        if not isinstance(tm, dict):
            raise InputFileError(file, f"field threat_models[{i}] is not an object")
        for field, types in _THREAT_FIELDS.items():
            _check_field(tm, field, types, file, prefix=f"threat_models[{i}].")
        ci = tm["ci95"]  # two finite numbers (type(), not isinstance(): no JSON true/false)
        if ci is not None and not (
            len(ci) == 2 and all(type(v) in _NUM and math.isfinite(v) for v in ci)
        ):
            raise InputFileError(file, f"field threat_models[{i}].ci95 is not [low, high]")
        if tm["verdict"] is not None and tm["verdict"] not in VERDICTS:
            raise InputFileError(
                file,
                f"field threat_models[{i}].verdict is {tm['verdict']!r}; expected one of "
                f"{', '.join(VERDICTS)}",
            )


def _check_field(
    obj: dict, field: str, types: tuple[type, ...], file: Path, prefix: str = ""
) -> None:
    """Check that dotted ``field`` of ``obj`` exists and has one of ``types``."""
    value: Any = obj
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            raise InputFileError(file, f"missing field {prefix}{field}")
        value = value[part]
    is_bool = isinstance(value, bool)  # JSON true/false is not a number here
    if not isinstance(value, types) or (is_bool and bool not in types):
        names = " or ".join("null" if t is _NONE else t.__name__ for t in types)
        raise InputFileError(file, f"field {prefix}{field} is {value!r}; expected {names}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputFileError(file, f"field {prefix}{field} is {value!r}; expected a finite number")


# ----------------------------------------------------------------------------- ranking


def protocol_label(protocol: dict[str, Any]) -> str:
    """``quick v1 (a1b2c3d4e5f6)``: how a protocol is named in messages and headings."""
    return f"{protocol['name']} v{protocol['version']} ({protocol['hash']})"


def _same_model(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same model identity: the same weights hash (when both have one) or the same source."""
    sha_a, sha_b = a["model"].get("weights_sha256"), b["model"].get("weights_sha256")
    return bool(sha_a) and sha_a == sha_b or a["model"]["source"] == b["model"]["source"]


def group_cards(
    cards: Sequence[dict[str, Any]], strict: bool = False
) -> list[list[dict[str, Any]]]:
    """Cards grouped by protocol and acceleration (first-seen order), one card per model.

    Args:
        cards: Checked cards (:func:`load_card`), in the order given.
        strict: Refuse cards of more than one protocol instead of warning.

    Returns:
        One list of cards per (protocol name, version, hash, acceleration).

    Raises:
        MixedProtocolsError: more than one protocol and ``strict``.
    """
    labels = list(dict.fromkeys(protocol_label(c["protocol"]) for c in cards))
    if len(labels) > 1:
        mixed = f"the cards come from {len(labels)} protocols ({', '.join(labels)})"
        if strict:
            raise MixedProtocolsError(
                f"{mixed}; they cannot be ranked together (leave out --strict to rank each "
                "protocol on its own)"
            )
        warnings.warn(f"{mixed}; each is ranked on its own", LeaderboardWarning, stacklevel=3)
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for card in cards:
        p = card["protocol"]
        group = groups.setdefault((p["name"], p["version"], p["hash"], card["acceleration"]), [])
        for old in [c for c in group if _same_model(c, card)]:
            same = f"{old['path']} and {card['path']} hold the same model ({card['model']['key']})"
            where = f"protocol {protocol_label(card['protocol'])}"
            warnings.warn(f"{same} under {where}; the later card is kept", LeaderboardWarning, 3)
            group.remove(old)
        group.append(card)
    return list(groups.values())


def competition_ranks(values: Sequence[float | None]) -> list[int | None]:
    """Ranks of ``values``, highest first; ties share a rank (1, 2, 2, 4); missing: ``None``."""
    present = sorted((v for v in values if v is not None), reverse=True)
    return [None if v is None else present.index(v) + 1 for v in values]


def _threat_models(group: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The threat models of a group in the cards' order (name, title, budget label)."""
    seen: dict[str, dict[str, Any]] = {}
    for card in group:
        for tm in card["threat_models"]:
            title = tm.get("title") or tm["name"]
            entry = {"name": tm["name"], "title": title, "budget_label": tm.get("budget_label")}
            seen.setdefault(tm["name"], entry)
    return list(seen.values())


def _entry(card: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((tm for tm in card["threat_models"] if tm["name"] == name), None)


def _model(card: dict[str, Any]) -> dict[str, Any]:
    m = card["model"]
    return {"key": m["key"], "source": m["source"], "path": card["path"]}


def _ranked_rows(group: Sequence[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """One row per card of ``group`` for threat model ``name``, ranked by worst case."""
    rows = []
    for card in group:
        tm = _entry(card, name) or {}
        rows.append({**{f: tm.get(f) for f in (*_THREAT_FIELDS, "n")}, **_model(card)})
    for row, rank in zip(rows, competition_ranks([r["worst_case"] for r in rows]), strict=True):
        row["rank"] = rank
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0))


def _overview(
    group: Sequence[dict[str, Any]], tables: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Model x threat model worst cases (clean first), ordered by the mean rank."""
    rows = []
    for card in group:
        ranks = [r["rank"] for t in tables for r in t["rows"] if r["path"] == card["path"]]
        ranks = [r for r in ranks if r is not None]
        worst = [(_entry(card, t["name"]) or {}).get("worst_case") for t in tables]
        mean_rank = sum(ranks) / len(ranks) if ranks else None
        clean = card["clean"].get(card["metric"])
        rows.append({**_model(card), "clean": clean, "worst": worst, "mean_rank": mean_rank})
    return sorted(rows, key=lambda r: (r["mean_rank"] is None, r["mean_rank"] or 0.0))


def build_sections(cards: Sequence[dict[str, Any]], strict: bool = False) -> list[dict[str, Any]]:
    """The leaderboard's data: one section per protocol and acceleration.

    Args:
        cards: Checked cards (:func:`load_card`), in the order given.
        strict: Refuse cards of more than one protocol (see :func:`group_cards`).

    Returns:
        One dict per section: ``protocol`` (name, version, hash), ``label``, ``acceleration``,
        ``metric``, ``anchor`` (an HTML id), ``tables`` (per threat model: ``name``, ``title``,
        ``budget_label`` and the ranked ``rows``) and ``overview`` (rows with ``clean``,
        ``worst`` in the tables' order, ``mean_rank``). Values are plain numbers, strings
        or ``None``; formatting is the templates' work.
    """
    sections = []
    for i, group in enumerate(group_cards(cards, strict=strict)):
        first = group[0]
        tables = [{**tm, "rows": _ranked_rows(group, tm["name"])} for tm in _threat_models(group)]
        sections.append(
            {
                "protocol": dict(first["protocol"]),
                "label": protocol_label(first["protocol"]),
                "acceleration": first["acceleration"],
                "metric": first["metric"],
                "anchor": f"section-{i + 1}",
                "tables": tables,
                "overview": _overview(group, tables),
            }
        )
    return sections


# ----------------------------------------------------------------------------- output


def render(sections: Sequence[dict[str, Any]], title: str | None = None) -> tuple[str, str]:
    """The Markdown and the HTML of a leaderboard (:func:`build_sections`).

    Returns:
        ``(markdown, html)``.
    """
    from advrecon._version import __version__
    from advrecon.report.templates import render as fill

    context = {
        "title": title or "advrecon leaderboard",
        "generator": f"advrecon {__version__}",
        "sections": list(sections),
        "verdicts": VERDICTS,
    }
    return fill("leaderboard.md.j2", **context), fill("leaderboard.html.j2", **context)


def make_leaderboard(
    paths: Sequence[str | Path],
    output_dir: str | Path,
    title: str | None = None,
    strict: bool = False,
) -> tuple[Path, Path]:
    """Rank the cards at ``paths`` and write ``leaderboard.md`` and ``leaderboard.html``.

    Every card is read and checked, and both files are rendered, before anything is written;
    each file is then replaced atomically. A bad card leaves ``output_dir`` untouched.

    Args:
        paths: ``card.json`` files or run folders holding one; later ones replace earlier
            cards of the same model and protocol.
        output_dir: Folder of the two files (created if missing).
        title: Heading of both files (default ``advrecon leaderboard``).
        strict: Refuse cards of more than one protocol instead of warning.

    Returns:
        ``(md_path, html_path)``.

    Raises:
        InputFileError: a path is not a card or run folder, or a card is malformed.
        MixedProtocolsError: several protocols and ``strict``.
        StorageError: the output cannot be written.
    """
    if not paths:
        raise AdvreconError("no cards given: name card.json files or audited run folders")
    cards = [load_card(p) for p in paths]
    md, page = render(build_sections(cards, strict=strict), title)
    out = Path(output_dir)
    with os_errors("create the leaderboard folder", out):
        out.mkdir(parents=True, exist_ok=True)
    md_path, html_path = out / "leaderboard.md", out / "leaderboard.html"
    atomic_write_text(md_path, md, "the leaderboard")
    atomic_write_text(html_path, page, "the leaderboard")
    return md_path, html_path


# ----------------------------------------------------------------------------- command line


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``leaderboard`` to the ``advrecon`` command line."""
    p = subparsers.add_parser(
        "leaderboard",
        help="rank audited models from their card.json files",
        description=(
            "Rank models from the card.json files of audited runs. Cards are grouped by "
            "protocol and acceleration; each group gets its own section with one table per "
            "threat model, ranked by worst case (higher = more robust). Writes leaderboard.md "
            "and leaderboard.html (self-contained, sortable tables). Cards of several "
            "protocols are a warning (an error with --strict); of two cards of the same model "
            "and protocol the later is kept."
        ),
    )
    p.add_argument(
        "cards", nargs="+", type=Path, metavar="CARD_OR_RUN", help="card.json or a run folder"
    )
    p.add_argument(
        "--output", type=Path, default=Path("."), help="output folder (default: current)"
    )
    p.add_argument("--title", default=None, help="heading (default: advrecon leaderboard)")
    p.add_argument("--strict", action="store_true", help="refuse cards of more than one protocol")
    p.set_defaults(func=cmd_leaderboard)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Run ``advrecon leaderboard``: write both files and print their paths."""
    md_path, html_path = make_leaderboard(args.cards, args.output, args.title, args.strict)
    print(f"leaderboard: {md_path}")
    print(f"leaderboard: {html_path}")
    return 0
