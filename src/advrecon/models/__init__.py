"""advrecon.models: fastMRI-compatible U-Net / E2E-VarNet, the reconstructor interface, and
safe checkpoint loading.

The names below are imported on first use (PEP 562), so that ``advrecon.models.commands`` can
register its sub-commands without importing torch (a fast ``advrecon --help``).
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> defining module
_EXPORTS = {
    "PRESETS": "advrecon.models.presets",
    "build_model": "advrecon.models.checkpoints",
    "count_parameters": "advrecon.models.checkpoints",
    "load_checkpoint": "advrecon.models.checkpoints",
    "load_reconstructor": "advrecon.models.checkpoints",
    "save_checkpoint": "advrecon.models.checkpoints",
    "shipped_weights": "advrecon.models.checkpoints",
    "Reconstructor": "advrecon.models.reconstructor",
    "ZeroFilled": "advrecon.models.reconstructor",
    "VarNetReconstructor": "advrecon.models.reconstructor",
    "UnetReconstructor": "advrecon.models.reconstructor",
    "ScriptedReconstructor": "advrecon.models.reconstructor",
    "CallableReconstructor": "advrecon.models.reconstructor",
    "Unet": "advrecon.models.unet",
    "NormUnet": "advrecon.models.varnet",
    "SensitivityModel": "advrecon.models.varnet",
    "VarNet": "advrecon.models.varnet",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import ``advrecon.models.<module>`` when one of its public names is first used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'advrecon.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
