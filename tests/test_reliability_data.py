"""Issue 10, data classes: bad files, degenerate slices and bad CSV rows give one clear error.

Every case here used to pass silently (and end in NaN results or a confusing message later) or
to crash with a traceback.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.cli import main  # noqa: E402
from advrecon.data import preview, synthetic  # noqa: E402
from advrecon.data.annotations import AnnotationWarning, load_annotations  # noqa: E402
from advrecon.data.fastmri import DataWarning, FastMRIVolume  # noqa: E402
from advrecon.errors import AdvreconError, InputFileError  # noqa: E402
from advrecon.experiments.config import parse_config  # noqa: E402
from advrecon.experiments.runner import DatasetSource  # noqa: E402

HEADER = "file,slice,study_level,x,y,width,height,label\n"


def _kspace(slices: int = 3, coils: int = 2, shape=(16, 12), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    size = (slices, coils, *shape)
    return (rng.standard_normal(size) + 1j * rng.standard_normal(size)).astype(np.complex64)


def _info_error(path: Path, capsys) -> str:
    assert main(["data", "info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    (line,) = captured.err.splitlines()
    assert str(path) in line
    return line


# -- header geometry ----------------------------------------------------------------------------
def test_recon_size_larger_than_kspace_is_refused_by_info(
    tmp_path, make_fastmri_file, make_ismrmrd_header, capsys
):
    header = make_ismrmrd_header((16, 12, 1), (40, 40, 1))
    path = make_fastmri_file(tmp_path / "big.h5", target=False, header=header)
    line = _info_error(path, capsys)
    assert "recon size (40, 40)" in line and "exceeds the k-space size (16, 12)" in line


def test_target_size_must_match_header(tmp_path, make_fastmri_file):
    path = make_fastmri_file(tmp_path / "f.h5", recon=(8, 8))
    with h5py.File(path, "a") as hf:
        del hf["reconstruction_rss"]
        hf["reconstruction_rss"] = np.ones((3, 6, 8), np.float32)
    with pytest.raises(InputFileError, match=r"slices are \(6, 8\) but the ISMRMRD header"):
        FastMRIVolume(path)


def test_padding_without_sampled_columns_is_refused(tmp_path, make_fastmri_file):
    # center 20 in a 12-column encoding: padding_left = 6 - 20 < 0
    path = make_fastmri_file(tmp_path / "f.h5", center=20, target=False)
    with pytest.raises(InputFileError, match="leaves no sampled column"):
        FastMRIVolume(path)


def test_non_text_header_and_bad_max(tmp_path, make_fastmri_file):
    path = make_fastmri_file(tmp_path / "h.h5", header=np.arange(3))
    with pytest.raises(InputFileError, match="header must be an XML text"):
        FastMRIVolume(path)
    path = make_fastmri_file(tmp_path / "m.h5", attrs={"max": np.nan})
    with pytest.raises(InputFileError, match="attribute 'max' must be a positive number"):
        FastMRIVolume(path).check_slices()


# -- degenerate slices ----------------------------------------------------------------------------
def test_all_zero_slice_is_an_error_naming_file_and_slice(tmp_path, make_fastmri_file, capsys):
    kspace = _kspace()
    kspace[1] = 0
    path = make_fastmri_file(tmp_path / "zero.h5", kspace=kspace, target=False)
    volume = FastMRIVolume(path)
    assert volume.kspace(0).shape == (2, 16, 12)
    with pytest.raises(InputFileError, match="k-space slice 1 is all zero"):
        volume.kspace(1)
    assert "k-space slice 1 is all zero" in _info_error(path, capsys)


def test_zero_coil_is_only_a_warning(tmp_path, make_fastmri_file):
    kspace = _kspace()
    kspace[0, 1] = 0
    volume = FastMRIVolume(make_fastmri_file(tmp_path / "f.h5", kspace=kspace, target=False))
    with pytest.warns(DataWarning, match=r"slice 0: coil\(s\) 1 of 2 hold no signal"):
        assert volume.kspace(0).abs().sum() > 0


def test_non_finite_or_zero_target_is_an_error(tmp_path, make_fastmri_file):
    path = make_fastmri_file(tmp_path / "f.h5")
    with h5py.File(path, "a") as hf:
        hf["reconstruction_rss"][2] = np.nan
        hf["reconstruction_rss"][1] = 0
    volume = FastMRIVolume(path)
    with pytest.raises(InputFileError, match="'reconstruction_rss' slice 2 contains NaN"):
        volume.target(2)
    with pytest.raises(InputFileError, match="'reconstruction_rss' slice 1 is all zero"):
        volume.image(1)


def _config(tmp_path: Path, root: Path, csv: Path | None, annotated_only: bool = False):
    d = fakes.real_config_dict(str(tmp_path / "runs"), str(root))
    d["data"] = {"kind": "fastmri", "root": str(root), "annotations": csv and str(csv)}
    d["slices"] = {"annotated_only": annotated_only}
    return parse_config(d)


def test_run_stops_at_a_degenerate_slice_and_writes_no_row_for_it(tmp_path, make_fastmri_file):
    """Each slice is checked when it is loaded (never read twice): the run stops there."""
    from advrecon.experiments.runner import run_experiment

    root = tmp_path / "data"
    make_fastmri_file(root / "file1.h5")
    kspace = _kspace(seed=1)
    kspace[2] = 0
    make_fastmri_file(root / "file2.h5", kspace=kspace, attrs={"max": 1.0})
    config = _config(tmp_path, root, None)
    source = DatasetSource(config)
    bad = [r for r in source.refs() if (r.file, r.slice) == ("file2", 2)]
    assert len(bad) == 1
    with pytest.raises(InputFileError, match="file2.h5: k-space slice 2 is all zero"):
        source.load(bad[0])
    with pytest.raises(InputFileError, match="file2.h5: k-space slice 2 is all zero"):
        run_experiment(config, progress=False)
    results = config.run_dir() / "results.csv"
    if results.exists():
        df = pd.read_csv(results)
        assert not ((df.file == "file2") & (df.slice == 2)).any()
        assert df.clean_ssim.notna().all()


def test_preview_checks_the_slices_it_shows(tmp_path, make_fastmri_file, capsys):
    kspace = _kspace(slices=1)
    kspace[0, 0, 2, 3] = np.nan
    path = make_fastmri_file(tmp_path / "d" / "file1.h5", kspace=kspace, target=False)
    with h5py.File(path, "a") as hf:  # a finite stored target used to hide the NaN k-space
        hf["reconstruction_rss"] = np.ones((1, 8, 8), np.float32)
    out = tmp_path / "p.png"
    assert main(["data", "preview", str(path.parent), "--out", str(out)]) == 2
    assert "k-space slice 0 contains NaN or Inf" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".p.png*"))


# -- broken files ---------------------------------------------------------------------------------
def test_truncated_file_says_truncated(tmp_path, make_fastmri_file, capsys):
    full = make_fastmri_file(tmp_path / "full.h5")
    cut = tmp_path / "cut.h5"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert "is a truncated or corrupt HDF5 file" in _info_error(cut, capsys)


def test_empty_file_and_broken_symlink(tmp_path, capsys):
    empty = tmp_path / "empty.h5"
    empty.touch()
    assert "is empty (0 bytes)" in _info_error(empty, capsys)
    link = tmp_path / "link.h5"
    link.symlink_to(tmp_path / "gone.h5")
    assert "is a broken symbolic link" in _info_error(link, capsys)


# -- annotation CSV -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("f,0,No,1,1,-3,2,A\n", "line 2 column 'width' (f slice 0) is negative (got '-3')"),
        ("f,0,No,1,1,3,-2,A\n", "line 2 column 'height' (f slice 0) is negative"),
        ("f,-1,No,1,1,3,2,A\n", "line 2 column 'slice' (f slice -1) is negative"),
        ("f,0,No,nan,1,3,2,A\n", "line 2 column 'x' (f slice 0) is not a number (got 'nan')"),
    ],
)
def test_bad_box_rows_name_line_column_and_volume(tmp_path, row, expected):
    path = tmp_path / "ann.csv"
    path.write_text(HEADER + row)
    with pytest.raises(InputFileError) as info:
        load_annotations(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_slice_outside_volume_and_repeated_rows_are_dropped_with_warnings(tmp_path):
    path = tmp_path / "ann.csv"
    path.write_text(HEADER + "f,0,No,1,1,2,2,A\nf,9,No,1,1,2,2,B\nf,0,No,1,1,2,2,A\n")
    with pytest.warns(AnnotationWarning) as record:
        table = load_annotations(path, recon_height=8, num_slices={"f": 3}).table
    messages = sorted(str(w.message) for w in record)
    assert list(table.index) == [2]
    assert f"{path} line 3 (f slice 9): column 'slice' is outside the volume" in messages[0]
    assert f"{path} line 4 (f slice 0): box repeats line 2" in messages[1]


def test_run_explains_why_no_slice_has_a_box(tmp_path, make_fastmri_file):
    root = tmp_path / "data"
    make_fastmri_file(root / "file1.h5")
    csv = tmp_path / "ann.csv"
    csv.write_text(HEADER + "file1,7,No,1,1,2,2,A\n")
    with pytest.warns(AnnotationWarning), pytest.raises(InputFileError) as info:
        DatasetSource(_config(tmp_path, root, csv, annotated_only=True))
    assert "has 1 box row(s) for the files in the data folder but none is usable" in str(info.value)
    csv.write_text(HEADER + "file9,0,No,1,1,2,2,A\n")
    with pytest.raises(InputFileError, match="has no box rows for any of the 1 file"):
        DatasetSource(_config(tmp_path, root, csv, annotated_only=True))


def test_preview_uses_the_shared_loader(tmp_path, make_fastmri_file, capsys):
    root = tmp_path / "d"
    make_fastmri_file(root / "file1.h5", recon=(8, 8))
    (root / "annotations.csv").write_text(HEADER + "file1,1,No,1,abc,2,2,A\n")
    assert main(["data", "preview", str(root)]) == 2
    err = capsys.readouterr().err
    assert "line 2 column 'y' (file1 slice 1) is not a number" in err and "\n" not in err.strip()
    # the boxes drawn are the loader's boxes, in the reconstruction frame (y' = 8 - 2 - 3)
    (root / "annotations.csv").write_text(HEADER + "file1,1,No,1,2,4,3,A\n")
    volumes = preview._volumes(root)
    (panel,) = preview._panels(volumes, preview._indexes(volumes, None), 1)
    assert panel[2] == 1 and [b.as_tuple() for b in panel[3]] == [(1, 3, 4, 3)]


# -- synth into an unwritable target --------------------------------------------------------------
_SMALL = synthetic.SynthConfig(
    num_volumes=1, num_slices=1, num_coils=1, kspace_shape=(32, 16), recon_size=(16, 16)
)


def test_synth_unwritable_target_is_one_error_and_leaves_nothing(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(synthetic.h5py, "File", refuse)
    with pytest.raises(AdvreconError, match="out: cannot write the synthetic dataset there"):
        synthetic.generate_dataset(tmp_path / "out", _SMALL)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_synth_read_only_folder(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        with pytest.raises(AdvreconError, match="Permission denied"):
            synthetic.generate_dataset(parent / "out", _SMALL)
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)


def test_synth_failed_overwrite_keeps_the_old_dataset(tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = synthetic.generate_dataset(out, _SMALL)
    before = sorted(p.name for p in out.iterdir())
    real_replace = os.replace

    def fail_second(src, dst):
        if Path(src).name.startswith(".out.tmp-"):  # the new dataset cannot be moved in
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(synthetic.os, "replace", fail_second)
    with pytest.raises(AdvreconError, match="No space left on device"):
        synthetic.generate_dataset(out, _SMALL, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == before and first[0].is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_synth_folder_is_not_private(tmp_path):
    out = tmp_path / "out"
    synthetic.generate_dataset(out, _SMALL)
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask


def test_no_warning_for_clean_data(tmp_path, make_fastmri_file):
    volume = FastMRIVolume(make_fastmri_file(tmp_path / "f.h5"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        volume.check_slices()
