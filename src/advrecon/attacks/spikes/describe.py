"""What a spike perturbation looks like in numbers: how many, how strong, where.

The spikes' positions cannot be columns one per spike, so a row records the count used, the
largest amplitude (percent of ``max|k|`` and in thermal-noise units), the position of the
strongest spike as offsets from the k-space centre ``(H // 2, W // 2)`` (the DC sample of
``fft2c``) in samples -- ``dy`` along the rows (the fully-sampled readout), ``dx`` along the
columns (phase encode) -- and its distance, and the mean distance of all spikes weighted by
their coil-combined energy ``sum_j |delta_j(p)|^2``.

Strength is the coil-combined amplitude ``sqrt(sum_j |delta_j(p)|^2)`` compared to a relative
precision of :data:`STRENGTH_DIGITS` digits: the greedy search puts every spike at the full
bound, so several spikes are equally strong up to float rounding, and the strongest would
otherwise depend on the rounding of a batch. Among equally strong spikes the one nearest the
centre counts as the strongest (then the first in row-major order), so ``spike_dist`` is the
distance of the nearest full-strength spike; the energy-weighted mean distance
(``spike_mean_dist``) has no such choice and is what the report compares with the mean
distance of the acquired samples, a uniformly random spike's expectation: smaller says the
attack prefers the centre, larger the periphery.
"""

from __future__ import annotations

import torch

from advrecon.attacks.spikes.threat import occupied

__all__ = [
    "STRENGTH_DIGITS",
    "acquired_mean_distance",
    "centre_offsets",
    "describe",
    "spike_table",
    "strength_order",
]

#: Relative precision (decimal digits) at which two spikes count as equally strong.
STRENGTH_DIGITS = 4


def centre_offsets(H: int, W: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(dy (H, 1), dx (1, W))`` float64 offsets of every sample from the centre."""
    dy = torch.arange(H, dtype=torch.float64, device=device)[:, None] - H // 2
    dx = torch.arange(W, dtype=torch.float64, device=device)[None, :] - W // 2
    return dy, dx


def acquired_mean_distance(support: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``(B or 1,)`` float64 mean distance from the centre (samples) of the acquired samples of
    ``support`` ``(B or 1, 1, 1 or H, W)``: a uniformly random spike's expected distance."""
    H, W = shape
    dy, dx = centre_offsets(H, W, support.device)
    sup = (support > 0).expand(support.shape[0], 1, H, W).to(torch.float64)[:, 0]
    dist = torch.hypot(dy, dx)
    return (sup * dist).flatten(1).sum(1) / sup.flatten(1).sum(1).clamp_min(1.0)


def strength_order(delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(key (n, H W), energy (n, H W))`` float64: a larger ``key`` is a stronger spike
    (energy at :data:`STRENGTH_DIGITS` digits, then nearer the centre); ``-inf`` off spikes."""
    _, _, H, W = delta.shape
    energy = (delta.detach().to(torch.complex128).abs() ** 2).sum(1).flatten(1)
    top = energy.amax(1, keepdim=True)
    level = torch.round(energy / top.clamp_min(1e-300) * 10**STRENGTH_DIGITS)
    dy, dx = centre_offsets(H, W, delta.device)
    dist = torch.hypot(dy, dx).flatten()[None]  # dist / 2 < 1e5: below one level's step
    key = level * 1e5 - dist / 2
    return torch.where(energy > 0, key, -torch.inf), energy


def describe(delta: torch.Tensor, kmax: torch.Tensor, sigma: torch.Tensor) -> dict:
    """Per-item numbers of spike perturbations.

    Args:
        delta: ``(n, C, H, W)`` complex spikes.
        kmax: ``(n,)`` the slice's ``max|k|`` (the amplitude reference).
        sigma: ``(n, C)`` thermal noise std per coil and k-space sample.

    Returns:
        ``(n,)`` tensors: ``used`` (long, occupied positions), ``max_amp_percent`` (largest
        ``|delta|``, percent of ``kmax``), ``to_thermal`` (largest ``|delta_j| / sigma_j``),
        ``dy``, ``dx``, ``dist`` (float64, strongest spike's offsets and distance from the
        centre), ``mean_dist`` (energy-weighted mean distance of the spikes); NaN without a
        spike.
    """
    n, _, H, W = delta.shape
    amp = delta.detach().to(torch.complex128).abs()  # (n, C, H, W)
    used = occupied(delta).flatten(1).sum(1)
    largest = amp.flatten(1).amax(1) if amp.numel() else torch.zeros(n, dtype=torch.float64)
    sig = sigma.to(torch.float64)[:, :, None, None]
    ratio = torch.where(sig > 0, amp / sig.clamp_min(1e-300), torch.nan)
    to_thermal = torch.where(amp > 0, ratio, 0.0).flatten(1).amax(1)
    key, energy = strength_order(delta)
    pos = key.argmax(1)
    dy = (pos // W).to(torch.float64) - H // 2
    dx = (pos % W).to(torch.float64) - W // 2
    oy, ox = centre_offsets(H, W, delta.device)
    far = torch.hypot(oy, ox).flatten()[None]
    mean_dist = (energy * far).sum(1) / energy.sum(1).clamp_min(1e-300)
    none = used == 0
    nan = torch.full_like(dy, torch.nan)
    return {
        "used": used,
        "max_amp_percent": 100.0 * largest / kmax.to(torch.float64),
        "to_thermal": torch.where(none, 0.0, to_thermal),
        "dy": torch.where(none, nan, dy),
        "dx": torch.where(none, nan, dx),
        "dist": torch.where(none, nan, torch.hypot(dy, dx)),
        "mean_dist": torch.where(none, nan, mean_dist),
    }


def spike_table(delta: torch.Tensor, kmax: torch.Tensor, count: int) -> torch.Tensor:
    """``(n, count, 3)`` float32 ``(dy, dx, largest coil amplitude in percent of max|k|)`` of
    every spike, strongest first (:func:`strength_order`), NaN rows where fewer spikes were
    used (the saved arrays)."""
    n, _, H, W = delta.shape
    peak = delta.detach().to(torch.complex128).abs().amax(1).flatten(1)
    key, _ = strength_order(delta)
    out = torch.full((n, count, 3), torch.nan, dtype=torch.float64, device=delta.device)
    if count == 0:
        return out.float()
    k = min(count, key.shape[1])
    val, pos = key.topk(k, dim=1)
    rows = torch.stack(
        [(pos // W) - H // 2, (pos % W) - W // 2],
        dim=-1,
    ).to(torch.float64)
    pct = 100.0 * peak.gather(1, pos) / kmax.to(torch.float64)[:, None]
    filled = torch.cat([rows, pct[..., None]], dim=-1)
    out[:, :k] = torch.where(torch.isfinite(val)[..., None], filled, torch.nan)
    return out.float()
