"""The model card of an audit: ``card.json`` and ``card.md``, from the run folder's files only.

A card is computed from ``results.csv``, ``config.yaml``, ``manifest.json`` and ``audit.json``
(protocol, model identity, data fingerprint), so anyone holding the run folder can recompute it
(:func:`build_card`) and compare. Its headline per threat model is the :mod:`scorecard
<advrecon.report.scorecard>`'s: the lowest region SSIM of everything evaluated at the
protocol's budget, never a "worst case" that some evaluated point beats. ``card.md`` is
rendered from the Jinja2 template ``templates/card.md.j2``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from advrecon._version import __version__
from advrecon.errors import InputFileError
from advrecon.experiments.protocol import Verdict
from advrecon.files import atomic_write_text
from advrecon.report.card_schema import SCHEMA_VERSION
from advrecon.report.scorecard import SLICE

__all__ = ["SCHEMA_VERSION", "build_card", "render_card_md", "write_card"]


def _audit_meta(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "audit.json"
    if not path.is_file():
        raise InputFileError(path, "not found: a card is made for an `advrecon audit` run folder")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"cannot be read as JSON ({exc})") from None


def build_card(run_dir: str | Path) -> dict[str, Any]:
    """The card of an audit run folder (see the module docstring; ``card.json``'s content).

    Raises:
        InputFileError: not an audit run folder, or a file of it is missing or unreadable.
    """
    from advrecon.report.plugins import scored
    from advrecon.report.tables import load_run

    run_dir = Path(run_dir)
    meta = _audit_meta(run_dir)
    run = load_run(run_dir)
    df, proto = run.results, meta["protocol"]
    model = run.config["models"][0]
    rows = scored(df, proto["headline"], Verdict(**proto["verdict"]))
    region = df[df["target"] == "region"]
    clean = region.drop_duplicates([*SLICE, "box_index"])
    per_slice = clean.groupby(SLICE)[["clean_ssim", "clean_psnr", "clean_ssim_full"]].mean()
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": f"advrecon {__version__}",
        "model": meta["model"],
        "data": {
            **meta["data"],
            "volumes": int(df["file"].nunique()),
            "slices": int(df[SLICE].drop_duplicates().shape[0]),
            "regions": int(clean.shape[0]),
        },
        "acceleration": int(model["acceleration"]),
        "mask": {"type": run.config["masks"]["type"], "seed": run.config["masks"]["seed"],
                 "center_fraction": model["center_fraction"]},
        "protocol": {k: proto[k] for k in ("name", "version", "hash")},
        "run": {"config_hash": str(run.manifest.get("config_hash", ""))[:10],
                "units": int(len(df)), "complete": run.manifest.get("status") == "complete"},
        "metric": "region_ssim",
        "clean": {k: round(float(per_slice[c].mean()), 6) for k, c in
                  (("region_ssim", "clean_ssim"), ("region_psnr", "clean_psnr"),
                   ("image_ssim", "clean_ssim_full"))},
        "threat_models": [
            {"name": r["name"], "title": r["name"], "description": r["description"],
             "budget": r["budget"], "budget_label": r["budget_label"],
             **{k: r[k] for k in ("clean", "worst_case", "ci95", "random", "drop", "n",
                                  "tightness", "converged", "verdict",
                                  "random_beats_search")}}
            for r in rows
        ],
    }  # fmt: skip


def render_card_md(card: dict[str, Any]) -> str:
    """``card.md`` of a card (the template ``templates/card.md.j2``)."""
    from advrecon.report.templates import render

    return render("card.md.j2", card=card)


def write_card(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``card.json`` and ``card.md`` into the run folder (atomically); return both."""
    run_dir = Path(run_dir)
    card = build_card(run_dir)
    js, md = run_dir / "card.json", run_dir / "card.md"
    text = render_card_md(card)  # both made before either is written
    atomic_write_text(js, json.dumps(card, indent=2) + "\n")
    atomic_write_text(md, text)
    return js, md
