"""The fastMRI knee geometry of the synthetic generator (``--geometry fastmri-knee``)."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from advrecon.data import synthetic
from advrecon.data.fastmri import FastMRIVolume
from advrecon.data.synthetic import GEOMETRIES, SynthConfig, generate_dataset, plan_volume
from advrecon.mri import kspace_to_target

KNEE_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "fastmri_plus" / "knee.csv"
NS = "{http://www.ismrm.org/ISMRMRD}"
FULL = SynthConfig(
    **GEOMETRIES["fastmri-knee"], num_volumes=1, num_slices=2, seed=5, lesion_probability=1.0
)


def _q(root, *path) -> int:
    """fastMRI's et_query (nested './/ns:a//ns:b' lookup), as an integer."""
    return int(root.find(".//" + "//".join(NS + p for p in path)).text)


@pytest.fixture(scope="module")
def knee_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("knee") / "data"
    return generate_dataset(out, FULL)[0]


def test_fastmri_knee_shapes_and_padding(knee_file):
    with h5py.File(knee_file, "r") as f:
        kspace, target = f["kspace"][()], f["reconstruction_rss"][()]
        root = ET.fromstring(f["ismrmrd_header"][()])
        assert f.attrs["acquisition"] == "CORPD_FBK"
    assert kspace.shape == (2, 15, 640, 368) and kspace.dtype == np.complex64
    assert target.shape == (2, 320, 320) and target.dtype == np.float32
    # fastMRI's SliceDataset rule, computed here from the XML independently of advrecon
    enc_y = _q(root, "encoding", "encodedSpace", "matrixSize", "y")
    center = _q(root, "encodingLimits", "kspace_encoding_step_1", "center")
    maximum = _q(root, "encodingLimits", "kspace_encoding_step_1", "maximum") + 1
    left = enc_y // 2 - center
    right = left + maximum
    assert (left, right) == (19, 353)
    assert [_q(root, "encoding", "reconSpace", "matrixSize", a) for a in "xy"] == [320, 320]
    assert [_q(root, "encoding", "encodedSpace", "matrixSize", a) for a in "xy"] == [640, 368]
    col_energy = np.abs(kspace).sum(axis=(0, 1, 2))
    assert (col_energy[:left] == 0).all() and (col_energy[right:] == 0).all()
    assert (col_energy[left:right] > 0).all()
    # the target is the RSS of the stored (padded) k-space, cropped to 320 x 320
    expected = kspace_to_target(torch.from_numpy(kspace), (320, 320)).numpy()
    np.testing.assert_allclose(target, expected, rtol=1e-5, atol=1e-6 * expected.max())
    volume = FastMRIVolume(knee_file)
    assert (volume.header.padding_left, volume.header.padding_right) == (19, 353)
    assert volume.header.recon_shape == (320, 320)


def test_fastmri_knee_boxes_flipped_over_lesions(knee_file):
    table = pd.read_csv(knee_file.parent / "annotations.csv")
    plan = plan_volume(FULL, 0)
    boxes = table[table.study_level == "No"]
    assert len(boxes) > 0
    for row in boxes.itertuples():
        assert 0 <= row.x and row.x + row.width <= 320 and 0 <= row.y and row.y + row.height <= 320
        top = 320 - row.y - row.height  # fastMRI+ y counts from the flipped image's top
        inside = plan.lesion_mask[row.slice, top : top + row.height, row.x : row.x + row.width]
        assert inside.mean() > 2 * plan.lesion_mask[row.slice].mean()


@pytest.mark.skipif(not KNEE_CSV.is_file(), reason="../shared fastMRI+ knee.csv not present")
def test_annotation_columns_as_published(knee_file):
    published = pd.read_csv(KNEE_CSV, nrows=5)
    ours = pd.read_csv(knee_file.parent / "annotations.csv")
    assert list(ours.columns) == list(published.columns)
    assert ours.study_level.isin(published.study_level.unique().tolist() + ["Yes", "No"]).all()


def test_streamed_file_equals_in_memory_volume(tmp_path, monkeypatch):
    cfg = SynthConfig(
        num_volumes=1,
        num_slices=3,
        num_coils=3,
        kspace_shape=(48, 40),
        recon_size=(24, 24),
        padding=(3, 2),
        seed=9,
    )
    vol = synthetic.simulate_volume(cfg, 0)  # one block: the whole volume at once
    monkeypatch.setattr(synthetic, "BLOCK_BYTES", 1)  # one slice per block, as at full size
    assert [b.stop - b.start for b in plan_volume(cfg, 0).blocks()] == [1, 1, 1]
    path = generate_dataset(tmp_path / "d", cfg)[0]
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f["kspace"][()], vol.kspace)
        np.testing.assert_array_equal(f["reconstruction_rss"][()], vol.target)
        assert f.attrs["max"] == pytest.approx(float(vol.target.max()))
    np.testing.assert_array_equal(synthetic.simulate_volume(cfg, 0).sens, vol.sens)


def test_geometry_option_and_overrides():
    parser = argparse.ArgumentParser()
    synthetic.register_arguments(parser)
    cfg = synthetic.config_from_args(parser.parse_args(["out", "--geometry", "fastmri-knee"]))
    assert (cfg.num_coils, cfg.kspace_shape, cfg.recon_size) == (15, (640, 368), (320, 320))
    assert cfg.padding == (19, 15)
    args = parser.parse_args(["out", "--geometry", "fastmri-knee", "--coils", "4", "--slices", "2"])
    cfg = synthetic.config_from_args(args)
    assert cfg.num_coils == 4 and cfg.num_slices == 2 and cfg.kspace_shape == (640, 368)
    assert synthetic.config_from_args(parser.parse_args(["out"])) == SynthConfig()
    with pytest.raises(SystemExit):
        parser.parse_args(["out", "--geometry", "brain"])
