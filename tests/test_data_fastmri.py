"""fastMRI multicoil reader: ISMRMRD header, lazy per-slice reads, SliceDataset."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from advrecon.boxes import Box
from advrecon.data.fastmri import (
    FastMRIVolume,
    HeaderInfo,
    SliceDataset,
    collate_slices,
    parse_ismrmrd_header,
)
from advrecon.errors import AdvreconError, InputFileError
from advrecon.mri import kspace_to_target


def test_parse_header_knee_geometry(make_ismrmrd_header):
    # fastMRI knee-like geometry: 640 x 368 encoded, 320 x 320 recon
    xml = make_ismrmrd_header((640, 368, 1), (320, 320, 1), center=165, maximum=333)
    info = parse_ismrmrd_header(xml)
    assert info == HeaderInfo(
        encoding_size=(640, 368, 1),
        recon_size=(320, 320, 1),
        padding_left=368 // 2 - 165,  # 19
        padding_right=19 + 334,  # padding_left + (maximum + 1)
        enc_limits_center=165,
        enc_limits_max=334,
    )
    assert info.recon_shape == (320, 320) and info.padding == (19, 353)
    assert parse_ismrmrd_header(xml.decode()) == info  # str works too


def test_parse_header_uses_kspace_encoding_step_1(make_ismrmrd_header):
    # step_0 (center 50) and slice limits come first in the XML and must not be picked up
    info = parse_ismrmrd_header(make_ismrmrd_header((16, 12, 1), (8, 8, 1), 5, 9))
    assert (info.enc_limits_center, info.enc_limits_max) == (5, 10)
    assert info.padding == (1, 11)


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (b"<ismrmrdHeader", "not valid XML"),
        (b'<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD"/>', "no encoded matrix size"),
        # without the ISMRMRD namespace nothing is found (fastMRI's et_query behaves the same)
        (b"<ismrmrdHeader><encoding/></ismrmrdHeader>", "no encoded matrix size"),
    ],
)
def test_parse_header_errors(xml, expected):
    with pytest.raises(InputFileError, match=expected) as info:
        parse_ismrmrd_header(xml, "vol.h5")
    assert info.value.path == "vol.h5"


def test_parse_header_without_limits(make_ismrmrd_header):
    xml = make_ismrmrd_header().replace(b"<center>5</center>", b"")
    with pytest.raises(InputFileError, match="no encoding limits"):
        parse_ismrmrd_header(xml, "vol.h5")


def test_volume_metadata_and_reads(fastmri_file):
    volume = FastMRIVolume(fastmri_file)
    assert volume.fname == "file1000001"
    assert volume.shape == (3, 2, 16, 12) and volume.num_slices == 3 and volume.num_coils == 2
    assert volume.recon_size == (8, 8) and volume.padding == (1, 11)
    assert volume.attrs["acquisition"] == "CORPD_FBK" and isinstance(volume.attrs["max"], float)
    with h5py.File(fastmri_file, "r") as hf:
        expected = hf["kspace"][1]
        expected_target = hf["reconstruction_rss"][1]
    kspace = volume.kspace(1)
    assert kspace.dtype == torch.complex64 and kspace.shape == (2, 16, 12)
    np.testing.assert_array_equal(kspace.numpy(), expected)
    target = volume.target(1)
    assert target.dtype == torch.float32 and target.shape == (8, 8)
    np.testing.assert_array_equal(target.numpy(), expected_target)
    with volume:  # keeps the file open for several reads
        assert torch.equal(volume.kspace(1), kspace)
    assert volume._h5 is None


def test_volume_reads_only_the_requested_slice(fastmri_file, monkeypatch):
    reads = []
    original = h5py.Dataset.__getitem__

    def spy(self, args, *rest, **kwargs):
        reads.append((self.name, args))
        return original(self, args, *rest, **kwargs)

    volume = FastMRIVolume(fastmri_file)
    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    volume.kspace(2)
    volume.target(0)
    assert reads == [("/kspace", 2), ("/reconstruction_rss", 0)]


def test_nan_only_fails_the_affected_slice(tmp_path, make_fastmri_file):
    kspace = np.ones((3, 2, 16, 12), np.complex64)
    kspace[2, 1, 3, 4] = np.nan
    path = make_fastmri_file(tmp_path / "nan.h5", kspace=kspace, target=False)
    volume = FastMRIVolume(path)
    assert volume.kspace(0).shape == (2, 16, 12)  # other slices are never read
    assert volume.target(0) is None
    with pytest.raises(InputFileError, match="k-space slice 2 contains NaN or Inf"):
        volume.kspace(2)


def _write_csv(path, rows):
    path.write_text("file,slice,study_level,x,y,width,height,label\n" + rows)
    return path


@pytest.fixture
def data_dir(tmp_path, make_fastmri_file):
    """Two volumes with different recon heights (8 and 10) plus annotations.csv."""
    root = tmp_path / "data"
    make_fastmri_file(root / "file1000001.h5", recon=(8, 8))
    make_fastmri_file(root / "file1000002.h5", recon=(10, 8), seed=1, attrs={"max": 7.5})
    _write_csv(
        tmp_path / "annotations.csv",
        "file1000001,1,No,1,2,3,4,A\n"
        "file1000001,1,No,0,0,2,2,B\n"
        "file1000002,0,No,1,2,3,4,C\n"
        "file1000002,0,Yes,,,,,artifact\n"
        "file9999999,0,No,1,1,1,1,elsewhere\n",
    )
    return root


def test_slice_dataset_without_annotations(data_dir):
    dataset = SliceDataset(data_dir)
    assert len(dataset) == 6
    sample = dataset[4]
    assert (sample.fname, sample.slice_num) == ("file1000002", 1)
    assert sample.kspace.shape == (2, 16, 12) and sample.recon_size == (10, 8)
    assert sample.padding == (1, 11) and sample.boxes == [] and sample.max_value == 7.5
    torch.testing.assert_close(sample.target, kspace_to_target(sample.kspace[None], (10, 8))[0])


def test_slice_dataset_boxes_in_each_volumes_frame(data_dir):
    csv = data_dir.parent / "annotations.csv"
    dataset = SliceDataset(data_dir, annotations=csv)
    by_key = {(s.fname, s.slice_num): s for s in dataset}
    # y' = recon_height - y - height: 8 - 2 - 4 = 2 and 10 - 2 - 4 = 4
    assert by_key["file1000001", 1].boxes == [Box(1, 2, 3, 4, "A"), Box(0, 6, 2, 2, "B")]
    assert by_key["file1000002", 0].boxes == [Box(1, 4, 3, 4, "C")]
    assert by_key["file1000002", 0].study_labels == ["artifact"]
    assert by_key["file1000001", 0].boxes == [] and by_key["file1000001", 0].study_labels == []

    annotated = SliceDataset(data_dir, annotations=csv, annotated_only=True, box_policy="first")
    assert [(s.fname, s.slice_num) for s in annotated] == [("file1000001", 1), ("file1000002", 0)]
    assert [b.label for b in annotated[0].boxes] == ["A"]


def test_slice_dataset_accepts_csv_frame_index(data_dir):
    from advrecon.data.annotations import AnnotationIndex

    index = AnnotationIndex.from_csv(data_dir.parent / "annotations.csv")  # CSV frame
    dataset = SliceDataset(data_dir, annotations=index, annotated_only=True)
    assert dataset[1].boxes == [Box(1, 4, 3, 4, "C")]


def test_slice_selection(data_dir):
    assert len(SliceDataset(data_dir, slices=[1, 5])) == 2
    assert [s.slice_num for s in SliceDataset(data_dir, slices=slice(1, None))] == [1, 2, 1, 2]
    mapped = SliceDataset(data_dir, slices={"file1000002": [2, 0]})
    assert [(s.fname, s.slice_num) for s in mapped] == [("file1000002", 2), ("file1000002", 0)]
    with pytest.raises(InputFileError, match="slice 3 is out of range"):
        SliceDataset(data_dir, slices={"file1000001": [3]})


def test_collate_slices(data_dir):
    dataset = SliceDataset(data_dir, annotations=data_dir.parent / "annotations.csv")
    batch = collate_slices([dataset[0], dataset[1]])
    assert batch.kspace.shape == (2, 2, 16, 12) and batch.kspace.dtype == torch.complex64
    assert batch.target.shape == (2, 8, 8) and batch.recon_size == (8, 8)
    assert batch.slice_num.tolist() == [0, 1] and batch.fname == ["file1000001"] * 2
    assert batch.padding == [(1, 11), (1, 11)] and len(batch.boxes[1]) == 2
    loader = DataLoader(dataset, batch_size=3, collate_fn=collate_slices)
    assert len(next(iter(loader))) == 3
    with pytest.raises(AdvreconError, match="cannot batch file1000002 slice 0"):
        collate_slices([dataset[0], dataset[3]])  # recon sizes 8x8 and 10x8


def test_slice_dataset_bad_root(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        SliceDataset(tmp_path / "missing")
    with pytest.raises(InputFileError, match="contains no .h5 files"):
        SliceDataset(tmp_path)
