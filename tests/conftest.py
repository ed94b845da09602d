"""Shared test fixtures: tiny fastMRI-format multicoil files with a valid ISMRMRD header."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from advrecon.mri import kspace_to_target

_HEADER = """<?xml version="1.0" encoding="utf-8"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD"
  xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <experimentalConditions><H1resonanceFrequency_Hz>63500000</H1resonanceFrequency_Hz>
  </experimentalConditions>
  <encoding>
    <encodedSpace>
      <matrixSize><x>{enc[0]}</x><y>{enc[1]}</y><z>{enc[2]}</z></matrixSize>
      <fieldOfView_mm><x>280</x><y>140</y><z>4.5</z></fieldOfView_mm>
    </encodedSpace>
    <reconSpace>
      <matrixSize><x>{rec[0]}</x><y>{rec[1]}</y><z>{rec[2]}</z></matrixSize>
      <fieldOfView_mm><x>140</x><y>140</y><z>3</z></fieldOfView_mm>
    </reconSpace>
    <trajectory>cartesian</trajectory>
    <encodingLimits>
      <kspace_encoding_step_0><minimum>0</minimum><maximum>99</maximum><center>50</center>
      </kspace_encoding_step_0>
      <kspace_encoding_step_1><minimum>0</minimum><maximum>{maximum}</maximum>
        <center>{center}</center></kspace_encoding_step_1>
      <kspace_encoding_step_2><minimum>0</minimum><maximum>0</maximum><center>0</center>
      </kspace_encoding_step_2>
      <slice><minimum>0</minimum><maximum>34</maximum><center>17</center></slice>
    </encodingLimits>
  </encoding>
</ismrmrdHeader>
"""


def ismrmrd_header(
    enc: tuple[int, int, int] = (16, 12, 1),
    rec: tuple[int, int, int] = (8, 8, 1),
    center: int = 5,
    maximum: int = 9,
) -> bytes:
    """ISMRMRD XML with the fields fastMRI reads (encoded/recon matrix, step_1 limits)."""
    return _HEADER.format(enc=enc, rec=rec, center=center, maximum=maximum).encode()


def write_fastmri_file(
    path: Path,
    *,
    num_slices: int = 3,
    num_coils: int = 2,
    shape: tuple[int, int] = (16, 12),
    recon: tuple[int, int] = (8, 8),
    center: int = 5,
    maximum: int = 9,
    target: bool = True,
    header: bytes | None = None,
    kspace: np.ndarray | None = None,
    attrs: dict | None = None,
    seed: int = 0,
) -> Path:
    """Write a tiny fastMRI multicoil file; k-space ``(slices, coils, H, W)`` complex64."""
    if kspace is None:
        rng = np.random.default_rng(seed)
        size = (num_slices, num_coils, *shape)
        kspace = (rng.standard_normal(size) + 1j * rng.standard_normal(size)).astype(np.complex64)
    if header is None:
        header = ismrmrd_header((*shape, 1), (*recon, 1), center, maximum)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as hf:
        hf.create_dataset("kspace", data=kspace)
        hf.create_dataset("ismrmrd_header", data=header)
        if target and kspace.ndim == 4 and np.iscomplexobj(kspace):
            rss = kspace_to_target(torch.from_numpy(kspace.astype(np.complex64)), recon).numpy()
            hf.create_dataset("reconstruction_rss", data=rss.astype(np.float32))
            hf.attrs["max"] = float(rss.max())
            hf.attrs["norm"] = float(np.linalg.norm(rss))
        hf.attrs["acquisition"] = "CORPD_FBK"
        hf.attrs["patient_id"] = "abc123"
        for key, value in (attrs or {}).items():
            hf.attrs[key] = value
    return path


@pytest.fixture
def fastmri_file(tmp_path: Path) -> Path:
    """A valid tiny multicoil file ``file1000001.h5``: 3 slices, 2 coils, 16x12, recon 8x8."""
    return write_fastmri_file(tmp_path / "file1000001.h5")


@pytest.fixture
def make_fastmri_file() -> Callable[..., Path]:
    """Factory ``make_fastmri_file(path, **options) -> path`` (see ``write_fastmri_file``)."""
    return write_fastmri_file


@pytest.fixture
def make_ismrmrd_header() -> Callable[..., bytes]:
    """Factory ``make_ismrmrd_header(enc, rec, center, maximum) -> bytes``."""
    return ismrmrd_header


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    the CI box is shared and the attack tests' tiny tensors do not need threads."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
