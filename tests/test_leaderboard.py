"""The leaderboard from hand-made cards: ranking, grouping by protocol, duplicates, bad cards,
the HTML page (sortable, escaped) and the Markdown tables (well formed)."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest

from advrecon.cli import main
from advrecon.errors import InputFileError
from advrecon.report.leaderboard import (
    LeaderboardWarning,
    MixedProtocolsError,
    build_sections,
    competition_ranks,
    load_card,
    make_leaderboard,
)

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"name": "quick", "version": 1, "hash": "a1b2c3d4e5f6"}
KNEE = {"name": "knee-v1", "version": 1, "hash": "0f0f0f0f0f0f"}


def _threat(name: str, worst: float | None, **kw) -> dict:
    entry = {
        "name": name,
        "title": f"{name} title",
        "budget": 1.0,
        "budget_label": f"{name} budget",
        "clean": 0.8,
        "worst_case": worst,
        "ci95": None if worst is None else [worst - 0.02, worst + 0.02],
        "random": 0.79,
        "drop": None if worst is None else 0.8 - worst,
        "n": 6,
        "tightness": 0.004,
        "converged": 1.0,
        "verdict": "vulnerable",
    }
    return {**entry, **kw}


def _card(key: str, worst: dict[str, float | None], protocol=QUICK, acc=4, **model) -> dict:
    """A schema-1 card of model ``key`` with the given worst case per threat model."""
    return {
        "schema_version": 1,
        "generator": "advrecon 0.1.0",
        "model": {"name": key, "key": key, "source": f"ckpt/{key}.pt", "weights_sha256": None}
        | model,
        "data": {"kind": "synthetic", "root": "data", "volumes": 6, "slices": 6, "regions": 6},
        "acceleration": acc,
        "mask": {"type": "random", "center_fraction": 0.08, "seed": "per_volume"},
        "protocol": dict(protocol),
        "run": {"config_hash": "0123456789", "units": 12, "complete": True},
        "metric": "region_ssim",
        "clean": {"region_ssim": 0.8, "region_psnr": 27.0, "image_ssim": 0.81},
        "threat_models": [_threat(name, w) for name, w in worst.items()],
    }


def _write(tmp_path: Path, name: str, card: dict | str, as_run: bool = False) -> Path:
    """Write ``card`` as ``tmp_path/name.json`` (or ``tmp_path/name/card.json`` for a run)."""
    path = tmp_path / name / "card.json" if as_run else tmp_path / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(card if isinstance(card, str) else json.dumps(card), encoding="utf-8")
    return path.parent if as_run else path


def _sections(tmp_path: Path, *cards: dict) -> list[dict]:
    return build_sections([load_card(_write(tmp_path, f"c{i}", c)) for i, c in enumerate(cards)])


def _md_tables(md: str) -> list[list[list[str]]]:
    """The Markdown tables of ``md``: rows of cells, split at unescaped pipes."""
    tables, current = [], []
    for line in [*md.splitlines(), ""]:
        if line.startswith("|"):
            current.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif current:
            tables.append(current)
            current = []
    return tables


# ----------------------------------------------------------------------------- ranking


def test_competition_ranks_share_ties_and_leave_missing_out():
    assert competition_ranks([0.5, 0.7, 0.7, None, 0.6]) == [4, 1, 1, None, 3]


def test_rows_are_ranked_by_worst_case_descending_per_threat_model(tmp_path):
    cards = (
        _card("a", {"noise": 0.50, "rotation": 0.90}),
        _card("b", {"noise": 0.70, "rotation": 0.60}),
        _card("c", {"noise": 0.60, "rotation": None}),
    )
    (section,) = _sections(tmp_path, *cards)
    noise, rotation = section["tables"]
    assert (noise["name"], rotation["name"]) == ("noise", "rotation")  # the cards' order
    assert [(r["rank"], r["key"]) for r in noise["rows"]] == [(1, "b"), (2, "c"), (3, "a")]
    assert [(r["rank"], r["key"]) for r in rotation["rows"]] == [(1, "a"), (2, "b"), (None, "c")]
    assert noise["rows"][0]["ci95"] == pytest.approx([0.68, 0.72])
    # overview: mean rank a (3+1)/2 = 2, b (1+2)/2 = 1.5, c 2 (rotation missing): b first
    overview = section["overview"]
    assert [r["key"] for r in overview] == ["b", "a", "c"]
    assert overview[0]["worst"] == [0.70, 0.60] and overview[0]["clean"] == 0.8
    assert overview[2]["worst"] == [0.60, None]


def test_markdown_and_html_show_the_ranking_with_three_decimals(tmp_path):
    paths = [
        _write(tmp_path, "a", _card("weak", {"noise": 0.5})),
        _write(tmp_path, "b", _card("strong", {"noise": 0.71234, "rotation": None})),
    ]
    md_path, html_path = make_leaderboard(paths, tmp_path / "out", title="Knee models")
    md = md_path.read_text(encoding="utf-8")
    assert md.startswith("# Knee models")
    assert md.index("| 1 | strong |") < md.index("| 2 | weak |")
    assert "| 0.712 [0.692, 0.732] |" in md
    # rotation: null for "strong", absent from "weak": no rank, dashes
    assert "| — | strong | ckpt/strong.pt | 0.800 | — | 0.790 | — | 0.004 | 1.000 |" in md
    assert "| — | weak | ckpt/weak.pt | — | — | — | — | — | — | — |" in md
    assert "quick v1 (a1b2c3d4e5f6)" in md and "4× acceleration" in md
    page = html_path.read_text(encoding="utf-8")
    assert "<title>Knee models</title>" in page and page.index("strong") < page.index("weak")


def test_markdown_tables_have_the_same_number_of_cells_in_every_row(tmp_path):
    cards = [
        _card("pipe|model", {"noise": 0.6, "rotation": 0.7}),
        _card("plain", {"noise": 0.5, "rotation": None}),
    ]
    md_path, _ = make_leaderboard(
        [_write(tmp_path, f"c{i}", c) for i, c in enumerate(cards)], tmp_path
    )
    tables = _md_tables(md_path.read_text(encoding="utf-8"))
    assert len(tables) == 3  # overview + one per threat model
    for table in tables:
        assert len({len(row) for row in table}) == 1, table
        assert all(re.fullmatch(r":?-+:?", c) for c in table[1])  # the header rule
        assert len(table) == 2 + 2
    assert tables[1][2][1] == "pipe\\|model"


# ----------------------------------------------------------------------------- grouping


def test_two_protocols_make_two_sections_with_a_warning(tmp_path):
    with pytest.warns(LeaderboardWarning, match=r"2 protocols \(quick v1 .*knee-v1 v1 "):
        sections = _sections(
            tmp_path,
            _card("a", {"noise": 0.5}),
            _card("b", {"noise": 0.9}, protocol=KNEE),
            _card("c", {"noise": 0.6}),
        )
    assert [s["protocol"]["name"] for s in sections] == ["quick", "knee-v1"]
    assert [[r["key"] for r in s["tables"][0]["rows"]] for s in sections] == [["c", "a"], ["b"]]


def test_same_protocol_name_with_another_hash_is_another_protocol(tmp_path):
    other = {**QUICK, "hash": "ffffffffffff"}
    with pytest.warns(LeaderboardWarning, match="2 protocols"):
        sections = _sections(
            tmp_path, _card("a", {"noise": 0.5}), _card("b", {"noise": 0.6}, other)
        )
    assert len(sections) == 2


def test_accelerations_are_separate_sections_without_a_warning(tmp_path, recwarn):
    sections = _sections(tmp_path, _card("a", {"noise": 0.5}), _card("a", {"noise": 0.4}, acc=8))
    assert [s["acceleration"] for s in sections] == [4, 8]
    assert not [w for w in recwarn if w.category is LeaderboardWarning]


def test_cli_warns_about_mixed_protocols_and_writes_both_sections(tmp_path, capsys):
    a = _write(tmp_path, "a", _card("a", {"noise": 0.5}), as_run=True)
    b = _write(tmp_path, "b", _card("b", {"noise": 0.6}, protocol=KNEE), as_run=True)
    with pytest.warns(LeaderboardWarning, match="quick v1 .* knee-v1 v1"):
        assert main(["leaderboard", str(a), str(b), "--output", str(tmp_path / "lb")]) == 0
    assert "leaderboard.html" in capsys.readouterr().out
    md = (tmp_path / "lb" / "leaderboard.md").read_text(encoding="utf-8")
    assert md.count("\n## Protocol ") == 2


def test_strict_refuses_mixed_protocols_and_writes_nothing(tmp_path, capsys):
    a = _write(tmp_path, "a", _card("a", {"noise": 0.5}))
    b = _write(tmp_path, "b", _card("b", {"noise": 0.6}, protocol=KNEE))
    out = tmp_path / "lb"
    assert main(["leaderboard", str(a), str(b), "--output", str(out), "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("advrecon: error: ") and err.count("\n") == 1
    assert "quick v1 (a1b2c3d4e5f6)" in err and "knee-v1 v1 (0f0f0f0f0f0f)" in err
    assert not out.exists()
    with pytest.raises(MixedProtocolsError):
        make_leaderboard([a, b], out, strict=True)


# ----------------------------------------------------------------------------- duplicates


@pytest.mark.parametrize(
    "second",
    [
        {"key": "unet-again"},  # same source
        {"source": "elsewhere/copy.pt", "weights_sha256": "ab" * 32},  # same weights
    ],
)
def test_the_later_card_of_one_model_is_kept_with_a_warning(tmp_path, second):
    first = _card("unet", {"noise": 0.5}, weights_sha256="ab" * 32)
    later = _card("unet", {"noise": 0.4}, weights_sha256="ab" * 32) | {}
    later["model"] = {**later["model"], **second}
    other = _card("varnet", {"noise": 0.6})
    with pytest.warns(LeaderboardWarning, match=r"c0\.json and .*c2\.json hold the same model"):
        (section,) = _sections(tmp_path, first, other, later)
    rows = section["tables"][0]["rows"]
    assert [(r["key"], r["worst_case"]) for r in rows] == [
        ("varnet", 0.6),
        (later["model"]["key"], 0.4),
    ]


def test_different_weights_from_different_sources_are_two_models(tmp_path, recwarn):
    (section,) = _sections(
        tmp_path,
        _card("a", {"noise": 0.5}, weights_sha256="aa" * 32),
        _card("b", {"noise": 0.6}, weights_sha256="bb" * 32),
        _card("c", {"noise": 0.7}),  # no hash
    )
    assert len(section["overview"]) == 3
    assert not [w for w in recwarn if w.category is LeaderboardWarning]


# ----------------------------------------------------------------------------- bad cards


def _without(card: dict, dotted: str) -> dict:
    obj = card
    *parents, last = dotted.split(".")
    for p in parents:
        obj = obj[int(p)] if isinstance(obj, list) else obj[p]
    del obj[last]
    return card


def _with(card: dict, dotted: str, value) -> dict:
    obj = card
    *parents, last = dotted.split(".")
    for p in parents:
        obj = obj[int(p)] if isinstance(obj, list) else obj[p]
    obj[last] = value
    return card


def _good() -> dict:
    return _card("m", {"noise": 0.5})


BAD = {
    "invalid JSON": ('{"schema_version": 1,', r"not valid JSON \(.* line 1"),
    "not an object": ("[1, 2]", "not a card"),
    "no schema_version": (_without(_good(), "schema_version"), "missing field schema_version"),
    "schema_version 2": (_with(_good(), "schema_version", 2), "schema_version is 2; .* reads 1"),
    "schema_version string": (_with(_good(), "schema_version", "1"), "schema_version is '1'"),
    "no model key": (_without(_good(), "model.key"), "missing field model.key"),
    "no protocol hash": (_without(_good(), "protocol.hash"), "missing field protocol.hash"),
    "no threat models": (_with(_good(), "threat_models", []), "threat_models is empty"),
    "no worst case": (
        _without(_good(), "threat_models.0.worst_case"),
        r"missing field threat_models\[0\]\.worst_case",
    ),
    "text worst case": (
        _with(_good(), "threat_models.0.worst_case", "0.5"),
        r"field threat_models\[0\]\.worst_case is '0.5'; expected int or float or null",
    ),
    "bool acceleration": (_with(_good(), "acceleration", True), "field acceleration is True"),
    "short ci": (_with(_good(), "threat_models.0.ci95", [0.1]), r"ci95 is not \[low, high\]"),
    "odd verdict": (_with(_good(), "threat_models.0.verdict", "meh"), "verdict is 'meh'"),
    "no clean metric": (_without(_good(), "clean.region_ssim"), "missing field clean.region_ssim"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_card_is_one_line_naming_file_and_field_and_nothing_is_written(
    tmp_path, capsys, case
):
    card, message = BAD[case]
    good = _write(tmp_path, "good", _good() | {"model": _good()["model"] | {"source": "x"}})
    bad = _write(tmp_path, "bad", card)
    out = tmp_path / "lb"
    out.mkdir()
    (out / "leaderboard.md").write_text("old", encoding="utf-8")
    assert main(["leaderboard", str(good), str(bad), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"advrecon: error: {bad}: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert sorted(p.name for p in out.iterdir()) == ["leaderboard.md"]
    assert (out / "leaderboard.md").read_text(encoding="utf-8") == "old"
    with pytest.raises(InputFileError):
        load_card(bad)


def test_a_path_that_is_no_card_and_no_run_folder_is_an_error(tmp_path, capsys):
    empty = tmp_path / "empty-run"
    empty.mkdir()
    assert main(["leaderboard", str(empty), "--output", str(tmp_path / "lb")]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"advrecon: error: {empty}: no card.json in this folder (not an audited run folder)\n"
    )
    assert main(["leaderboard", str(tmp_path / "missing.json")]) == 2
    assert f"{tmp_path / 'missing.json'}: no such file or folder" in capsys.readouterr().err
    assert not (tmp_path / "lb").exists()


def test_a_run_folder_and_a_card_file_are_both_accepted(tmp_path):
    run = _write(tmp_path, "run", _card("a", {"noise": 0.5}), as_run=True)
    card = _write(tmp_path, "b", _card("b", {"noise": 0.6}))
    assert load_card(run)["path"] == str(run / "card.json")
    assert load_card(card)["model"]["key"] == "b"


# ----------------------------------------------------------------------------- HTML


def test_html_is_self_contained_sortable_and_escapes_model_names(tmp_path):
    evil = "<script>alert('x')</script>"
    paths = [
        _write(tmp_path, "a", _card(evil, {"noise": 0.6, "rotation": 0.7})),
        _write(tmp_path, "b", _card("plain", {"noise": 0.5, "rotation": 0.8})),
    ]
    md_path, html_path = make_leaderboard(paths, tmp_path / "out", title="<b>Models</b>")
    page = html_path.read_text(encoding="utf-8")
    assert evil not in page and "&lt;script&gt;alert(" in page
    assert "<b>Models</b>" not in page and "&lt;b&gt;Models&lt;/b&gt;" in page
    assert page.count('<table class="sortable">') == 3
    assert page.count("<script>") == 1  # the sorter, inline
    assert 'addEventListener("click"' in page and "data-sort=" in page
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|https?://", page)
    md = md_path.read_text(encoding="utf-8")
    assert evil not in md and "&lt;script&gt;" in md  # Markdown renders HTML too


def test_templates_ship_as_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = pyproject.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    patterns = re.findall(r'"([^"]+)"', section)
    templates = sorted((ROOT / "src" / "advrecon" / "report" / "templates").glob("leaderboard.*"))
    assert len(templates) == 2
    for t in templates:
        rel = t.relative_to(ROOT / "src" / "advrecon").as_posix()
        assert any(fnmatch.fnmatch(rel, p) for p in patterns), rel
    assert re.search(r'^\s*"jinja2>=3\.1",', pyproject, re.MULTILINE)
