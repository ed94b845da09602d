"""One chunk of hallucination items: the search, the random-noise baseline and every column.

Reported (``halluc_*``, :func:`advrecon.attacks.feature.measures.measures` with
``D = r - r0``): the fraction of the wanted feature that appears (``<D, F> / ||F||^2``), its
contrast (percent of the box mean) and contrast-to-noise ratio against the thermal noise of the
magnitude image, and ``halluc_rest_percent`` (RMS of ``D`` outside ``S_f``, percent of the box
mean); ``rand_halluc_*`` the same for random noise of the same per-coil norm (mean over
``n_random`` draws); ``noise_to_thermal`` as for the noise attack.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advrecon.attacks.evaluation import evaluate, nan_columns
from advrecon.attacks.feature.measures import measures
from advrecon.attacks.hallucination.threat import Hallucination
from advrecon.attacks.search import random_draws
from advrecon.noise_level import noise_to_thermal_ratio

__all__ = ["Levels", "attack_chunk", "halluc_columns", "random_noise_baseline", "rest_percent"]

RANDOM_COLUMNS = tuple(
    f"rand_halluc_{k}" for k in ("recovered", "cnr", "contrast_percent", "rest_percent")
)


@dataclass(frozen=True)
class Levels:
    """Noise and intensity levels of a chunk's items.

    Attributes:
        sigma_img: ``(n,)`` thermal noise std of the magnitude image.
        mean: ``(n,)`` mean target intensity in the box.
        sigma_k: ``(n, C)`` per-coil k-space noise std.
    """

    sigma_img: torch.Tensor
    mean: torch.Tensor
    sigma_k: torch.Tensor


def rest_percent(img, clean, support, mean) -> torch.Tensor:
    """RMS of ``img - clean`` ``(n, h, w)`` outside the feature's ``support``, percent of the box
    ``mean`` ``(n,)``: ``(n,)``."""
    out = (1 - support).double()
    ms = (((img - clean).double() ** 2) * out).flatten(1).sum(1) / out.flatten(1).sum(1)
    return 100.0 * ms.sqrt() / mean.double()


def halluc_columns(prefix: str, img, threat: Hallucination, sig, mean) -> dict[str, torch.Tensor]:
    """``{prefix}halluc_*`` columns ``(n,)`` of reconstructions ``img`` ``(n, h, w)``."""
    cols = measures("halluc", prefix, img, threat.clean, threat.feature, sig, mean)
    cols[f"{prefix}halluc_rest_percent"] = rest_percent(img, threat.clean, threat.support, mean)
    return cols


def random_noise_baseline(threat: Hallucination, gens, n_random: int, chunk_size, lv) -> dict:
    """Random noise of the same per-coil norm: mean over ``n_random`` draws per item (one
    generator per item in ``gens``; NaN columns for no draws)."""
    n = len(gens)
    if n_random == 0:
        out = nan_columns(("rand_mean",), n, threat.device)
        return {
            **out,
            **{k: torch.full((n,), torch.nan, dtype=torch.float64) for k in RANDOM_COLUMNS},
        }
    vals: dict[str, list] = {}
    for js, sub, img in random_draws(threat, gens, n_random, chunk_size):
        n_ = sub.noise
        m = evaluate({"rand_mean": img}, n_.target, n_.regions, n_.full, n_.data_range)
        m.update(halluc_columns("rand_", img, sub, lv.sigma_img[js], lv.mean[js]))
        for k, v in m.items():
            vals.setdefault(k, []).append(v.double())
    return {k: torch.cat(v).reshape(n, n_random).mean(1) for k, v in vals.items()}


def attack_chunk(threat: Hallucination, search, gens: list, opts, lv: Levels) -> dict:
    """Search, then evaluate clean / adversarial / random / control on one chunk of items.

    Args:
        threat: The chunk's threat model; search: the gradient search (``run_active``).
        gens: ``(start, baseline)`` generators per item.
        opts: :class:`~advrecon.attacks.hallucination.attack.HallucinationOptions`.
        lv: The items' :class:`Levels`.

    Returns:
        ``target``, ``clean``, ``adversarial``, ``feature``, ``control`` ``(n, h, w)``,
        ``trace``, ``cols`` and ``z`` ``(n, C, H, W)``.
    """
    noise, clean = threat.noise, threat.clean
    if opts.random_start:
        z0 = threat.draw([g[0] for g in gens])
    else:
        z0 = threat.project(torch.zeros_like(noise.kspace))
    z, adv, trace, _ = search.run_active(threat, z0, clean)
    with torch.no_grad():
        x, reg, full, dr = noise.target, noise.regions, noise.full, noise.data_range
        res = evaluate({"clean": clean, "adv": adv}, x, reg, full, dr)
        control = noise.control(z)
        res.update(evaluate({"control": control}, x, reg, full, dr))
        res.update(halluc_columns("", adv, threat, lv.sigma_img, lv.mean))
        baseline = [g[1] for g in gens]
        res.update(random_noise_baseline(threat, baseline, opts.n_random, opts.chunk_size, lv))
        res["noise_to_thermal"] = noise_to_thermal_ratio(z, lv.sigma_k, noise.support)
        res["objective_clean"], res["objective_adv"] = trace[:, 0], trace.amax(1)
    return dict(target=x, clean=clean, adversarial=adv, feature=threat.feature, control=control,
                trace=trace, cols=res, z=z)  # fmt: skip
