"""The exhaustive grid search: every (slice, angle) pair reconstructed once, in chunks.

One sweep serves every ``theta_max`` (Fig. 4a: worst case versus ``theta_max``) and gives the
whole per-angle curve (Fig. 4b); one sweep per slice serves every box on that slice (each angle
is reconstructed once, metrics are reduced per box). (slice, angle) pairs are batched, at most
``chunk_size`` per forward (on a CPU one pair per pass, :data:`_CPU_BLOCK`: wide batches only
thrash its caches). What does not depend on the angle is done once per sweep: each slice's
rotation is prepared once (:func:`~advrecon.attacks.geometry.prepare_rotation`: ``paper``
upsamples and pads the coil images once, ``fourier`` pads them and does the first shear's row
FFTs once; bit-identical to rotating afresh) and the validity masks are computed once per grid.
The speed target (the whole sweep 1.5x faster than an honest one-angle-at-a-time loop through
the same pipeline) is measured by ``benchmarks/attacks.py``.
"""

from __future__ import annotations

import torch

from advrecon.attacks._common import chunk_ranges, select_mask, select_nlf
from advrecon.attacks.fixed_coils import move_in_fixed_coils
from advrecon.attacks.geometry import PreparedRotation, prepare_rotation, rotate, validity_mask
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.objectives import error_maps, make_regions, reduce_maps
from advrecon.attacks.results import METRICS
from advrecon.attacks.rotation.scores import plain_clean
from advrecon.attacks.rotation.threat import Rotation, fixed_coil_maps
from advrecon.boxes import Box
from advrecon.mri import fft2c, ifft2c, kspace_to_target
from advrecon.sensitivity import coil_combine

__all__ = ["Sweep"]

#: (slice, angle) pairs per pass on a CPU, whatever ``chunk_size`` allows: a CPU gains nothing
#: from wide batches and loses its caches (demo models, 8 x 256 x 128, 1 thread: the models'
#: forward per slice was fastest at batch 1 (2: +10-20 %), and whole sweeps in passes of 16
#: took 1.5x (U-Net) to 3x (VarNet) as long as in passes of 1 or 2; benchmarks/attacks.py).
_CPU_BLOCK = 1

#: Largest grid of validity masks (angles x pixels) kept for a whole sweep (64 MB of bools);
#: finer grids compute each pass's masks.
_MAX_CACHED_MASK = 1 << 26


def _default_block(device: torch.device) -> int | None:
    """Pairs per pass: a whole chunk on a GPU, :data:`_CPU_BLOCK` on a CPU."""
    return None if device.type == "cuda" else _CPU_BLOCK


def _pairs_per_pass(chunk_size: int | None, block: int | None) -> int | None:
    """The smaller of the user's ``chunk_size`` (a memory cap) and the device's block."""
    if block is None:
        return chunk_size
    return block if chunk_size is None else min(int(chunk_size), block)


class Sweep:
    """The exhaustive grid search: every (slice, angle) pair reconstructed once, in chunks.

    Args:
        recon: Reconstructor; kspace: fully sampled ``(B, C, H, W)``; mask, nlf: the
            undersampling mask and its ``num_low_frequencies``.
        threat: The :class:`~advrecon.attacks.rotation.threat.Rotation` (what turns, how).
        index: ``(N,)`` slice of each item; regions: the ``N`` item regions.
        angles: ``(A,)`` grid angles (degrees, containing 0); windows: ``(T, A)`` bool, the
            angles of each ``theta_max`` (an adversarial image is kept per window).
        select_by: Metric that picks the worst angle; data_range: its convention.
        size: ``(h, w)``; block: pairs per pass (default :func:`_default_block`).
    """

    def __init__(self, recon, kspace, mask, nlf, threat: Rotation, index, regions, angles,
                 windows, select_by, data_range, size, block=None):  # fmt: skip
        self.recon, self.mask, self.nlf, self.threat = recon, mask, nlf, threat
        self.index, self.regions, self.angles, self.windows = index, regions, angles, windows
        self.select_by, self.size = select_by, size
        self.B, self.N, self.A = kspace.shape[0], len(regions), angles.numel()
        self.full = make_regions([Box.full(size)] * self.B, size, device=kspace.device)
        self.a0 = int((angles == 0).nonzero()[0, 0])
        self.target = kspace_to_target(kspace, size)
        self.data_range = data_range_of(self.target, data_range)
        self.coil = ifft2c(kspace)
        self.rdtype = kspace.real.dtype
        # what turns: the coil images, or (fixed coils) the object x = S^H c inside them
        self.maps = fixed_coil_maps(kspace, mask, nlf) if threat.coils == "fixed" else None
        self.source = self.coil if self.maps is None else coil_combine(self.coil, self.maps)
        # shared by every chunk: the validity masks of the grid and, per slice, the
        # angle-independent part of its rotation (paper: the 2x upsampling)
        small = self.A * size[0] * size[1] <= _MAX_CACHED_MASK
        self.valid = validity_mask(size, angles, device=kspace.device) if small else None
        self.block = block if block is not None else _default_block(kspace.device)
        self._prepared: dict[int, PreparedRotation] = {}

    def run(self, chunk_size):
        """``(per_angle {metric: (N, A)}, clean_b (B, h, w), adv (T, N, h, w), valid (T, N, h,
        w))``.

        ``adv[t]`` is the image at the worst angle of window ``t`` (first one on ties);
        ``clean_b`` holds the angle-0 entry of the sweep.
        """
        dev, N, A = self.coil.device, self.N, self.A
        keys = [m + suf for m in METRICS for suf in ("", "_full")]
        self.per_angle = {
            k: torch.full((N, A), torch.nan, dtype=torch.float64, device=dev) for k in keys
        }
        self.clean_b = torch.zeros((self.B, *self.size), dtype=self.rdtype, device=dev)
        T = self.windows.shape[0]
        self.adv = torch.zeros((T, N, *self.size), dtype=self.rdtype, device=dev)
        self.adv_valid = torch.ones((T, N, *self.size), dtype=torch.bool, device=dev)
        self.best = torch.full((T, N), -torch.inf, dtype=torch.float64, device=dev)
        for r in chunk_ranges(self.B * A, _pairs_per_pass(chunk_size, self.block)):
            self._chunk(torch.arange(r.start, r.stop, device=dev))
        return self.per_angle, self.clean_b, self.adv, self.adv_valid

    def clean_metrics(self, kspace: torch.Tensor, chunk_size, resampled: bool) -> dict:
        """Item metrics ``{metric: (N,)}`` of the clean reconstruction, after :meth:`run`.

        The sweep's angle-0 entry, or, where angle 0 resamples (``resampled``: ``paper``
        without ``identity_at_zero``), the plain reconstructions of the unrotated slices
        (:func:`~advrecon.attacks.rotation.scores.plain_clean`, written into ``clean_b``).
        """
        if not resampled:
            return {k: v[:, self.a0] for k, v in self.per_angle.items()}
        return plain_clean(self.recon, kspace, self.mask, self.nlf, self.clean_b, self.target,
                           self.data_range, self.regions, self.full, self.index,
                           chunk_size)  # fmt: skip

    def _kspace(self, bs: torch.Tensor, ang: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Masked k-space ``(P, C, H, W)`` of ``coil[bs]`` rotated by ``ang`` (``Rotation.act``).

        Each slice's angle-independent work is done once per sweep
        (:func:`~advrecon.attacks.geometry.prepare_rotation`, bit-identical to
        :func:`~advrecon.attacks.geometry.rotate`).
        """
        for s in [s for s in self._prepared if s < int(bs.min())]:
            del self._prepared[s]  # pairs are slice-major: this slice is done
        k = torch.empty((bs.numel(), *self.coil.shape[1:]), dtype=self.coil.dtype,
                        device=self.coil.device)  # fmt: skip
        for s in torch.unique(bs).tolist():
            if s not in self._prepared:
                self._prepared[s] = prepare_rotation(
                    self.source[s : s + 1], self.angles, **self.threat.kw
                )
            sel = (bs == s).nonzero(as_tuple=True)[0]
            rot = self._prepared[s](ang[sel], torch.zeros_like(sel))
            if self.maps is not None:  # the object turned: c + S (R x - x), x = S^H c
                c, m_s = self.coil[s : s + 1], self.maps[s : s + 1]
                rot = move_in_fixed_coils(c, m_s, lambda x, rot=rot: rot)
            k[sel] = fft2c(rot)
        return k * m

    def _chunk(self, p: torch.Tensor) -> None:
        """Reconstruct the pairs ``p`` (slice-major), record curves and the running worst."""
        bs, as_ = p // self.A, p % self.A
        ang = self.angles[as_]
        m = select_mask(self.mask, bs.cpu())
        out = self.recon(self._kspace(bs, ang, m), m, select_nlf(self.nlf, bs.cpu()))
        back = rotate(out, -ang, **self.threat.kw)  # Rotation.to_target, masks computed once
        valid = (
            self.valid[as_]
            if self.valid is not None
            else validity_mask(self.size, ang, device=ang.device)
        )
        maps = error_maps(back, self.target[bs], self.data_range[bs], valid)
        rm = reduce_maps(maps, self.regions, pairwise=True)  # (N, c)
        fm = reduce_maps(maps, self.full, pairwise=True)  # (B, c)
        own = self.index[:, None] == bs[None, :]
        ni, ci = own.nonzero(as_tuple=True)
        for key in METRICS:
            self.per_angle[key][ni, as_[ci]] = rm[key][ni, ci]
            self.per_angle[key + "_full"][ni, as_[ci]] = fm[key][self.index[ni], ci]
        at0 = (as_ == self.a0).nonzero(as_tuple=True)[0]
        self.clean_b[bs[at0]] = back[at0].to(self.rdtype)  # replaced later when 0 resamples
        self._keep_worst(rm, own, as_, back, valid)

    def _keep_worst(self, rm: dict, own, as_, back, valid) -> None:
        """Update the running worst of each item and window over the pairs of its slice in
        the window (strictly better only: the first worst angle wins ties)."""
        scores = rm[self.select_by] if self.select_by == "mse" else -rm[self.select_by]
        scores = torch.nan_to_num(scores, nan=-torch.inf)
        for t, window in enumerate(self.windows):
            score = torch.where(
                own & window[as_][None, :], scores, torch.full_like(scores, -torch.inf)
            )
            cbest, carg = score.max(1), score.argmax(1)
            upd = cbest.values > self.best[t]
            self.best[t] = torch.where(upd, cbest.values, self.best[t])
            self.adv[t] = torch.where(upd[:, None, None], back[carg].to(self.rdtype), self.adv[t])
            self.adv_valid[t] = torch.where(upd[:, None, None], valid[carg], self.adv_valid[t])
