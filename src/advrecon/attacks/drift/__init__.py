"""Receiver drift between calibration and scan: per-coil complex gains outside the ACS band.

Physics. Coil ``i``'s signal passes through its own receive chain (preamplifier, receiver,
digitiser); the k-space it records is ``g_i F(S_i x)`` with ``S_i`` the coil's sensitivity and
``g_i`` the chain's complex gain. Parallel-imaging calibration -- SENSE maps (Pruessmann et
al., MRM 42:952-962, 1999) and the E2E-VarNet's sensitivity network (Sriram et al., MICCAI
2020), both estimated here from the central ``num_low_frequencies`` columns, the
auto-calibration (ACS) band -- absorbs whatever gain the receivers had when the band was
acquired: a gain shared by calibration and scan is part of the map and harmless. A gain that
changes between the two (thermal drift of the receive chain, a gain re-adjustment, a
calibration acquired apart from the scan) leaves the calibration inconsistent with the data.
This threat model is that mismatch, with the gains taken relative to the calibration (the band
has ``g = 1``)::

    k'_i(ky, kx) = g_i k_i(ky, kx)   for kx outside the ACS band,   k_i(ky, kx) inside it,

then the undersampling mask as usual. The band is the one the models calibrate from
(:func:`~advrecon.attacks.drift.acquisition.acs_band`: the E2E-VarNet's own
:func:`~advrecon.models.varnet.center_columns`, ``[pad, pad + n)`` with
``pad = (W - n + 1) // 2``, fastMRI's rule on the mask where ``num_low_frequencies`` is not
given), so the maps they estimate are the clean ones bit for bit while the rest of the data
disagree with them.

Parametrisation (budget units): ``delta`` ``(n, C, 2)`` per coil, ``a = 100 (|g_i| - 1)``
(percent) and ``phi = arg g_i`` (degrees); ``g_i = (1 + a / 100) exp(i pi phi / 180)``.
Feasible set (a box): ``|a| <= gain_percent`` and ``|phi| <= phase_deg``; projection: clamping.
Budget: ``gain_percent`` (the results table's ``budget``); the phase bound is one value or one
per budget (:class:`~advrecon.attacks.drift.config.DriftAttackConfig`). Map back: the identity.

How it hurts the models differently:

* **E2E-VarNet, SENSE** estimate ``S_i`` from the band, which the drift does not touch, and then
  enforce consistency with columns that are ``g_i`` times what those maps predict: the
  per-coil *differences* of the gains cannot be absorbed by a single object ``x``, so the
  data-consistency steps fold coil-dependent errors into the image (for SENSE exactly the
  model error of a mis-calibrated encoding; the VarNet's learned steps were never trained on
  it).
* **U-Net** sees only the root-sum-of-squares of the zero-filled coil images,
  ``sqrt(sum_i |c_i^band + g_i c_i^out|^2)``: no calibration to disagree with; the gains act
  through the interference of each coil's low- and high-frequency parts (a relative phase
  between them changes the magnitude, a magnitude offset weights the edges).
* A drift of the *whole* acquisition (band included) with ``|g_i| = 1`` changes neither the RSS
  (``|g_i c_i| = |c_i|``) nor SENSE (the maps absorb the phases), so every effect measured here
  comes from the calibration/scan disagreement; a common gain ``g`` on every column only scales
  the RSS by ``|g|``. With the band split, a common gain still acts (``k^band + g k^out =
  g (k^band / g + k^out)``: the RSS is ``|g|`` times that of the conjugate drift of the band).

Searches, at the same bounds: worst-case gains by projected sign-gradient ascent
(:class:`~advrecon.attacks.search.ProjectedGradient`, best iterate) from a uniform random
start, ``x <- clip(x + step_size * bound * sign(grad))``; random gains: ``n_random`` uniform
draws in the box (mean and worst). ``control``: the fully sampled drifted k-space (every column
outside the band) as a scanner shows it (RSS, crop; no model).

One module per concept: :mod:`~advrecon.attacks.drift.acquisition` (band, gains, drifted
k-space), :mod:`~advrecon.attacks.drift.threat` (:class:`ReceiverDrift`),
:mod:`~advrecon.attacks.drift.attack` (:func:`drift_attack`),
:mod:`~advrecon.attacks.drift.result` (:class:`DriftResult`),
:mod:`~advrecon.attacks.drift.config` (the section ``attacks.drift`` and its batches),
:mod:`~advrecon.attacks.drift.units` (the experiment runner's entry) and
:mod:`~advrecon.attacks.drift.report` (figure, panels, findings).
"""

from __future__ import annotations

from advrecon.attacks.drift.acquisition import acs_band, drifted_kspace, gains
from advrecon.attacks.drift.attack import (
    MAX_GAIN_PERCENT,
    MAX_PHASE_DEG,
    DriftOptions,
    drift_attack,
)
from advrecon.attacks.drift.config import DriftAttackConfig, drift_batch_groups
from advrecon.attacks.drift.result import DriftResult
from advrecon.attacks.drift.threat import ReceiverDrift
from advrecon.attacks.drift.units import run_drift_units

__all__ = [
    "MAX_GAIN_PERCENT",
    "MAX_PHASE_DEG",
    "DriftAttackConfig",
    "DriftOptions",
    "DriftResult",
    "ReceiverDrift",
    "acs_band",
    "drift_attack",
    "drift_batch_groups",
    "drifted_kspace",
    "gains",
    "run_drift_units",
]
