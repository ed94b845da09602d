"""The ``noise`` plug-in's part of the report: figures, panels, findings, tables, tightness.

``HOOKS`` is what :mod:`advrecon.attacks.noise.plugin` declares. Each hook names
its function, imported when the report calls it (pandas and matplotlib are not loaded with the
registry):

* :mod:`.figures`: Figs. 1a/1b, the PGD rule figure and the worst / median panels;
* :mod:`.findings`: the paper's statements about noise;
* :mod:`.tightness`: the tightness check's section and its table ``noise_tightness``;
* :mod:`.rows`: the headline rows (region target, the rule every model ran).
"""

from __future__ import annotations

from advrecon.attacks.contract import ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig1a_noise_budget": "Fig. 1a - region SSIM vs eta (adversarial: markers o, random noise of "
    "the same norm: x), mean and 95% CI over slices; right: relative to eta = 0.",
    "fig1b_targeted_vs_complete": "Fig. 1b - region SSIM when the attack targets the box vs the "
    "complete image.",
    "fig_rules": "PGD update rule: l2 vs reference.",
}


HOOKS = ReportHooks(
    figures="advrecon.attacks.noise.report.figures:figures",
    panels="advrecon.attacks.noise.report.figures:panels",
    findings="advrecon.attacks.noise.report.findings:findings",
    tables="advrecon.attacks.noise.report.tightness:tables",
    sections="advrecon.attacks.noise.report.tightness:sections",
    primary="advrecon.attacks.noise.report.rows:primary",
    captions=CAPTIONS,
)
