"""The ``snr`` plug-in's part of the report: its figure, panels, findings, section and table.

``HOOKS`` is what :mod:`advrecon.attacks.snr.plugin` declares. Each hook names its function,
imported when the report calls it (pandas and matplotlib are not loaded with the registry):

* :mod:`.figures`: ``fig_snr_budget`` (region SSIM vs ``m``; adversarial noise on the same
  thermal axis when the run has noise-attack rows) and the worst / median panels;
* :mod:`.findings`: adversarial vs random noise in thermal units, and the fall with ``m``;
* :mod:`.thermal`: the section "Adversarial noise in thermal units" and its table
  ``snr_thermal_units``;
* :mod:`.rows`: the headline rows (region target) and the pairing of the two attacks.

The ``adv_*`` columns of this plug-in hold the *worst of its random draws* and ``rand_mean_*``
the mean over the same draws: a random-only threat model, read by the usual report machinery.
"""

from __future__ import annotations

from advrecon.attacks.contract import ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig_snr_budget": "SNR shift - region SSIM vs m (added complex Gaussian k-space noise, RMS "
    "per coil in thermal sigmas): worst of the random draws (o, 95% CI over slices) and their "
    "mean (x); right, where the run has the noise attack: its adversarial noise (squares) at its "
    "mean noise_to_thermal, the same unit.",
}

HOOKS = ReportHooks(
    figures="advrecon.attacks.snr.report.figures:figures",
    panels="advrecon.attacks.snr.report.figures:panels",
    findings="advrecon.attacks.snr.report.findings:findings",
    tables="advrecon.attacks.snr.report.thermal:tables",
    sections="advrecon.attacks.snr.report.thermal:sections",
    primary="advrecon.attacks.snr.report.rows:primary",
    captions=CAPTIONS,
)
