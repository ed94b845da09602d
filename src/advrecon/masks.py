"""Cartesian undersampling masks with fastMRI semantics.

A mask selects phase-encode columns (the last dimension ``W`` of complex k-space ``(..., H, W)``).
Every mask densely samples ``num_low_frequencies = round(W * center_fraction)`` central columns,
starting at column ``(W - num_low_frequencies + 1) // 2``, and subsamples the outer columns:

* :class:`RandomMask` (fastMRI ``RandomMaskFunc``, mask type ``"random"``): every column is
  drawn independently with probability ``(W / acceleration - nlf) / (W - nlf)`` so that the
  expected number of sampled columns is ``W / acceleration``.
* :class:`EquispacedFractionMask` (fastMRI ``EquispacedMaskFractionFunc``,
  ``"equispaced_fraction"``, the mask of the public multicoil data): columns at
  ``round(offset + k * a)`` with the adjusted spacing ``a = acc * (nlf - W) / (nlf * acc - W)``
  and a random integer ``offset`` in ``[0, round(a))``.
* :class:`EquispacedMask` (fastMRI ``EquiSpacedMaskFunc``, ``"equispaced"``): every
  ``acceleration``-th column from a random offset, plus the center.

When a call has several ``(center_fraction, acceleration)`` pairs, one pair is chosen uniformly
per mask, as in fastMRI. The random draws are made with a ``numpy.random.RandomState`` created
*inside each call* from ``seed`` (no global or hidden state), in the same order as fastMRI, so a
seed gives the same mask as the fastMRI mask function called with that seed.

Call convention (all mask classes)::

    mask, num_low_frequencies = mask_func(shape, seed=None, padding=None)

``shape`` is the complex k-space shape ``(..., H, W)``. With an ``int`` (or ``None``) seed the
mask is shared by the whole batch and has shape ``(1, ..., 1, W)``. With a sequence of ``B``
seeds (one per batch item, ``B == shape[0]``) every item gets its own mask of shape
``(B, 1, ..., 1, W)``; ``num_low_frequencies`` is then a ``(B,)`` long tensor if the items
differ and an ``int`` otherwise. A fastMRI tuple seed (e.g. ``tuple(map(ord, fname))``) is one
item's seed, so pass it wrapped in a list: ``seed=[tuple(map(ord, fname))]``.

``padding=(padding_left, padding_right)`` zeroes the mask outside ``[padding_left,
padding_right)``, like fastMRI's ``apply_mask`` for k-space that was zero-padded in the phase
direction. A sequence of ``B`` such pairs gives per-item padding (the mask is then per item).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = [
    "PAPER_MASKS",
    "MaskFunc",
    "RandomMask",
    "EquispacedFractionMask",
    "EquispacedMask",
    "MASK_TYPES",
    "create_mask_for_mask_type",
    "paper_mask",
    "apply_mask",
]

#: Paper settings (Morshuis et al. 2022, fastMRI defaults): acceleration -> center fraction.
PAPER_MASKS: dict[int, float] = {4: 0.08, 8: 0.04}

SeedLike = int | Sequence[int] | None
"""One item's seed: ``None`` (fresh entropy), an ``int`` or a fastMRI tuple of ints."""


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


@dataclass(frozen=True)
class MaskFunc:
    """Base class of the column masks: configuration only, no random state.

    Args:
        center_fractions: Fractions of low-frequency columns that are always sampled, each in
            ``(0, 1)``. One ``(center_fraction, acceleration)`` pair is chosen uniformly per mask.
        accelerations: Undersampling factors (``> 0``), same length as ``center_fractions``
            unless ``allow_any_combination``.
        allow_any_combination: Draw the center fraction and the acceleration independently
            (fastMRI's option of the same name).
    """

    center_fractions: Sequence[float]
    accelerations: Sequence[float]
    allow_any_combination: bool = field(default=False)

    def __post_init__(self) -> None:
        cfs = _as_float_tuple(self.center_fractions, "center_fractions")
        accs = _as_float_tuple(self.accelerations, "accelerations")
        if len(cfs) != len(accs) and not self.allow_any_combination:
            raise ValueError(
                f"center_fractions {list(cfs)} and accelerations {list(accs)} must have the "
                "same length (one center fraction per acceleration)"
            )
        for cf in cfs:
            if not 0.0 < cf < 1.0:
                raise ValueError(f"center fraction {cf} is outside (0, 1)")
        for acc in accs:
            if not acc > 0:
                raise ValueError(f"acceleration {acc} must be > 0")
        object.__setattr__(self, "center_fractions", cfs)
        object.__setattr__(self, "accelerations", accs)
        self._validate_pairs()

    def _validate_pairs(self) -> None:
        """Hook for subclasses with extra constraints on (center_fraction, acceleration)."""

    # -- sampling ----------------------------------------------------------------------------

    def __call__(
        self,
        shape: Sequence[int],
        seed: SeedLike | Sequence[SeedLike] = None,
        padding: Sequence[int] | Sequence[Sequence[int]] | torch.Tensor | None = None,
        *,
        offset: int | None = None,
    ) -> tuple[torch.Tensor, int | torch.Tensor]:
        """Sample a column mask for k-space of shape ``shape``.

        Args:
            shape: Complex k-space shape ``(..., H, W)`` (at least two dimensions).
            seed: ``None``/``int`` for one mask shared by the batch, or a sequence of
                ``B = shape[0]`` per-item seeds (each ``None``, ``int`` or tuple of ints).
            padding: ``(padding_left, padding_right)``: the mask is zero outside
                ``[padding_left, padding_right)``; or ``B`` such pairs (per item).
            offset: Fixed offset of the equispaced patterns (ignored by :class:`RandomMask`);
                random when ``None``, as in fastMRI.

        Returns:
            tuple containing:
                mask: float32 tensor ``(1, ..., 1, W)`` (shared) or ``(B, 1, ..., 1, W)``
                    (per item), with as many dimensions as ``shape``.
                num_low_frequencies: ``int``, or a ``(B,)`` long tensor when per-item masks
                    have different numbers of center columns.
        """
        shape = tuple(int(s) for s in shape)
        if len(shape) < 2:
            raise ValueError(f"k-space shape {shape} needs at least two dimensions (..., H, W)")
        num_cols = shape[-1]
        if num_cols < 1:
            raise ValueError(f"k-space shape {shape} has no columns")
        if isinstance(seed, (torch.Tensor, np.ndarray)):
            seed = seed.tolist()
        per_item_seed = seed is not None and not _is_int(seed)
        pads = _normalize_padding(padding, shape)
        per_item = per_item_seed or (pads is not None and len(pads) > 1)
        if per_item:
            if len(shape) < 3:
                raise ValueError(
                    f"per-item seeds or padding need a batch dimension; got shape {shape}"
                )
            batch = shape[0]
            seeds = list(seed) if per_item_seed else []  # type: ignore[arg-type]
            if per_item_seed and len(seeds) != batch:
                raise ValueError(
                    f"got {len(seeds)} seeds for a batch of {batch} k-spaces (a sequence is one "
                    "seed per item; wrap a fastMRI tuple seed in a list: seed=[tuple_seed])"
                )
            if pads is not None and len(pads) not in (1, batch):
                raise ValueError(f"got {len(pads)} padding pairs for a batch of {batch} k-spaces")
        else:
            batch, seeds = 1, [seed]

        if per_item_seed:
            drawn = [self._sample(num_cols, s, offset) for s in seeds]
        else:
            # one draw shared by all items (possibly padded differently per item)
            drawn = [self._sample(num_cols, seed, offset)] * batch  # type: ignore[arg-type]
        rows_all = [r for r, _ in drawn]
        nlf_all = [n for _, n in drawn]

        cols = np.stack(rows_all).astype(np.float32)  # (batch, W)
        if pads is not None:
            for i in range(batch):
                left, right = pads[i if len(pads) > 1 else 0]
                cols[i, :left] = 0.0
                cols[i, right:] = 0.0

        mask_shape = [1] * len(shape)
        mask_shape[0] = batch if per_item else 1
        mask_shape[-1] = num_cols
        mask = torch.from_numpy(cols).reshape(mask_shape)
        if len(set(nlf_all)) == 1:
            return mask, nlf_all[0]
        return mask, torch.tensor(nlf_all, dtype=torch.long)

    def _sample(self, num_cols: int, seed: SeedLike, offset: int | None) -> tuple[np.ndarray, int]:
        """One mask row: fastMRI's draw order (pair choice, then the outer columns)."""
        rng = np.random.RandomState(seed)
        center_fraction, acceleration = self._choose(rng)
        nlf = round(num_cols * center_fraction)
        center = np.zeros(num_cols, dtype=np.float32)
        start = (num_cols - nlf + 1) // 2
        center[start : start + nlf] = 1.0
        outer = self._outer(rng, num_cols, acceleration, nlf, offset)
        return np.maximum(center, outer.astype(np.float32)), int(nlf)

    def _choose(self, rng: np.random.RandomState) -> tuple[float, float]:
        if self.allow_any_combination:
            return float(rng.choice(self.center_fractions)), float(rng.choice(self.accelerations))
        i = rng.randint(len(self.center_fractions))
        return self.center_fractions[i], self.accelerations[i]

    def _outer(
        self,
        rng: np.random.RandomState,
        num_cols: int,
        acceleration: float,
        num_low_frequencies: int,
        offset: int | None,
    ) -> np.ndarray:
        """Mask ``(W,)`` of the outer (high-frequency) columns."""
        raise NotImplementedError


class RandomMask(MaskFunc):
    """Random columns plus a fully sampled center (fastMRI ``RandomMaskFunc``).

    Each column is sampled with probability ``(W / acceleration - nlf) / (W - nlf)`` (the
    center columns are then set), so the expected number of sampled columns is
    ``W / acceleration``.
    """

    def _outer(self, rng, num_cols, acceleration, num_low_frequencies, offset):
        if num_cols == num_low_frequencies:
            return np.zeros(num_cols, dtype=bool)
        prob = (num_cols / acceleration - num_low_frequencies) / (num_cols - num_low_frequencies)
        return rng.uniform(size=num_cols) < prob


class EquispacedFractionMask(MaskFunc):
    """Equispaced columns matching the acceleration (fastMRI ``EquispacedMaskFractionFunc``).

    The spacing is adjusted for the center, ``a = acc * (nlf - W) / (nlf * acc - W)``, and the
    sampled outer columns are ``round(offset + k * a)`` for ``offset + k * a < W - 1``. As in
    fastMRI's own mask function the rounding can make the spacing slightly uneven; this is kept
    to match the public multicoil data. Requires ``center_fraction * acceleration < 1``.
    """

    def _validate_pairs(self) -> None:
        for cf in self.center_fractions:
            for acc in self.accelerations:
                if self.allow_any_combination or self._paired(cf, acc):
                    if cf * acc >= 1.0:
                        raise ValueError(
                            f"center fraction {cf} with acceleration {acc} samples more than "
                            "1/acceleration of k-space in the center alone "
                            "(need center_fraction * acceleration < 1)"
                        )

    def _paired(self, cf: float, acc: float) -> bool:
        return any(
            c == cf and a == acc
            for c, a in zip(self.center_fractions, self.accelerations, strict=False)
        )

    def _outer(self, rng, num_cols, acceleration, num_low_frequencies, offset):
        denom = num_low_frequencies * acceleration - num_cols
        if denom >= 0:
            raise ValueError(
                f"{num_low_frequencies} center columns of {num_cols} already exceed "
                f"1/{acceleration} of k-space; use a smaller center fraction"
            )
        adjusted = acceleration * (num_low_frequencies - num_cols) / denom
        if offset is None:
            offset = rng.randint(0, high=round(adjusted))
        mask = np.zeros(num_cols, dtype=np.float32)
        samples = np.around(np.arange(offset, num_cols - 1, adjusted)).astype(np.int64)
        mask[samples] = 1.0
        return mask


class EquispacedMask(MaskFunc):
    """Every ``acceleration``-th column plus the center (fastMRI ``EquiSpacedMaskFunc``).

    With the dense center the true acceleration is lower than ``acceleration``. Accelerations
    must be integers.
    """

    def _validate_pairs(self) -> None:
        for acc in self.accelerations:
            if acc != int(acc):
                raise ValueError(f"equispaced masks need integer accelerations, got {acc}")

    def _outer(self, rng, num_cols, acceleration, num_low_frequencies, offset):
        step = int(acceleration)
        if offset is None:
            offset = rng.randint(0, high=step)
        mask = np.zeros(num_cols, dtype=np.float32)
        mask[offset::step] = 1.0
        return mask


MASK_TYPES: dict[str, type[MaskFunc]] = {
    "random": RandomMask,
    "equispaced_fraction": EquispacedFractionMask,
    "equispaced": EquispacedMask,
}


def create_mask_for_mask_type(
    mask_type: str,
    center_fractions: Sequence[float],
    accelerations: Sequence[float],
) -> MaskFunc:
    """Mask function by fastMRI mask-type name.

    Args:
        mask_type: ``"random"``, ``"equispaced_fraction"`` or ``"equispaced"``.
        center_fractions: Center fractions, one per acceleration.
        accelerations: Accelerations.

    Returns:
        The configured mask function.
    """
    try:
        cls = MASK_TYPES[mask_type]
    except KeyError:
        raise ValueError(
            f"unknown mask type {mask_type!r}; choose one of {sorted(MASK_TYPES)}"
        ) from None
    return cls(center_fractions, accelerations)


def paper_mask(acceleration: int, mask_type: str = "random") -> MaskFunc:
    """The paper's mask for one acceleration (4x: center 0.08, 8x: center 0.04).

    Args:
        acceleration: 4 or 8.
        mask_type: fastMRI mask type (the paper's models use ``"random"``).

    Returns:
        The configured mask function.
    """
    if acceleration not in PAPER_MASKS:
        raise ValueError(
            f"the paper uses accelerations {sorted(PAPER_MASKS)}, not {acceleration}; "
            "build the mask with create_mask_for_mask_type instead"
        )
    return create_mask_for_mask_type(mask_type, [PAPER_MASKS[acceleration]], [acceleration])


def apply_mask(
    kspace: torch.Tensor,
    mask_func: MaskFunc,
    seed: SeedLike | Sequence[SeedLike] = None,
    padding: Sequence[int] | Sequence[Sequence[int]] | torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int | torch.Tensor]:
    """Subsample k-space by multiplying with a sampled mask (fastMRI ``apply_mask``).

    Args:
        kspace: Complex k-space ``(B, coils, H, W)`` (any ``(..., H, W)`` works).
        mask_func: A mask function, e.g. :class:`RandomMask`.
        seed: ``None``/``int`` (one mask for the batch) or ``B`` per-item seeds.
        padding: ``(padding_left, padding_right)`` or ``B`` such pairs.

    Returns:
        tuple containing:
            masked_kspace: ``kspace * mask``, same shape and dtype as ``kspace``.
            mask: float32 mask ``(1, 1, 1, W)`` or ``(B, 1, 1, W)`` on ``kspace.device``.
            num_low_frequencies: ``int`` or ``(B,)`` long tensor.
    """
    mask, num_low_frequencies = mask_func(tuple(kspace.shape), seed=seed, padding=padding)
    mask = mask.to(kspace.device)
    # "+ 0.0" turns the -0.0 of masked negative entries into +0.0, as fastMRI does
    masked = kspace * mask + 0.0
    if isinstance(num_low_frequencies, torch.Tensor):
        num_low_frequencies = num_low_frequencies.to(kspace.device)
    return masked, mask, num_low_frequencies


def _as_float_tuple(values: Sequence[float] | float, name: str) -> tuple[float, ...]:
    if isinstance(values, (int, float, np.number)):
        values = [values]
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}") from None
    if not out:
        raise ValueError(f"{name} is empty")
    return out


def _normalize_padding(padding, shape: tuple[int, ...]) -> list[tuple[int, int]] | None:
    """``None``, one ``(left, right)`` pair, or ``B`` pairs -> list of pairs (validated)."""
    if padding is None:
        return None
    if isinstance(padding, torch.Tensor):
        padding = padding.tolist()
    padding = list(padding)
    scalars = [_is_int(p) or isinstance(p, float) for p in padding]
    if all(scalars):
        pairs = [padding]  # one (left, right) pair; a wrong length is reported below
    elif not any(scalars):
        pairs = [list(p) for p in padding]
    else:
        raise ValueError(f"padding must be (left, right) or one such pair per item, got {padding}")
    out = []
    num_cols = shape[-1]
    for p in pairs:
        if len(p) != 2:
            raise ValueError(f"padding must be (padding_left, padding_right), got {p}")
        left, right = int(p[0]), int(p[1])
        # like fastMRI, padding_right may lie past the last column (nothing to zero there)
        if not (0 <= left < right and left < num_cols):
            raise ValueError(
                f"padding ({left}, {right}) is not a column range starting inside [0, {num_cols})"
            )
        out.append((left, right))
    return out
