"""advrecon.models: fastMRI-compatible U-Net / E2E-VarNet, the reconstructor interface, and
safe checkpoint loading."""

from advrecon.models.checkpoints import (
    build_model,
    count_parameters,
    load_checkpoint,
    load_reconstructor,
    save_checkpoint,
    shipped_weights,
)
from advrecon.models.presets import PRESETS
from advrecon.models.reconstructor import (
    CallableReconstructor,
    Reconstructor,
    ScriptedReconstructor,
    UnetReconstructor,
    VarNetReconstructor,
    ZeroFilled,
)
from advrecon.models.unet import Unet
from advrecon.models.varnet import NormUnet, SensitivityModel, VarNet

__all__ = [
    "PRESETS",
    "build_model",
    "count_parameters",
    "load_checkpoint",
    "load_reconstructor",
    "save_checkpoint",
    "shipped_weights",
    "Reconstructor",
    "ZeroFilled",
    "VarNetReconstructor",
    "UnetReconstructor",
    "ScriptedReconstructor",
    "CallableReconstructor",
    "Unet",
    "NormUnet",
    "SensitivityModel",
    "VarNet",
]
