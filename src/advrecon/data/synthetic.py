"""Synthetic knee dataset in the exact fastMRI multicoil format (the embedded default data).

Every command of advrecon runs without access to fastMRI: this module simulates multicoil
sagittal knee acquisitions and writes them as fastMRI ``.h5`` files plus a fastMRI+-style
``annotations.csv``, so that the same readers, models and attacks run on both.

Forward model per slice (all complex64)::

    m(r)       = magnitude(r) * exp(i * phase(r))          anatomy of synthetic_anatomy.py
    kspace_c   = fft2c(S_c(r) * m(r)) + n_c,  n_c ~ CN(0, sigma^2)   (then padded columns := 0)
    target     = center_crop(rss(ifft2c(kspace)), recon_size)       (= reconstruction_rss)

Why the shapes: fastMRI knee data are 2x oversampled along the readout, so k-space has
``H = 2 * h`` rows and the object occupies only the central ``h`` rows of the coil images; the
noise is added in k-space, so the air around the object (in particular the oversampled rows)
contains pure thermal noise, which is where :mod:`advrecon.noise_level` estimates ``sigma``.
``SNR = mean(noise-free RSS inside the object) / sigma`` with ``sigma`` the std of the complex
per-coil noise (``E|n|^2 = sigma^2``, identical in k-space and image space: unitary FFT).

Splits: :func:`generate_dataset` writes a flat folder (``file*.h5`` + ``annotations.csv``) when
``SynthConfig.val_volumes == 0``; otherwise it writes ``train/`` (``num_volumes`` volumes) and
``val/`` (``val_volumes`` volumes, another seed stream and file numbers after the train ones)
into the same folder, each with its own ``annotations.csv``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch

from advrecon._version import __version__
from advrecon.data.synthetic_anatomy import LESION_LABELS, render_volume, smooth_noise
from advrecon.errors import AdvreconError, ConfigError
from advrecon.files import process_umask
from advrecon.mri import fft2c, kspace_to_target

__all__ = [
    "SynthConfig",
    "SyntheticVolume",
    "coil_sensitivities",
    "smooth_phase",
    "simulate_volume",
    "ismrmrd_header",
    "generate_dataset",
    "register_arguments",
    "config_from_args",
    "run_from_args",
    "ANNOTATION_COLUMNS",
    "GEOMETRIES",
    "CoilLayout",
    "VolumePlan",
    "plan_volume",
]

ANNOTATION_COLUMNS = ["file", "slice", "study_level", "x", "y", "width", "height", "label"]
_MARKER = "synthetic.json"
_XSI = (
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xsi:schemaLocation="http://www.ismrm.org/ISMRMRD ismrmrd.xsd"'
)


@dataclass(frozen=True)
class SynthConfig:
    """Settings of a synthetic knee dataset (defaults sized for a 2-core CPU).

    Attributes:
        num_volumes: Number of volumes (``file*.h5``); the train split when ``val_volumes > 0``.
        num_slices: Sagittal slices per volume.
        num_coils: Receive coils.
        kspace_shape: ``(H, W)``: readout (2x oversampled) x phase encode.
        recon_size: ``(h, w)`` of ``reconstruction_rss``; needs ``h <= H // 2`` and ``w <= W``.
        snr: Mean noise-free RSS in the object divided by the per-coil complex noise std.
        seed: Master seed; the dataset is a deterministic function of the config.
        lesion_probability: Probability of each of ``max_lesions`` candidate lesions of a
            volume (so a volume carries ``Binomial(max_lesions, p)`` pathologies).
        max_lesions: Candidate lesions per volume.
        study_level_probability: Probability of a study-level CSV row (label ``artifact``)
            per volume; at least one volume gets one when ``num_volumes >= 2`` and it is > 0.
        padding: ``(left, right)`` zero-filled phase-encode columns, or ``None``; written to
            the ISMRMRD header so that fastMRI's rule gives ``padding_left = left`` and
            ``padding_right = W - right``.
        val_volumes: If > 0, also write a ``val/`` split of this many volumes (see module doc).
        first_file_id: Number of the first file (``file9000000.h5``).
        fov_mm: Reconstruction field of view (square pixels assumed), for the header.
        acquisition: ``acquisition`` attribute (``CORPD_FBK`` as fastMRI knee PD).
    """

    num_volumes: int = 6
    num_slices: int = 12
    num_coils: int = 8
    kspace_shape: tuple[int, int] = (256, 128)
    recon_size: tuple[int, int] = (128, 128)
    snr: float = 30.0
    seed: int = 0
    lesion_probability: float = 0.7
    max_lesions: int = 3
    study_level_probability: float = 0.25
    padding: tuple[int, int] | None = None
    val_volumes: int = 0
    first_file_id: int = 9_000_000
    fov_mm: float = 140.0
    acquisition: str = "CORPD_FBK"
    labels: tuple[str, ...] = field(default_factory=lambda: tuple(LESION_LABELS))

    def __post_init__(self) -> None:
        H, W = self.kspace_shape
        h, w = self.recon_size
        checks = [
            (self.num_volumes >= 1, "num_volumes must be >= 1"),
            (self.num_slices >= 1, "num_slices must be >= 1"),
            (self.num_coils >= 1, "num_coils must be >= 1"),
            (h >= 8 and w >= 8, "recon_size must be at least 8 x 8"),
            (2 * h <= H, "recon_size height must be at most half the k-space readout size"),
            (w <= W, "recon_size width must not exceed the k-space phase-encode size"),
            (self.snr > 0, "snr must be positive"),
            (0.0 <= self.lesion_probability <= 1.0, "lesion_probability must be in [0, 1]"),
            (self.val_volumes >= 0, "val_volumes must be >= 0"),
            (
                0 <= self.first_file_id
                and self.first_file_id + self.num_volumes + self.val_volumes <= 10**7,
                "first_file_id must leave room for 7-digit file numbers",
            ),
            (all(lb in LESION_LABELS for lb in self.labels), "labels must be known lesions"),
        ]
        if self.padding is not None:
            left, right = self.padding
            checks.append((left >= 0 and right >= 0 and left + right < W // 2, "padding too large"))
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"synthetic data config: {message}")


#: Named acquisition geometries (``--geometry``): SynthConfig fields that a preset fixes.
#: ``fastmri-knee`` is the fastMRI multicoil knee geometry: 15 coils, 640 x 368 k-space (2x
#: readout oversampling), 320 x 320 ``reconstruction_rss``, 140 mm reconstruction FOV, and
#: zero-filled phase-encode columns at both sides. The padding (19 left, 15 right) gives
#: the header ``kspace_encoding_step_1`` center 165 and maximum 333, i.e. fastMRI's
#: ``padding_left = 368 // 2 - 165 = 19`` and ``padding_right = 19 + 334 = 353``; real knee
#: files vary from file to file, these are representative values.
GEOMETRIES: dict[str, dict] = {
    "default": {},
    "fastmri-knee": {
        "num_coils": 15,
        "kspace_shape": (640, 368),
        "recon_size": (320, 320),
        "padding": (19, 15),
        "fov_mm": 140.0,
    },
}


@dataclass(frozen=True)
class SyntheticVolume:
    """One simulated volume with its ground truth (for tests and debugging).

    Attributes:
        kspace: ``(S, coils, H, W)`` complex64, noisy, zero in padded columns.
        target: ``(S, h, w)`` float32, ``reconstruction_rss``.
        image: Noise-free complex object ``(S, H, W)`` complex64 (zero outside the central
            ``h x w`` region).
        sens: Coil sensitivities ``(S, coils, H, W)`` complex64.
        object_mask: ``(S, H, W)`` bool, the limb.
        lesion_mask: ``(S, h, w)`` float32, union of all lesion coverages (recon frame).
        annotations: fastMRI+ rows (dicts with :data:`ANNOTATION_COLUMNS`, CSV frame).
        sigma: Complex per-coil noise std.
        fname: File stem, e.g. ``file9000000``.
    """

    kspace: np.ndarray
    target: np.ndarray
    image: np.ndarray
    sens: np.ndarray
    object_mask: np.ndarray
    lesion_mask: np.ndarray
    annotations: list[dict]
    sigma: float
    fname: str


@dataclass(frozen=True)
class CoilLayout:
    """Random draws that define a volume's receive coils (see :func:`coil_sensitivities`).

    Holding the draws lets the maps be evaluated one slice at a time (a 15-coil 640 x 368
    volume's maps need about 1 GB at once), with the same values as all slices together.
    """

    shape: tuple[int, int]
    object_size: tuple[int, int]
    num_slices: int
    angle: np.ndarray  # (C,) coil positions on the ring, radians
    z_coil: np.ndarray  # (C,) out-of-plane offsets, pixels
    gain: np.ndarray  # (C,) magnitude scale
    phase: np.ndarray  # (C,) phase offset, radians
    shading: float = 0.2

    @classmethod
    def draw(
        cls,
        rng: np.random.Generator,
        num_coils: int,
        num_slices: int,
        shape: tuple[int, int],
        object_size: tuple[int, int],
        shading: float = 0.2,
    ) -> CoilLayout:
        """Draw a layout (the draws :func:`coil_sensitivities` makes, in the same order)."""
        ang = 2 * np.pi * (np.arange(num_coils) + rng.uniform(-0.2, 0.2, num_coils)) / num_coils
        ang = ang + rng.uniform(0, 2 * np.pi)
        z_coil = rng.uniform(-0.25, 0.25, num_coils) * max(object_size)
        gain = rng.uniform(0.8, 1.2, num_coils)
        phase = rng.uniform(0, 2 * np.pi, num_coils)
        return cls(tuple(shape), tuple(object_size), num_slices, ang, z_coil, gain, phase, shading)

    def maps(self, slices: slice = slice(None)) -> np.ndarray:
        """complex64 ``(S', C, H, W)`` maps of the slices ``slices`` (a Python slice)."""
        (H, W), (h, w) = self.shape, self.object_size
        rows = np.arange(H)[None, None, :, None] - (H // 2)
        cols = np.arange(W)[None, None, None, :] - (W // 2)
        pr = (0.62 * h * np.sin(self.angle))[None, :, None, None]
        pc = (0.62 * w * np.cos(self.angle))[None, :, None, None]
        d0 = 0.3 * max(h, w)
        slice_pos = (np.arange(self.num_slices) - (self.num_slices - 1) / 2) * 0.03 * max(h, w)
        z = (self.z_coil[None, :] - slice_pos[slices, None])[:, :, None, None]
        dr, dc = rows - pr, cols - pc
        mag = (d0**2 / (dr**2 + dc**2 + z**2 + d0**2)) ** 0.75 * self.gain[None, :, None, None]
        sens = mag * np.exp(1j * (self.phase[None, :, None, None] - np.arctan2(dr, dc)))
        sos = np.sqrt((np.abs(sens) ** 2).sum(1, keepdims=True))
        sens = sens / sos ** (1.0 - self.shading)
        top, left = (H - h) // 2, (W - w) // 2
        sos_obj = np.sqrt((np.abs(sens[..., top : top + h, left : left + w]) ** 2).sum(1))
        sens = sens / sos_obj.mean(axis=(-2, -1))[:, None, None, None]
        return sens.astype(np.complex64)


def coil_sensitivities(
    rng: np.random.Generator,
    num_coils: int,
    num_slices: int,
    shape: tuple[int, int],
    object_size: tuple[int, int],
    shading: float = 0.2,
) -> np.ndarray:
    """Smooth, localised, complex receive sensitivities of loop coils on a ring.

    Each coil is a small loop at distance ``d0`` out of the slice plane on an elliptical ring
    around the object (a knee coil is a cylinder around the leg): magnitude
    ``(d0^2 / (|r - p_c|^2 + z_c^2 + d0^2))^(3/4)`` (Biot-Savart-like fall-off) and phase
    ``phi_c - arg(r - p_c)`` (the in-plane field direction turns around the coil). The coil's
    out-of-plane offset ``z_c`` changes with the slice. Maps are normalised so that the sum of
    squares is ``SoS_raw ** shading`` scaled to mean 1 over the object region: about 1, with
    the mild intensity shading of real multicoil RSS images.

    Args:
        rng: Random generator.
        num_coils: Number of coils ``C``.
        num_slices: Number of slices ``S``.
        shape: Image grid ``(H, W)`` in pixels.
        object_size: ``(h, w)`` of the central object region.
        shading: 0 gives a sum of squares exactly 1 everywhere; larger keeps more of the
            coils' own fall-off.

    Returns:
        complex64 ``(S, C, H, W)``.
    """
    return CoilLayout.draw(rng, num_coils, num_slices, shape, object_size, shading).maps()


def smooth_phase(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    """Smooth random background phase (radians) ``(S, H, W)``, varying slowly across slices.

    A random linear ramp plus a low-frequency random field of about one radian amplitude, as
    produced by B0 inhomogeneity and the receive chain.
    """
    S, H, W = shape
    r = (np.arange(H) / H - 0.5)[None, :, None]
    c = (np.arange(W) / W - 0.5)[None, None, :]
    ramp = rng.uniform(-np.pi, np.pi) * r + rng.uniform(-np.pi, np.pi) * c
    field = smooth_noise(rng, (S, H, W), (1.5, H / 8, W / 8))
    return (rng.uniform(-np.pi, np.pi) + ramp + 0.8 * field).astype(np.float32)


def _choose_labels(rng: np.random.Generator, config: SynthConfig) -> list[str]:
    names = list(config.labels)
    probs = np.array([LESION_LABELS[n] for n in names])
    count = int(rng.binomial(config.max_lesions, config.lesion_probability))
    if count == 0 or not names:
        return []
    picks = rng.choice(
        len(names), size=min(count, len(names)), replace=False, p=probs / probs.sum()
    )
    return [names[i] for i in picks]


@dataclass(frozen=True)
class VolumePlan:
    """Everything of a volume except its k-space, which :meth:`slices` makes one slice at a time.

    Attributes:
        config: Dataset settings.
        image: Noise-free complex object ``(S, H, W)`` complex64.
        object_mask: ``(S, H, W)`` bool, the limb.
        coils: The coil layout (maps per slice on demand).
        sigma: Complex per-coil noise std.
        noise_seed: Seed of the k-space noise generator (drawn slice after slice).
        lesion_mask: ``(S, h, w)`` float32, union of all lesion coverages (recon frame).
        annotations: fastMRI+ rows (dicts with :data:`ANNOTATION_COLUMNS`, CSV frame).
        fname: File stem, e.g. ``file9000000``.
        sens: All coil maps ``(S, C, H, W)`` when the volume is one block (kept from the
            noise-level pass), else ``None`` (computed block by block).
    """

    config: SynthConfig
    image: np.ndarray
    object_mask: np.ndarray
    coils: CoilLayout
    sigma: float
    noise_seed: int
    lesion_mask: np.ndarray
    annotations: list[dict]
    fname: str
    sens: np.ndarray | None = None

    def blocks(self) -> Iterator[slice]:
        """Consecutive slice ranges whose k-space is at most :data:`BLOCK_BYTES` (>= 1 slice)."""
        S = self.image.shape[0]
        step = _block_slices(self.config)
        for start in range(0, S, step):
            yield slice(start, min(S, start + step))

    def slices(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield ``(kspace (C, H, W) complex64, target (h, w) float32, sens (C, H, W))`` per slice.

        Slices are computed in blocks of a few (:meth:`blocks`: small volumes in one block, a
        fastMRI-size volume two slices at a time); the noise generator runs through them in
        order, so the values equal one draw of the whole ``(S, C, H, W)`` volume.
        """
        H, W = self.config.kspace_shape
        gen = torch.Generator().manual_seed(self.noise_seed)
        for block in self.blocks():
            sens = self.sens if self.sens is not None else self.coils.maps(block)
            sens = sens[block] if self.sens is not None else sens
            kspace = fft2c(torch.from_numpy(sens * self.image[block][:, None]))
            noise = torch.randn(kspace.shape, dtype=torch.complex64, generator=gen)
            kspace = kspace + self.sigma * noise
            if self.config.padding is not None:
                pl, pr = self.config.padding
                kspace[..., :pl] = 0
                kspace[..., W - pr :] = 0
            kspace = kspace.to(torch.complex64)
            target = kspace_to_target(kspace, self.config.recon_size).numpy().astype(np.float32)
            kspace_np = kspace.numpy()
            for i in range(kspace_np.shape[0]):
                yield kspace_np[i], target[i], sens[i]


#: Largest complex64 k-space block (bytes) that :class:`VolumePlan` computes at once.
BLOCK_BYTES = 64 * 2**20


def _block_slices(config: SynthConfig) -> int:
    """Slices per block: as many as fit :data:`BLOCK_BYTES` of k-space, at least one."""
    H, W = config.kspace_shape
    return max(1, BLOCK_BYTES // (8 * config.num_coils * H * W))


def _box_rows(vol, fname: str, h: int, study_level: bool) -> list[dict]:
    """fastMRI+ CSV rows of the lesions of ``vol`` (boxes in the up/down flipped frame)."""
    rows: list[dict] = []
    for les in vol.lesions:
        for s, (bx, by, bw, bh) in zip(les.slices, les.boxes, strict=True):
            # fastMRI+ CSV boxes live in the up/down flipped frame
            rows.append(
                {
                    "file": fname,
                    "slice": s,
                    "study_level": "No",
                    "x": bx,
                    "y": h - by - bh,
                    "width": bw,
                    "height": bh,
                    "label": les.label,
                }
            )
    rows.sort(key=lambda r: (r["slice"], r["label"]))
    if study_level:
        empty = dict.fromkeys(("x", "y", "width", "height"))
        rows.append({"file": fname, "slice": 0, "study_level": "Yes", **empty, "label": "artifact"})
    return rows


def plan_volume(config: SynthConfig, index: int, study_level: bool = False) -> VolumePlan:
    """Draw volume ``index`` of a dataset (deterministic in ``(config.seed, index)``).

    Memory is ``O(S * H * W)`` (the object) plus one block's coil maps and k-space at a time
    in :meth:`VolumePlan.slices`: a 35-slice fastMRI-knee-size volume fits in about a GB.

    Args:
        config: Dataset settings.
        index: Volume number within the dataset (also selects the file name).
        study_level: Add a study-level CSV row (label ``artifact``) for this volume.
    """
    rng = np.random.default_rng([config.seed, index])
    S, C = config.num_slices, config.num_coils
    H, W = config.kspace_shape
    h, w = config.recon_size
    labels = _choose_labels(rng, config)
    vol = render_volume(rng, S, (h, w), labels)

    # Object in the central h x w region of the oversampled (H, W) grid; the same offsets as
    # advrecon.mri.center_crop so that the crop returns exactly the drawn region. The outer
    # rows taper to zero so that the object is strictly confined to the central readout half.
    top, left = (H - h) // 2, (W - w) // 2
    taper = np.ones(h, np.float32)
    n = max(2, h // 40)
    ramp = np.sin(0.5 * np.pi * (np.arange(n) + 1) / (n + 1)) ** 2
    taper[:n], taper[-n:] = ramp, ramp[::-1]
    mag = np.zeros((S, H, W), np.float32)
    mag[:, top : top + h, left : left + w] = vol.image * taper[None, :, None]
    obj = np.zeros((S, H, W), bool)
    obj[:, top : top + h, left : left + w] = vol.object_mask
    image = (mag * np.exp(1j * smooth_phase(rng, (S, H, W)))).astype(np.complex64)
    coils = CoilLayout.draw(rng, C, S, (H, W), (h, w))

    # sigma from the noise-free RSS inside the object, gathered block by block (C order, so the
    # same values in the same order as boolean indexing of the whole volume)
    inside, step = [], _block_slices(config)
    for start in range(0, S, step):
        block = slice(start, min(S, start + step))
        sens = coils.maps(block)
        clean = torch.from_numpy(sens * image[block][:, None])
        inside.append(torch.sqrt((clean.abs() ** 2).sum(1)).numpy()[obj[block]])
    sigma = float(np.concatenate(inside).mean() / config.snr)
    lesion_mask = np.zeros((S, h, w), np.float32)
    for les in vol.lesions:
        lesion_mask = np.maximum(lesion_mask, les.mask)
    fname = f"file{config.first_file_id + index:07d}"
    return VolumePlan(
        config=config,
        image=image,
        object_mask=obj,
        coils=coils,
        sigma=sigma,
        noise_seed=int(rng.integers(2**62)),
        lesion_mask=lesion_mask,
        annotations=_box_rows(vol, fname, h, study_level),
        fname=fname,
        sens=sens if step >= S else None,  # one block: keep the maps for the k-space pass
    )


def simulate_volume(config: SynthConfig, index: int, study_level: bool = False) -> SyntheticVolume:
    """Simulate volume ``index`` of a dataset in memory (deterministic in ``(seed, index)``).

    Args:
        config: Dataset settings.
        index: Volume number within the dataset (also selects the file name).
        study_level: Add a study-level CSV row (label ``artifact``) for this volume.

    Returns:
        :class:`SyntheticVolume` with k-space, target and ground truth (all slices at once; use
        :func:`plan_volume` to stream large volumes).
    """
    plan = plan_volume(config, index, study_level)
    kspace, target, sens = (np.stack(a) for a in zip(*plan.slices(), strict=True))
    return SyntheticVolume(
        kspace=kspace,
        target=target,
        image=plan.image,
        sens=sens,
        object_mask=plan.object_mask,
        lesion_mask=plan.lesion_mask,
        annotations=plan.annotations,
        sigma=plan.sigma,
        fname=plan.fname,
    )


def ismrmrd_header(config: SynthConfig, num_slices: int | None = None) -> bytes:
    """ISMRMRD XML header with the fields fastMRI's ``SliceDataset`` reads.

    ``encodedSpace/matrixSize`` = ``(H, W, 1)``, ``reconSpace/matrixSize`` = ``(h, w, 1)``
    (x = readout rows, as fastMRI uses ``recon_size[0]`` as the crop height), and
    ``encodingLimits/kspace_encoding_step_1`` with ``center = W // 2 - left`` and
    ``maximum = W - left - right - 1``, so that fastMRI's ``padding_left = W // 2 - center``
    and ``padding_right = padding_left + maximum + 1`` give ``(left, W - right)``.

    Returns:
        UTF-8 XML bytes.
    """
    H, W = config.kspace_shape
    h, w = config.recon_size
    left, right = config.padding or (0, 0)
    center = W // 2 - left
    maximum = W - left - right - 1
    px = config.fov_mm / h
    slices = config.num_slices if num_slices is None else num_slices
    return f"""<?xml version="1.0" encoding="utf-8"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD" {_XSI}>
  <version>1</version>
  <subjectInformation><patientWeight_kg>70</patientWeight_kg></subjectInformation>
  <acquisitionSystemInformation>
    <systemVendor>advrecon</systemVendor>
    <systemModel>synthetic</systemModel>
    <systemFieldStrength_T>3</systemFieldStrength_T>
    <receiverChannels>{config.num_coils}</receiverChannels>
    <institutionName>advrecon synthetic data {__version__}</institutionName>
  </acquisitionSystemInformation>
  <experimentalConditions><H1resonanceFrequency_Hz>123000000</H1resonanceFrequency_Hz></experimentalConditions>
  <encoding>
    <encodedSpace>
      <matrixSize><x>{H}</x><y>{W}</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>{H * px:.2f}</x><y>{W * px:.2f}</y><z>3</z></fieldOfView_mm>
    </encodedSpace>
    <reconSpace>
      <matrixSize><x>{h}</x><y>{w}</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>{config.fov_mm:.2f}</x><y>{w * px:.2f}</y><z>3</z></fieldOfView_mm>
    </reconSpace>
    <trajectory>cartesian</trajectory>
    <encodingLimits>
      <kspace_encoding_step_1><minimum>0</minimum><maximum>{maximum}</maximum><center>{center}</center></kspace_encoding_step_1>
      <kspace_encoding_step_2><minimum>0</minimum><maximum>0</maximum><center>0</center></kspace_encoding_step_2>
      <average><minimum>0</minimum><maximum>0</maximum><center>0</center></average>
      <slice><minimum>0</minimum><maximum>{slices - 1}</maximum><center>0</center></slice>
      <contrast><minimum>0</minimum><maximum>0</maximum><center>0</center></contrast>
      <phase><minimum>0</minimum><maximum>0</maximum><center>0</center></phase>
      <repetition><minimum>0</minimum><maximum>0</maximum><center>0</center></repetition>
      <set><minimum>0</minimum><maximum>0</maximum><center>0</center></set>
      <segment><minimum>0</minimum><maximum>0</maximum><center>0</center></segment>
    </encodingLimits>
    <parallelImaging>
      <accelerationFactor><kspace_encoding_step_1>1</kspace_encoding_step_1><kspace_encoding_step_2>1</kspace_encoding_step_2></accelerationFactor>
      <calibrationMode>other</calibrationMode>
    </parallelImaging>
  </encoding>
  <sequenceParameters>
    <TR>2750</TR><TE>27</TE><TI>100</TI><flipAngle_deg>90</flipAngle_deg>
    <sequence_type>TurboSpinEcho</sequence_type><echo_spacing>9.0</echo_spacing>
  </sequenceParameters>
</ismrmrdHeader>
""".encode()


def _write_volume(path: Path, plan: VolumePlan, config: SynthConfig) -> None:
    """Write one volume slice by slice (only one slice's k-space in memory)."""
    S, C, (H, W), (h, w) = (
        config.num_slices,
        config.num_coils,
        config.kspace_shape,
        config.recon_size,
    )
    vmax, sq = 0.0, 0.0
    with h5py.File(path, "w") as f:
        kspace = f.create_dataset("kspace", (S, C, H, W), np.complex64, chunks=(1, C, H, W))
        target = f.create_dataset("reconstruction_rss", (S, h, w), np.float32)
        for s, (k, t, _) in enumerate(plan.slices()):
            kspace[s], target[s] = k, t
            vmax, sq = max(vmax, float(t.max())), sq + float(np.square(t, dtype=np.float64).sum())
        f.create_dataset("ismrmrd_header", data=np.bytes_(ismrmrd_header(config)))
        f.attrs["acquisition"] = config.acquisition
        f.attrs["max"] = vmax
        f.attrs["norm"] = float(np.sqrt(sq))
        key = f"advrecon-synthetic-{config.seed}-{plan.fname}".encode()
        f.attrs["patient_id"] = hashlib.sha256(key).hexdigest()


def _write_split(folder: Path, config: SynthConfig) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([config.seed, 10**6])
    study = rng.uniform(size=config.num_volumes) < config.study_level_probability
    if config.study_level_probability > 0 and config.num_volumes >= 2 and not study.any():
        study[-1] = True
    paths, rows = [], []
    for i in range(config.num_volumes):
        plan = plan_volume(config, i, study_level=bool(study[i]))
        path = folder / f"{plan.fname}.h5"
        _write_volume(path, plan, config)
        paths.append(path)
        rows.extend(plan.annotations)
    df = pd.DataFrame(rows, columns=ANNOTATION_COLUMNS)
    for col in ("x", "y", "width", "height"):
        df[col] = df[col].astype("Int64")
    df.to_csv(folder / "annotations.csv", index=False)
    return paths


def _looks_generated(folder: Path) -> bool:
    """True when ``folder`` only holds what this generator writes (safe to replace)."""
    if (folder / _MARKER).is_file():
        return True
    allowed = {".h5", ".csv"}
    return all(p.is_file() and p.suffix in allowed for p in folder.iterdir())


def _unwritable(out: Path, exc: OSError) -> AdvreconError:
    """One sentence for a file-system failure while writing the dataset to ``out``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return AdvreconError(
        f"{out}: cannot write the synthetic dataset there ({reason}); nothing was written"
    )


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` folder to ``out``, replacing (and on failure restoring) it."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    try:
        os.replace(out, old / "data")
        try:
            os.replace(tmp, out)
        except OSError:
            os.replace(old / "data", out)  # put the previous dataset back
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def generate_dataset(
    out_dir: str | os.PathLike, config: SynthConfig | None = None, overwrite: bool = False
) -> list[Path]:
    """Write a synthetic knee dataset in fastMRI multicoil format, atomically.

    Everything is generated in a hidden temporary folder next to ``out_dir`` and renamed into
    place at the end, so an interrupted run leaves no half-written dataset behind.

    Args:
        out_dir: Target folder; must not exist, be empty, or (with ``overwrite``) hold a dataset
            written by this function.
        config: Settings (default :class:`SynthConfig`).
        overwrite: Replace an existing dataset.

    Returns:
        Paths of the written ``.h5`` files in their final location (train then val).

    Raises:
        AdvreconError: ``out_dir`` is a file, or holds data and ``overwrite`` is false, or holds
            files this generator did not write, or cannot be written (read-only, full disk);
            then neither a partial dataset nor a temporary folder is left behind.
    """
    config = config or SynthConfig()
    out = Path(out_dir).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise AdvreconError(f"{out}: exists and is not a folder")
    non_empty = out.is_dir() and any(out.iterdir())
    if non_empty and not overwrite:
        raise AdvreconError(
            f"{out}: folder is not empty; choose another folder or pass overwrite (--overwrite)"
        )
    if non_empty and not _looks_generated(out):
        raise AdvreconError(
            f"{out}: folder holds files that are not a synthetic dataset; refusing to replace it"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise _unwritable(out, exc) from None
    try:
        tmp.chmod(0o777 & ~process_umask())  # mkdtemp makes it private; the dataset is not
        if config.val_volumes > 0:
            val_cfg = replace(
                config,
                num_volumes=config.val_volumes,
                seed=config.seed + 1_000_003,
                first_file_id=config.first_file_id + config.num_volumes,
            )
            names = _write_split(tmp / "train", config) + _write_split(tmp / "val", val_cfg)
        else:
            names = _write_split(tmp, config)
        meta = {"generator": "advrecon.data.synthetic", "version": __version__}
        meta["config"] = {k: v for k, v in asdict(config).items()}
        (tmp / _MARKER).write_text(json.dumps(meta, indent=2, default=list))
        rel = [p.relative_to(tmp) for p in names]
        _move_into_place(tmp, out)
    except OSError as exc:
        raise _unwritable(out, exc) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return [out / r for r in rel]


# ---------------------------------------------------------------------------------------------
# command line: advrecon data synth OUT


def _pair(text: str) -> tuple[int, int]:
    parts = text.replace("x", ",").split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected two integers like 256,128, got {text!r}")
    return int(parts[0]), int(parts[1])


def register_arguments(parser: argparse.ArgumentParser, positional: bool = True) -> None:
    """Add the options of ``advrecon data synth OUT`` (and the ``out`` positional).

    Args:
        parser: The sub-command parser.
        positional: Also add the ``out`` positional argument (destination folder).
    """
    d = SynthConfig()
    if positional:
        parser.add_argument("out", type=Path, help="destination folder (created atomically)")
    parser.add_argument("--volumes", type=int, default=d.num_volumes, help="volumes (train)")
    parser.add_argument(
        "--val-volumes",
        type=int,
        default=d.val_volumes,
        help="if > 0, write train/ and val/ sub-folders with this many val volumes",
    )
    parser.add_argument("--slices", type=int, default=d.num_slices, help="slices per volume")
    parser.add_argument(
        "--geometry",
        choices=tuple(GEOMETRIES),
        default="default",
        help="acquisition geometry preset: 'fastmri-knee' = 15 coils, 640x368 k-space with "
        "padding columns, 320x320 reconstruction (options given explicitly override it)",
    )
    parser.add_argument("--coils", type=int, default=None, help=f"receive coils ({d.num_coils})")
    parser.add_argument(
        "--kspace-shape",
        type=_pair,
        default=None,
        metavar="H,W",
        help="k-space size: readout (2x oversampled), phase encode (default {},{})".format(
            *d.kspace_shape
        ),
    )
    parser.add_argument(
        "--recon-size",
        type=_pair,
        default=None,
        metavar="h,w",
        help="reconstruction size, reconstruction_rss (default {},{})".format(*d.recon_size),
    )
    parser.add_argument(
        "--snr", type=float, default=d.snr, help="mean object RSS / per-coil complex noise std"
    )
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--lesion-probability", type=float, default=d.lesion_probability)
    parser.add_argument(
        "--padding",
        type=int,
        nargs=2,
        default=None,
        metavar=("LEFT", "RIGHT"),
        help="zero-filled phase-encode columns on each side (ISMRMRD padding)",
    )
    parser.add_argument("--first-file-id", type=int, default=d.first_file_id)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset")


def config_from_args(args: argparse.Namespace) -> SynthConfig:
    """Build the :class:`SynthConfig` from parsed ``advrecon data synth`` arguments.

    The ``--geometry`` preset sets coils, k-space shape, recon size, padding and FOV; options
    given explicitly replace the preset's values.
    """
    geometry = dict(GEOMETRIES[getattr(args, "geometry", None) or "default"])
    explicit = {
        "num_coils": args.coils,
        "kspace_shape": tuple(args.kspace_shape) if args.kspace_shape else None,
        "recon_size": tuple(args.recon_size) if args.recon_size else None,
        "padding": tuple(args.padding) if args.padding else None,
    }
    geometry.update({k: v for k, v in explicit.items() if v is not None})
    return SynthConfig(
        num_volumes=args.volumes,
        num_slices=args.slices,
        **geometry,
        snr=args.snr,
        seed=args.seed,
        lesion_probability=args.lesion_probability,
        val_volumes=args.val_volumes,
        first_file_id=args.first_file_id,
    )


def run_from_args(args: argparse.Namespace) -> list[Path]:
    """``advrecon data synth``: generate the dataset described by ``args``."""
    return generate_dataset(args.out, config_from_args(args), overwrite=args.overwrite)
