"""Named model sizes: constructor keyword arguments per architecture and preset.

* ``paper``: the models of Morshuis et al. (MLMIR 2022): VarNet 8 cascades / 9 chans / 4 pools,
  sensitivity net 6 chans / 4 pools; U-Net 128 chans / 4 pools.
* ``fastmri``: the fastMRI leaderboard sizes (VarNet 12 / 18 / 4, sens 8 / 4; U-Net 256 / 4),
  matching the published fastMRI state dicts.
* ``demo``: small enough to train and attack on a 2-core CPU in minutes on 8 coils x 256 x 128
  k-space: one attack step (forward + backward to the k-space) on one such slice takes about
  0.27 s (VarNet: 8 cascades like the paper's, fewer channels and pools) and about 0.05 s
  (U-Net, 16 chans / 3 pools: 0.5 M parameters, 1.9 MB) on the 2-core development CPU; see
  ``benchmarks/models.py``.
"""

from __future__ import annotations

import copy

__all__ = ["PRESETS", "ARCHITECTURES", "PRESET_NAMES", "preset_kwargs"]

ARCHITECTURES = ("varnet", "unet")

PRESETS: dict[str, dict[str, dict]] = {
    "varnet": {
        "demo": {
            "num_cascades": 8,
            "sens_chans": 4,
            "sens_pools": 3,
            "chans": 8,
            "pools": 3,
            "mask_center": True,
        },
        "paper": {
            "num_cascades": 8,
            "sens_chans": 6,
            "sens_pools": 4,
            "chans": 9,
            "pools": 4,
            "mask_center": True,
        },
        "fastmri": {
            "num_cascades": 12,
            "sens_chans": 8,
            "sens_pools": 4,
            "chans": 18,
            "pools": 4,
            "mask_center": True,
        },
    },
    "unet": {
        "demo": {
            "in_chans": 1,
            "out_chans": 1,
            "chans": 16,
            "num_pool_layers": 3,
            "drop_prob": 0.0,
        },
        "paper": {
            "in_chans": 1,
            "out_chans": 1,
            "chans": 128,
            "num_pool_layers": 4,
            "drop_prob": 0.0,
        },
        "fastmri": {
            "in_chans": 1,
            "out_chans": 1,
            "chans": 256,
            "num_pool_layers": 4,
            "drop_prob": 0.0,
        },
    },
}

#: Size presets, the same names for every architecture.
PRESET_NAMES: tuple[str, ...] = tuple(PRESETS[ARCHITECTURES[0]])


def preset_kwargs(arch: str, preset: str) -> dict:
    """A copy of the constructor kwargs of ``PRESETS[arch][preset]`` (KeyError if unknown)."""
    return copy.deepcopy(PRESETS[arch][preset])
