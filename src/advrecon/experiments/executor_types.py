"""The contracts of a run's injectable pieces: what an executor gets and returns, the loaders.

* ``executor(batch, context) -> BatchOutput``: one unit batch (:class:`~.units.UnitBatch`)
  and its :class:`BatchContext` -> one row (and arrays, curves) per unit; the default is
  :func:`advrecon.experiments.executor.execute_batch`;
* ``model_loader(model_config, recon_size, device) -> Reconstructor``; the default is
  :func:`advrecon.experiments.loading.default_model_loader`.

Types only: the executor and the batch loop both import this module, never each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from advrecon.experiments.config import ExperimentConfig, ModelConfig
    from advrecon.experiments.units import UnitBatch

__all__ = ["BatchContext", "BatchOutput", "Executor", "ModelLoader"]


@dataclass
class BatchContext:
    """Everything an executor needs for one batch.

    Attributes:
        config: The experiment.
        model: The frozen reconstructor (``None`` only with custom executors/loaders).
        sample: The slice (:class:`~advrecon.experiments.source.Slice`).
        mask: Undersampling mask ``(1, 1, 1, W)`` of this slice (same for every model/attack).
        num_low_frequencies: Of the mask.
        device: Torch device.
        generator: Random generator seeded with ``batch.seed``.
        chunk_size: Largest batch per forward pass (``None``: all at once).
    """

    config: ExperimentConfig
    model: Any
    sample: Any
    mask: torch.Tensor
    num_low_frequencies: Any
    device: torch.device
    generator: torch.Generator
    chunk_size: int | None


@dataclass
class BatchOutput:
    """What an executor returns.

    Attributes:
        rows: ``unit_id -> {metric: scalar}`` for every unit of the batch.
        arrays: ``unit_id -> {name: array}`` (``target``, ``clean``, ``adversarial``,
            ``control`` = fully-sampled image under the same perturbation, ``box``; an older
            executor's ``reference`` is saved as ``control``, :data:`.compat.ARRAY_RENAMES`).
        curves: Tidy per-budget-point rows (e.g. per angle): the keys of
            :data:`~advrecon.experiments.schema.CURVE_COLUMNS` but ``curve_id``, plus metrics.
    """

    rows: dict[str, dict[str, Any]]
    arrays: dict[str, dict[str, Any]] = field(default_factory=dict)
    curves: list[dict[str, Any]] = field(default_factory=list)


#: ``executor(batch, context) -> BatchOutput``.
Executor = Callable[["UnitBatch", BatchContext], BatchOutput]
#: ``model_loader(model_config, recon_size, device) -> Reconstructor``.
ModelLoader = Callable[["ModelConfig", tuple[int, int], str], Any]
