"""Lazy per-slice reader for fastMRI multicoil HDF5 files.

A fastMRI multicoil file holds

* ``kspace``: complex64 ``(slices, coils, H, W)``, ``H`` the readout (2x oversampled) and ``W``
  the phase-encode direction (zero-padded at the edges, see ``padding_left/right``);
* ``reconstruction_rss`` (optional, absent in test sets): float32 ``(slices, h, w)``, the RSS of
  the fully-sampled coil images center-cropped to the reconstruction size;
* ``ismrmrd_header``: the ISMRMRD XML header with encoding and reconstruction matrix sizes;
* attributes ``acquisition``, ``max``, ``norm``, ``patient_id``.

Volumes are a few hundred MB, so :class:`FastMRIVolume` only ever reads the requested slice
(``dataset[i]`` in h5py reads just that hyperslab). Header metadata is derived exactly as in
fastMRI's ``SliceDataset._retrieve_metadata`` so that masks, padding and crops match fastMRI.

:class:`SliceDataset` turns a folder of volumes (plus optional fastMRI+ annotations, converted to
the reconstruction frame with each volume's own recon height) into a torch ``Dataset`` of
:class:`SliceSample`; :func:`collate_slices` stacks samples into a :class:`SliceBatch`.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from advrecon.boxes import Box
from advrecon.errors import AdvreconError, InputFileError
from advrecon.mri import kspace_to_target

__all__ = [
    "ISMRMRD_NAMESPACE",
    "DataWarning",
    "HeaderInfo",
    "parse_ismrmrd_header",
    "check_geometry",
    "FastMRIVolume",
    "SliceSample",
    "SliceBatch",
    "SliceDataset",
    "collate_slices",
]

log = logging.getLogger(__name__)

ISMRMRD_NAMESPACE = "http://www.ismrm.org/ISMRMRD"
_TARGET_KEY = "reconstruction_rss"


class DataWarning(UserWarning):
    """A slice is usable but suspicious (e.g. one coil holds no signal)."""


@dataclass(frozen=True)
class HeaderInfo:
    """Acquisition geometry from the ISMRMRD header (fastMRI's metadata fields).

    Attributes:
        encoding_size: Encoded matrix ``(x, y, z)``; ``x`` = readout ``H``, ``y`` = phase ``W``.
        recon_size: Reconstruction matrix ``(x, y, z)``; the target is ``(x, y)`` = ``(h, w)``.
        padding_left: First sampled phase-encode column, ``encoding_size[1] // 2 - center``.
        padding_right: One past the last sampled column, ``padding_left + enc_limits_max``.
        enc_limits_center: ``encodingLimits/kspace_encoding_step_1/center``.
        enc_limits_max: ``encodingLimits/kspace_encoding_step_1/maximum + 1`` (as in fastMRI).
    """

    encoding_size: tuple[int, int, int]
    recon_size: tuple[int, int, int]
    padding_left: int
    padding_right: int
    enc_limits_center: int
    enc_limits_max: int

    @property
    def recon_shape(self) -> tuple[int, int]:
        """Target image size ``(h, w)`` = ``recon_size[:2]``."""
        return (self.recon_size[0], self.recon_size[1])

    @property
    def padding(self) -> tuple[int, int]:
        """``(padding_left, padding_right)``, the mask-function ``padding`` argument."""
        return (self.padding_left, self.padding_right)


def _query(root: ET.Element, path: Sequence[str]) -> str | None:
    """First match of a nested descendant query (fastMRI's ``et_query``), or ``None``."""
    ns = {"ismrmrd": ISMRMRD_NAMESPACE}
    query = "." + "".join(f"//ismrmrd:{el}" for el in path)
    node = root.find(query, ns)
    return None if node is None or node.text is None else node.text.strip()


def parse_ismrmrd_header(xml: bytes | str, path: str | Path = "<ismrmrd_header>") -> HeaderInfo:
    """Parse the fields fastMRI uses from an ISMRMRD XML header.

    Args:
        xml: Header XML (the ``ismrmrd_header`` dataset of a fastMRI file).
        path: File named in error messages.

    Returns:
        :class:`HeaderInfo` with ``padding_left = encoding_size[1] // 2 - enc_limits_center`` and
        ``padding_right = padding_left + enc_limits_max``, as in fastMRI.

    Raises:
        InputFileError: The XML is malformed or lacks the matrix sizes or encoding limits.
    """
    if isinstance(xml, np.ndarray) and xml.size == 1:  # h5py may hand back a 0-d object array
        xml = xml.item()
    if not isinstance(xml, (bytes, str)):
        raise InputFileError(path, "ISMRMRD header must be an XML text, got a non-text dataset")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise InputFileError(path, f"ISMRMRD header is not valid XML ({exc})") from None

    def ints(what: str, base: list[str], keys: Sequence[str]) -> list[int]:
        values = []
        for key in keys:
            where = "/".join([*base, key])
            text = _query(root, [*base, key])
            if text is None:
                raise InputFileError(path, f"ISMRMRD header has no {what} ({where})")
            try:
                values.append(int(text))
            except ValueError:
                raise InputFileError(
                    path, f"ISMRMRD header {where} is not an integer (got {text!r})"
                ) from None
        return values

    enc = ints("encoded matrix size", ["encoding", "encodedSpace", "matrixSize"], "xyz")
    rec = ints("reconstruction matrix size", ["encoding", "reconSpace", "matrixSize"], "xyz")
    limits = ["encoding", "encodingLimits", "kspace_encoding_step_1"]
    center, maximum = ints("encoding limits", limits, ["center", "maximum"])
    enc_limits_max = maximum + 1
    padding_left = enc[1] // 2 - center
    return HeaderInfo(
        encoding_size=(enc[0], enc[1], enc[2]),
        recon_size=(rec[0], rec[1], rec[2]),
        padding_left=padding_left,
        padding_right=padding_left + enc_limits_max,
        enc_limits_center=center,
        enc_limits_max=enc_limits_max,
    )


def check_geometry(
    header: HeaderInfo,
    kspace_shape: Sequence[int],
    path: str | Path,
    target_shape: Sequence[int] | None = None,
) -> None:
    """Check that the header geometry fits the k-space (one check for ``data info`` and ``run``).

    Args:
        header: Parsed ISMRMRD header.
        kspace_shape: ``(slices, coils, H, W)``.
        path: File named in error messages.
        target_shape: ``(h, w)`` of ``reconstruction_rss`` slices, if the file has a target.

    Raises:
        InputFileError: Empty k-space, a recon size that is not positive or exceeds the k-space
            ``(H, W)`` (the center crop to it would fail), padding that leaves no sampled
            column, or a stored target whose size differs from the recon size.
    """
    slices, coils, H, W = (int(s) for s in kspace_shape)
    if min(slices, coils, H, W) < 1:
        raise InputFileError(path, f"'kspace' is empty (shape {tuple(kspace_shape)})")
    h, w = header.recon_shape
    if h < 1 or w < 1:
        raise InputFileError(path, f"ISMRMRD header recon size {(h, w)} is not positive")
    if h > H or w > W:
        raise InputFileError(
            path,
            f"ISMRMRD header recon size {(h, w)} (reconSpace/matrixSize x, y) exceeds the "
            f"k-space size {(H, W)} (H, W); the header does not belong to this k-space",
        )
    left, right = header.padding
    if not (0 <= left < right and left < W):
        raise InputFileError(
            path,
            f"ISMRMRD header padding ({left}, {right}) from encodedSpace/matrixSize/y "
            f"{header.encoding_size[1]} and kspace_encoding_step_1 center "
            f"{header.enc_limits_center} / maximum {header.enc_limits_max - 1} leaves no "
            f"sampled column of the {W} k-space columns",
        )
    if target_shape is not None and tuple(target_shape) != (h, w):
        raise InputFileError(
            path,
            f"'{_TARGET_KEY}' slices are {tuple(target_shape)} but the ISMRMRD header recon "
            f"size is {(h, w)}",
        )


def _plain(value: Any) -> Any:
    """h5py attribute -> plain Python scalar / str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return value.item() if value.size == 1 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


class FastMRIVolume:
    """One fastMRI multicoil HDF5 file, read one slice at a time.

    Opening validates the file (HDF5, ``kspace`` of rank 4 and complex dtype, a parsable ISMRMRD
    header, a ``reconstruction_rss`` of rank 3 if present) and reads only metadata. Each
    :meth:`kspace` / :meth:`target` call opens the file, reads one slice and closes it again (safe
    with DataLoader workers); use the volume as a context manager to keep the file open for many
    reads.

    Args:
        path: Path to the ``.h5`` file.

    Attributes:
        path: The file.
        fname: Volume name as used by fastMRI+ (file stem, e.g. ``"file1000001"``).
        shape: k-space shape ``(slices, coils, H, W)``.
        header: :class:`HeaderInfo`.
        attrs: File attributes as plain Python values (``acquisition``, ``max``, ``norm``, ...).
        has_target: Whether ``reconstruction_rss`` is present.

    Raises:
        InputFileError: Missing file, not HDF5, missing/ill-shaped ``kspace``, bad header.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fname = self.path.stem
        self._h5: h5py.File | None = None
        with self._open() as hf:
            try:
                self._read_metadata(hf)
            except (OSError, RuntimeError, KeyError) as exc:  # h5py's errors for broken files
                raise self._corrupt(exc) from None
        check_geometry(self.header, self.shape, self.path, self.target_shape)

    def _read_metadata(self, hf: h5py.File) -> None:
        """Validate the datasets of an open file and read shapes, header and attributes."""
        if "kspace" not in hf or not isinstance(hf["kspace"], h5py.Dataset):
            raise InputFileError(self.path, "has no 'kspace' dataset")
        kspace = hf["kspace"]
        if kspace.ndim != 4:
            raise InputFileError(
                self.path,
                f"'kspace' must have 4 dimensions (slices, coils, H, W), got shape "
                f"{tuple(kspace.shape)}; single-coil files are not supported",
            )
        if kspace.dtype.kind != "c":
            raise InputFileError(self.path, f"'kspace' must be complex, got {kspace.dtype}")
        self.shape: tuple[int, int, int, int] = tuple(int(s) for s in kspace.shape)
        header = hf.get("ismrmrd_header")
        if not isinstance(header, h5py.Dataset):
            raise InputFileError(self.path, "has no 'ismrmrd_header' dataset")
        self.header = parse_ismrmrd_header(header[()], self.path)
        self.has_target = _TARGET_KEY in hf
        self.target_shape: tuple[int, int] | None = None
        if self.has_target:
            target = hf[_TARGET_KEY]
            if not isinstance(target, h5py.Dataset) or target.dtype.kind not in "fiu":
                what = target.dtype if isinstance(target, h5py.Dataset) else "a group"
                raise InputFileError(self.path, f"'{_TARGET_KEY}' must be real, got {what}")
            if target.ndim != 3 or target.shape[0] != self.shape[0]:
                raise InputFileError(
                    self.path,
                    f"'{_TARGET_KEY}' must have shape (slices, h, w) with {self.shape[0]} "
                    f"slices, got {tuple(target.shape)}",
                )
            self.target_shape = (int(target.shape[1]), int(target.shape[2]))
        self.attrs: dict[str, Any] = {k: _plain(v) for k, v in hf.attrs.items()}

    # -- file handling ---------------------------------------------------------------------
    def _corrupt(self, exc: BaseException) -> InputFileError:
        """The error for an HDF5 file whose structure or data cannot be read."""
        reason = str(exc).split("(")[0].strip().rstrip(",") or type(exc).__name__
        return InputFileError(self.path, f"is a truncated or corrupt HDF5 file ({reason})")

    def _open(self) -> h5py.File:
        if self.path.is_symlink() and not self.path.exists():
            target = os.readlink(self.path)
            raise InputFileError(self.path, f"is a broken symbolic link (to {target})")
        if not self.path.exists():
            raise InputFileError(self.path, "file does not exist")
        if self.path.is_dir():
            raise InputFileError(self.path, "is a directory, not an HDF5 file")
        if self.path.stat().st_size == 0:
            raise InputFileError(self.path, "is empty (0 bytes), not an HDF5 file")
        try:
            return h5py.File(self.path, "r")
        except OSError as exc:
            if "truncated file" in str(exc):
                size = self.path.stat().st_size
                stored = re.search(r"stored_eof = (\d+)", str(exc))
                need = f", the file header says {stored.group(1)}" if stored else ""
                raise InputFileError(
                    self.path,
                    f"is a truncated or corrupt HDF5 file ({size} bytes on disk{need}); "
                    "copy or download it again",
                ) from None
            if not os.access(self.path, os.R_OK):
                raise InputFileError(self.path, "cannot be read (permission denied)") from None
            try:
                is_hdf5 = h5py.is_hdf5(self.path)
            except OSError:
                is_hdf5 = True  # unreadable for another reason: report h5py's instead
            if not is_hdf5:
                raise InputFileError(self.path, "is not an HDF5 file") from None
            detail = re.search(r"\((.*)\)\s*$", str(exc))
            reason = detail.group(1) if detail else str(exc) or type(exc).__name__
            raise InputFileError(
                self.path, f"is a truncated or corrupt HDF5 file (h5py: {reason})"
            ) from None

    def open(self) -> FastMRIVolume:
        """Keep the file open for subsequent reads (until :meth:`close`)."""
        if self._h5 is None:
            self._h5 = self._open()
        return self

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __enter__(self) -> FastMRIVolume:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:  # h5py handles must not cross process boundaries
        state = self.__dict__.copy()
        state["_h5"] = None
        return state

    def _read(self, key: str, index: int) -> np.ndarray:
        try:
            if self._h5 is not None:
                return np.asarray(self._h5[key][index])
            with self._open() as hf:
                return np.asarray(hf[key][index])
        except (OSError, RuntimeError) as exc:  # h5py cannot read the chunk: damaged file
            raise self._corrupt(exc) from None

    # -- metadata ----------------------------------------------------------------------------
    @property
    def num_slices(self) -> int:
        return self.shape[0]

    @property
    def num_coils(self) -> int:
        return self.shape[1]

    @property
    def recon_size(self) -> tuple[int, int]:
        """Target image size ``(h, w)`` from the header."""
        return self.header.recon_shape

    @property
    def padding(self) -> tuple[int, int]:
        """``(padding_left, padding_right)`` from the header."""
        return self.header.padding

    def _check_index(self, slice_num: int) -> int:
        if isinstance(slice_num, bool) or not isinstance(slice_num, (int, np.integer)):
            raise TypeError(f"slice index must be an int, got {type(slice_num).__name__}")
        if not 0 <= slice_num < self.num_slices:
            raise InputFileError(
                self.path,
                f"slice {slice_num} is out of range (the volume has {self.num_slices} slices, "
                f"0 to {self.num_slices - 1})",
            )
        return int(slice_num)

    # -- data ----------------------------------------------------------------------------------
    def kspace(self, slice_num: int) -> torch.Tensor:
        """Fully-sampled multicoil k-space of one slice.

        Degenerate slices are errors, not skipped: a slice without signal or with NaN/Inf would
        only give NaN metrics, and a run must never report those as results. A single coil
        without signal is only a :class:`DataWarning` (the other coils still carry the image).

        Args:
            slice_num: Slice index in ``[0, num_slices)``.

        Returns:
            complex64 tensor ``(coils, H, W)``.

        Raises:
            InputFileError: Index out of range, or the slice contains NaN/Inf or is all zero.
        """
        i = self._check_index(slice_num)
        data = self._read("kspace", i)
        if not np.isfinite(data).all():
            raise InputFileError(self.path, f"k-space slice {i} contains NaN or Inf values")
        energy = np.abs(data).reshape(data.shape[0], -1).max(axis=1)  # (coils,)
        if not energy.any():
            raise InputFileError(self.path, f"k-space slice {i} is all zero (no signal)")
        if not energy.all():
            coils = ", ".join(str(c) for c in np.flatnonzero(energy == 0))
            warnings.warn(
                f"{self.path}: k-space slice {i}: coil(s) {coils} of {data.shape[0]} hold no "
                "signal (all zero)",
                DataWarning,
                stacklevel=2,
            )
        return torch.from_numpy(data.astype(np.complex64, copy=False))

    def target(self, slice_num: int) -> torch.Tensor | None:
        """The stored ``reconstruction_rss`` of one slice, float32 ``(h, w)``, or ``None``.

        Raises:
            InputFileError: Index out of range, or the stored target has NaN/Inf or is all zero
                (SSIM/PSNR against it would be NaN).
        """
        i = self._check_index(slice_num)
        if not self.has_target:
            return None
        data = self._read(_TARGET_KEY, i).astype(np.float32, copy=False)
        if not np.isfinite(data).all():
            raise InputFileError(self.path, f"'{_TARGET_KEY}' slice {i} contains NaN or Inf")
        if not data.any():
            raise InputFileError(self.path, f"'{_TARGET_KEY}' slice {i} is all zero (no signal)")
        return torch.from_numpy(data)

    def image(self, slice_num: int) -> torch.Tensor:
        """The reference image of a slice: the stored target, else the RSS of its k-space.

        Returns:
            float32 ``(h, w)``.

        Raises:
            InputFileError: The slice is degenerate (see :meth:`kspace` and :meth:`target`), or
                its computed RSS is zero inside the reconstruction crop.
        """
        kspace = self.kspace(slice_num)
        target = self.target(slice_num)
        return target if target is not None else self.rss(kspace, slice_num)

    def rss(self, kspace: torch.Tensor, slice_num: int) -> torch.Tensor:
        """RSS of a slice's k-space ``(coils, H, W)``, cropped: float32 ``(h, w)``.

        Raises:
            InputFileError: The image is zero everywhere inside the reconstruction crop.
        """
        image = kspace_to_target(kspace[None], self.recon_size)[0]
        if not bool((image > 0).any()):
            raise InputFileError(
                self.path, f"slice {slice_num}: the RSS image is zero inside the recon crop"
            )
        return image

    def max_value(self, image: torch.Tensor) -> float:
        """fastMRI's ``max_value``: the file attribute ``max``, else the maximum of ``image``.

        Raises:
            InputFileError: The attribute is there but not a positive finite number.
        """
        if "max" not in self.attrs:
            return float(image.max())
        value = self.attrs["max"]
        number = float(value) if isinstance(value, (int, float)) else float("nan")
        if isinstance(value, bool) or not (np.isfinite(number) and number > 0):
            raise InputFileError(
                self.path, f"attribute 'max' must be a positive number, got {value!r}"
            )
        return number

    def check_slices(self, slices: Sequence[int] | None = None) -> None:
        """Read and check slices (all by default) so that bad data fails before any work.

        Raises:
            InputFileError: The first degenerate slice (see :meth:`image`), or a bad ``max``.
        """
        keep_open = self._h5 is None
        if keep_open:
            self.open()
        try:
            for i in range(self.num_slices) if slices is None else slices:
                self.max_value(self.image(i))
        finally:
            if keep_open:
                self.close()

    def __len__(self) -> int:
        return self.num_slices

    def __repr__(self) -> str:
        return f"FastMRIVolume({str(self.path)!r}, shape={self.shape})"


@dataclass
class SliceSample:
    """One fully-sampled slice with its annotations (reconstruction frame).

    Attributes:
        kspace: complex64 ``(coils, H, W)``, fully sampled.
        target: float32 ``(h, w)`` stored RSS target, or ``None`` when the file has none (use
            ``advrecon.mri.kspace_to_target``).
        recon_size: ``(h, w)``.
        padding: ``(padding_left, padding_right)``.
        fname: Volume name (file stem, e.g. ``"file1000001"``).
        slice_num: Slice index in the volume.
        boxes: fastMRI+ boxes of this slice in the reconstruction frame.
        study_labels: Whole-volume fastMRI+ labels (e.g. ``["artifact"]``).
        max_value: Volume maximum of the target (file attribute ``max``; without it, the maximum
            of this slice's target).
    """

    kspace: torch.Tensor
    target: torch.Tensor | None
    recon_size: tuple[int, int]
    padding: tuple[int, int]
    fname: str
    slice_num: int
    boxes: list[Box] = field(default_factory=list)
    study_labels: list[str] = field(default_factory=list)
    max_value: float = 0.0


@dataclass
class SliceBatch:
    """A batch of :class:`SliceSample` (see :func:`collate_slices`).

    Attributes:
        kspace: complex64 ``(B, coils, H, W)``.
        target: float32 ``(B, h, w)``, or ``None`` if any sample has no stored target.
        recon_size: ``(h, w)``, shared by the batch.
        padding: One ``(padding_left, padding_right)`` per sample.
        fname: Volume names, length ``B``.
        slice_num: long ``(B,)``.
        boxes: Per-sample lists of boxes.
        study_labels: Per-sample lists of study-level labels.
        max_value: float32 ``(B,)``.
    """

    kspace: torch.Tensor
    target: torch.Tensor | None
    recon_size: tuple[int, int]
    padding: list[tuple[int, int]]
    fname: list[str]
    slice_num: torch.Tensor
    boxes: list[list[Box]]
    study_labels: list[list[str]]
    max_value: torch.Tensor

    def __len__(self) -> int:
        return self.kspace.shape[0]


def collate_slices(samples: Sequence[SliceSample]) -> SliceBatch:
    """Stack slices into a batch (``collate_fn`` for a torch ``DataLoader``).

    Raises:
        AdvreconError: The samples differ in k-space shape or reconstruction size.
    """
    if not samples:
        raise ValueError("collate_slices needs at least one sample")
    first = samples[0]
    for s in samples[1:]:
        if s.kspace.shape != first.kspace.shape or tuple(s.recon_size) != tuple(first.recon_size):
            raise AdvreconError(
                f"cannot batch {s.fname} slice {s.slice_num} (k-space {tuple(s.kspace.shape)}, "
                f"recon size {tuple(s.recon_size)}) with {first.fname} slice {first.slice_num} "
                f"(k-space {tuple(first.kspace.shape)}, recon size {tuple(first.recon_size)})"
            )
    targets = [s.target for s in samples]
    return SliceBatch(
        kspace=torch.stack([s.kspace for s in samples]),
        target=None if any(t is None for t in targets) else torch.stack(targets),
        recon_size=tuple(first.recon_size),
        padding=[tuple(s.padding) for s in samples],
        fname=[s.fname for s in samples],
        slice_num=torch.tensor([s.slice_num for s in samples], dtype=torch.long),
        boxes=[list(s.boxes) for s in samples],
        study_labels=[list(s.study_labels) for s in samples],
        max_value=torch.tensor([s.max_value for s in samples], dtype=torch.float32),
    )


SliceSelection = Sequence[int] | slice | Mapping[str, Sequence[int]] | None


class SliceDataset(Dataset):
    """All (or selected) slices of a folder of fastMRI multicoil files.

    Args:
        root: Folder of ``*.h5`` files (sorted by name), or a single ``.h5`` file.
        annotations: fastMRI+ CSV path, :class:`~advrecon.data.annotations.Annotations`, an
            :class:`~advrecon.data.annotations.AnnotationIndex` or a bare annotation table (taken
            to be in the CSV frame). CSV-frame annotations are converted to the reconstruction frame
            with each volume's own recon height and width (rows of other volumes are ignored).
        annotated_only: Keep only slices with at least one box.
        box_policy: ``"all"`` boxes of a slice, or only the ``"first"``.
        slices: Which slices of each volume: ``None`` (all), a sequence of indices or a
            ``slice`` applied to every volume (indices beyond a volume's size are skipped), or a
            mapping ``fname -> indices`` (volumes not in it are skipped; an index out of range
            is an error).

    Raises:
        InputFileError: ``root`` or a file in it is missing or malformed, or has no ``.h5``.
    """

    def __init__(
        self,
        root: str | Path,
        annotations: Any = None,
        annotated_only: bool = False,
        box_policy: str = "all",
        slices: SliceSelection = None,
    ) -> None:
        from advrecon.data import annotations as ann

        if box_policy not in ann.BOX_POLICIES:
            raise ValueError(f"box_policy must be one of {ann.BOX_POLICIES}, got {box_policy!r}")
        if annotated_only and annotations is None:
            raise ValueError("annotated_only=True needs annotations")
        root = Path(root)
        if not root.exists():
            raise InputFileError(root, "data folder does not exist")
        files = [root] if root.is_file() else sorted(root.glob("*.h5"))
        if not files:
            raise InputFileError(root, "contains no .h5 files")
        self.root = root
        self.volumes = [FastMRIVolume(f) for f in files]

        self.annotations = self._index(annotations, box_policy, ann)
        self.samples: list[tuple[int, int]] = []
        for v, volume in enumerate(self.volumes):
            for i in self._selected(volume, slices):
                if annotated_only and not self.annotations.boxes(volume.fname, i):
                    continue
                self.samples.append((v, i))

    def _index(self, annotations: Any, box_policy: str, ann: Any):
        if annotations is None:
            return None
        heights = {v.fname: v.recon_size[0] for v in self.volumes}
        widths = {v.fname: v.recon_size[1] for v in self.volumes}
        if isinstance(annotations, (str, Path)):
            counts = {v.fname: v.num_slices for v in self.volumes}
            table = ann.load_annotations(
                annotations, heights, box_policy, recon_width=widths, num_slices=counts
            )
            return ann.AnnotationIndex(table)
        if isinstance(annotations, ann.AnnotationIndex):
            loaded = ann.Annotations(
                annotations.table, annotations.in_recon_frame, box_rows=annotations.box_rows
            )
        elif isinstance(annotations, ann.Annotations):
            loaded = annotations
        elif isinstance(annotations, pd.DataFrame):
            loaded = ann.Annotations(annotations)  # a bare table: the CSV frame, as published
        else:
            raise TypeError(
                "annotations must be a CSV path, Annotations, an AnnotationIndex or a DataFrame, "
                f"got {type(annotations).__name__}"
            )
        if not loaded.in_recon_frame:
            loaded = ann.to_recon_frame(loaded, heights, widths)
        return ann.AnnotationIndex(ann.apply_box_policy(loaded, box_policy))

    def _selected(self, volume: FastMRIVolume, slices: SliceSelection) -> list[int]:
        n = volume.num_slices
        if slices is None:
            return list(range(n))
        if isinstance(slices, slice):
            return list(range(n))[slices]
        if isinstance(slices, Mapping):
            if volume.fname not in slices:
                return []
            chosen = [int(i) for i in slices[volume.fname]]
            for i in chosen:
                volume._check_index(i)
            return chosen
        return [int(i) for i in slices if 0 <= int(i) < n]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> SliceSample:
        v, i = self.samples[index]
        volume = self.volumes[v]
        kspace = volume.kspace(i)
        target = volume.target(i)
        image = target if target is not None else volume.rss(kspace, i)
        max_value = volume.max_value(image)
        ann = self.annotations
        return SliceSample(
            kspace=kspace,
            target=target,
            recon_size=volume.recon_size,
            padding=volume.padding,
            fname=volume.fname,
            slice_num=i,
            boxes=ann.boxes(volume.fname, i) if ann is not None else [],
            study_labels=ann.study_labels(volume.fname) if ann is not None else [],
            max_value=max_value,
        )

    def __repr__(self) -> str:
        return f"SliceDataset({str(self.root)!r}, {len(self.volumes)} volumes, {len(self)} slices)"
