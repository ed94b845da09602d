"""Model loading and undersampling masks of a run.

* :func:`default_model_loader`: a model entry of the config -> frozen
  :class:`~advrecon.models.reconstructor.Reconstructor` (checkpoint, shipped demo weights or
  ``module:callable``);
* :func:`make_mask`: the slice's mask, fixed per volume so that every model and attack of a
  slice sees the same one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from advrecon.errors import InputFileError
from advrecon.experiments.config import ExperimentConfig, ModelConfig

__all__ = ["default_model_loader", "make_mask"]


def default_model_loader(m: ModelConfig, recon_size: tuple[int, int], device: str) -> Any:
    """Reconstructor for a model entry (checkpoint, shipped weights, ``module:callable``, or a
    weightless arch: zero-filled, SENSE, CS-TV, CS-wavelet)."""
    from advrecon.models import checkpoints
    from advrecon.models.classical.defaults import CLASSICAL_ARCHS
    from advrecon.models.reconstructor import ZeroFilled

    if m.arch == "zero_filled":
        return ZeroFilled(recon_size).to(device).freeze()
    if m.arch in CLASSICAL_ARCHS:
        from advrecon.models.classical import build_classical

        recon = build_classical(
            m.arch,
            lam=m.lam,
            iterations=m.iterations,
            recon_size=recon_size,
            acceleration=m.acceleration,
        )
        return recon.to(device).freeze()
    if m.shipped:
        spec: Any = checkpoints.shipped_weights(m.arch, m.acceleration, m.variant)
    elif m.checkpoint is not None:
        spec = Path(m.checkpoint)
        if not spec.exists():
            raise InputFileError(spec, "checkpoint not found; edit the config to point at it")
    else:
        spec = m.spec
    arch = m.arch if m.arch in ("unet", "varnet") else None
    recon = checkpoints.load_reconstructor(
        spec, recon_size, device=device, arch=arch, preset=m.preset
    )
    recon.label = f"{m.key} ({spec})"  # a misbehaving model's errors name the config entry
    return recon.freeze()


def make_mask(config: ExperimentConfig, m: ModelConfig, sample: Any) -> tuple[torch.Tensor, Any]:
    """The slice's mask: fixed per volume, so every model/attack sees the same one.

    With ``masks.seed: per_volume`` the seed is ``tuple(map(ord, fname))`` as in fastMRI's
    validation data; an ``int`` seed is shared by all slices.

    Returns:
        ``(mask (1, 1, 1, W) float32, num_low_frequencies)``.
    """
    from advrecon.masks import create_mask_for_mask_type

    func = create_mask_for_mask_type(config.masks.type, [m.center_fraction], [m.acceleration])
    kspace = sample.kspace
    shape = (1, *kspace.shape[-3:])
    if config.masks.seed == "per_volume":
        seed: Any = [tuple(map(ord, sample.fname))]
    else:
        seed = int(config.masks.seed)
    padding = getattr(sample, "padding", None)
    mask, nlf = func(shape, seed=seed, padding=tuple(padding) if padding is not None else None)
    return mask.reshape(1, 1, 1, -1).float(), nlf
