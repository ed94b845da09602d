"""The SNR shift: ``n_draws`` thermal-noise draws per item, the worst and the mean reported.

Per chunk of items (:func:`~advrecon.attacks.snr.batch.chunk_threat`): the clean
reconstruction, the draws (:func:`~advrecon.attacks.snr.draws.worst_of_draws`), then the clean
/ worst-draw / control metrics; the chunks are joined into an
:class:`~advrecon.attacks.snr.result.SnrResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import torch

from advrecon.attacks._common import check_kspace_mask
from advrecon.attacks.engine import join_parts, run_chunks
from advrecon.attacks.evaluation import evaluate
from advrecon.attacks.snr.batch import SnrBatch, chunk_threat, prepare_batch
from advrecon.attacks.snr.draws import worst_of_draws
from advrecon.attacks.snr.result import SnrResult
from advrecon.errors import AdvreconError
from advrecon.noise_level import noise_to_thermal_ratio

__all__ = ["SnrOptions", "snr_attack"]

#: Data-range conventions of SSIM / PSNR (:func:`advrecon.attacks.objectives.data_range`).
DATA_RANGES = ("maxmin", "max")


@dataclass(frozen=True)
class SnrOptions:
    """The settings of one :func:`snr_attack` call (arguments of the same names)."""

    n_draws: int = 4
    measured_only: bool = False
    padding: Sequence[int] | None = None
    sigma: Any = None
    data_range: str = "maxmin"
    generator: torch.Generator | int | None = None
    draw_keys: Sequence[int] | None = None
    chunk_size: int | None = None
    recon_size: Sequence[int] | None = None

    def checked(self) -> SnrOptions:
        """The options with ``n_draws`` as an int; one-line errors for bad ones."""
        n = self.n_draws
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise AdvreconError(f"n_draws must be an integer >= 1, got {n!r}")
        if self.data_range not in DATA_RANGES:
            raise AdvreconError(f"data_range must be one of {DATA_RANGES}, got {self.data_range!r}")
        return replace(self, n_draws=int(n), measured_only=bool(self.measured_only))


def _attack_items(b: SnrBatch, opts: SnrOptions, r: range) -> dict:
    """Draws and evaluation of the items ``r``: clean, worst draw, control, summary."""
    threat, gens = chunk_threat(b, r)
    with torch.no_grad():
        clean = threat.clean()
        worst = worst_of_draws(threat, gens, opts.n_draws, opts.chunk_size, clean)
        control = threat.control(worst.z)
        images = {"clean": clean, "adv": worst.image, "control": control}
        metrics = evaluate(images, threat.target, threat.regions, threat.full, threat.data_range)
        metrics.update(worst.summary)
        ratio = noise_to_thermal_ratio(worst.z, threat.sigma, threat.support)
    return dict(z=worst.z, adv=worst.image, clean=clean, control=control, index=worst.index,
                ratio=ratio, metrics=metrics)  # fmt: skip


def _assemble(b: SnrBatch, parts: list[dict], opts: SnrOptions) -> SnrResult:
    """Concatenate the chunks into an :class:`SnrResult`."""
    dev, rdtype = b.kspace.device, b.kspace.real.dtype
    cat = join_parts(parts)
    return SnrResult(
        perturbation=cat["z"].to(b.kspace.dtype), adversarial=cat["adv"].to(rdtype),
        clean=cat["clean"].to(rdtype), target=b.target[b.index.to(dev)],
        control=cat["control"].to(rdtype), boxes=list(b.regions.boxes),
        box_grown=list(b.regions.grown), item_index=b.index, worst_draw=cat["index"],
        metrics=cat["metrics"], sigma_multiple=b.multiple,
        noise_to_thermal=cat["ratio"].to(dev, torch.float64), sigma=b.sigma[b.index.to(dev)],
        n_draws=opts.n_draws, measured_only=opts.measured_only,
        data_range_convention=opts.data_range,
    )  # fmt: skip


def snr_attack(
    recon, kspace: torch.Tensor, mask: torch.Tensor, num_low_frequencies, boxes, sigma_multiple,
    *, n_draws: int = 4, measured_only: bool = False, padding: Sequence[int] | None = None,
    sigma=None, data_range: str = "maxmin", generator: torch.Generator | int | None = None,
    draw_keys: Sequence[int] | None = None, chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None,
) -> SnrResult:  # fmt: skip
    """Thermal-noise SNR shift (:mod:`advrecon.attacks.snr`): worst and mean of random draws.

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``
            (frozen for the duration of the call; no gradient is taken).
        kspace: FULLY-sampled complex k-space ``(B, C, H, W)``; the mask is applied here.
        mask: Real ``(B or 1, 1, 1 or H, W)`` undersampling mask.
        num_low_frequencies: ``int``, ``None`` or ``(B,)`` tensor, passed to ``recon``.
        boxes: One :class:`~advrecon.boxes.Box` per slice, or a list of boxes per slice (each
            box one item with its own draws); ``Box.full(recon_size)`` targets the image.
        sigma_multiple: Budget ``m`` (noise RMS per coil in units of that coil's thermal
            sigma), a number or one per slice, ``>= 0``.
        n_draws: Draws per item (>= 1): the worst (lowest region SSIM) is the ``adv`` row, the
            mean over them the ``rand_mean`` columns.
        measured_only: Noise on the sampled columns only (else on every acquired column: the
            model input is the same, see :mod:`advrecon.attacks.snr`).
        padding: Acquired columns ``(padding_left, padding_right)``; ``None`` = all.
        sigma: ``(B, C)`` known thermal noise std per coil (e.g. from a noise pre-scan);
            ``None``: estimated from the background (:func:`advrecon.noise_level.
            estimate_noise_sigma`).
        data_range: ``"maxmin"`` or ``"max"`` of the whole target (SSIM/PSNR).
        generator: ``torch.Generator`` or int seed of the draws; each item (or draw key) gets
            its own derived seed, so results do not depend on ``chunk_size``.
        draw_keys: One int per item (slice-major, boxes in order): items with the same key get
            the same draws up to their scale (common random numbers, e.g. every budget of one
            box); ``None``: every item its own.
        chunk_size: Largest number of items (and of ``(item, draw)`` pairs) per forward.
        recon_size: ``(h, w)`` if ``recon`` has no ``recon_size`` attribute.

    Returns:
        :class:`~advrecon.attacks.snr.result.SnrResult` with ``N`` items.

    Raises:
        AdvreconError: Bad k-space/mask, box, budget, sigma, padding or option.
    """
    check_kspace_mask(kspace, mask)
    opts = SnrOptions(
        n_draws=n_draws, measured_only=measured_only, padding=padding, sigma=sigma,
        data_range=data_range, generator=generator, draw_keys=draw_keys, chunk_size=chunk_size,
        recon_size=recon_size,
    ).checked()  # fmt: skip
    b = prepare_batch(recon, kspace, mask, num_low_frequencies, boxes, sigma_multiple, opts)
    parts = run_chunks(recon, len(b.index), chunk_size, partial(_attack_items, b, opts))
    return _assemble(b, parts, opts)
