"""The ``noise`` plug-in's part of the report: figures, panels, findings, tables, tightness.

``HOOKS`` is what :mod:`advrecon.attacks.noise.plugin` declares. Each hook imports its module
when the report calls it (pandas and matplotlib are not loaded with the registry):

* :mod:`.figures`: Figs. 1a/1b, the PGD rule figure and the worst / median panels;
* :mod:`.findings`: the paper's statements about noise;
* :mod:`.tightness`: the tightness check's section and its table ``noise_tightness``;
* :mod:`.rows`: the headline rows (region target, the rule every model ran).
"""

from __future__ import annotations

from typing import Any

from advrecon.attacks.contract import ReportContext, ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig1a_noise_budget": "Fig. 1a - region SSIM vs eta (adversarial: markers o, random noise of "
    "the same norm: x), mean and 95% CI over slices; right: relative to eta = 0.",
    "fig1b_targeted_vs_complete": "Fig. 1b - region SSIM when the attack targets the box vs the "
    "complete image.",
    "fig_rules": "PGD update rule: l2 vs reference.",
}


def _figures(ctx: ReportContext) -> Any:
    from advrecon.attacks.noise.report.figures import figures

    return figures(ctx)


def _panels(ctx: ReportContext) -> Any:
    from advrecon.attacks.noise.report.figures import panels

    return panels(ctx)


def _findings(ctx: ReportContext) -> Any:
    from advrecon.attacks.noise.report.findings import findings

    return findings(ctx)


def _tables(ctx: ReportContext) -> Any:
    from advrecon.attacks.noise.report.tightness import tables

    return tables(ctx)


def _sections(ctx: ReportContext) -> Any:
    from advrecon.attacks.noise.report.tightness import sections

    return sections(ctx)


def _primary(ctx: ReportContext) -> Any:
    from advrecon.attacks.noise.report.rows import primary_rows

    return primary_rows(ctx.results)


HOOKS = ReportHooks(
    figures=_figures,
    panels=_panels,
    findings=_findings,
    tables=_tables,
    sections=_sections,
    captions=CAPTIONS,
    primary=_primary,
)
