"""Training of U-Net and VarNet reconstructors with the fastMRI recipe (DDP under torchrun).

Modules, each importing only those listed before it (no circles):

* :mod:`~advrecon.training.config`: :class:`TrainConfig` and its checks;
* :mod:`~advrecon.training.steps`: batches, mask seeds, losses, validation;
* :mod:`~advrecon.training.io`: checkpoint metadata, resume state, export, log, data checks;
* :mod:`~advrecon.training.loop`: :func:`train`, the epochs (process group from
  :mod:`advrecon.experiments.distributed`);
* :mod:`~advrecon.training.commands`: ``advrecon train`` (imports torch only when it runs).

The names below are loaded on first use, so that ``advrecon --help`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["TrainConfig", "train", "DEFAULT_CENTER_FRACTIONS", "DEFAULT_LR"]

_HOMES = {
    "TrainConfig": "advrecon.training.config",
    "DEFAULT_CENTER_FRACTIONS": "advrecon.training.config",
    "DEFAULT_LR": "advrecon.training.config",
    "train": "advrecon.training.loop",
}


def __getattr__(name: str) -> Any:
    """The public names, imported from their module when first asked for (PEP 562)."""
    if name not in _HOMES:
        raise AttributeError(f"module 'advrecon.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
