"""``advrecon data``: info output, one-line errors for every bad input, sub-command wiring."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from advrecon.cli import main
from advrecon.data.fastmri import FastMRIVolume
from advrecon.errors import InputFileError


def _missing(tmp_path, make):
    return tmp_path / "missing.h5", None


def _not_hdf5(tmp_path, make):
    path = tmp_path / "notes.h5"
    path.write_text("this is not an HDF5 file\n")
    return path, None


def _no_kspace(tmp_path, make):
    path = tmp_path / "no_kspace.h5"
    with h5py.File(path, "w") as hf:
        hf.create_dataset("reconstruction_rss", data=np.zeros((1, 8, 8), np.float32))
    return path, None


def _wrong_rank(tmp_path, make):  # single-coil layout (slices, H, W)
    return make(tmp_path / "rank3.h5", kspace=np.ones((2, 16, 12), np.complex64)), None


def _not_complex(tmp_path, make):
    return make(tmp_path / "real.h5", kspace=np.ones((2, 2, 16, 12), np.float32)), None


def _no_header(tmp_path, make):
    path = make(tmp_path / "no_header.h5")
    with h5py.File(path, "a") as hf:
        del hf["ismrmrd_header"]
    return path, None


def _no_limits(tmp_path, make):
    header = make.header().replace(b"kspace_encoding_step_1", b"kspace_encoding_step_9")
    return make(tmp_path / "no_limits.h5", header=header), None


def _nan_slice(tmp_path, make):
    kspace = np.ones((2, 2, 16, 12), np.complex64)
    kspace[1, 0, 0, 0] = np.inf
    return make(tmp_path / "inf.h5", kspace=kspace, target=False), 1


def _out_of_range(tmp_path, make):
    return make(tmp_path / "short.h5"), 3


BAD_INPUTS = {
    "missing file": (_missing, "file does not exist"),
    "not hdf5": (_not_hdf5, "is not an HDF5 file"),
    "no kspace": (_no_kspace, "has no 'kspace' dataset"),
    "wrong rank": (_wrong_rank, "'kspace' must have 4 dimensions"),
    "not complex": (_not_complex, "'kspace' must be complex, got float32"),
    "no header": (_no_header, "has no 'ismrmrd_header' dataset"),
    "no encoding limits": (_no_limits, "ISMRMRD header has no encoding limits"),
    "nan/inf slice": (_nan_slice, "k-space slice 1 contains NaN or Inf values"),
    "slice out of range": (_out_of_range, "slice 3 is out of range (the volume has 3 slices"),
}


@pytest.fixture
def maker(make_fastmri_file, make_ismrmrd_header):
    make_fastmri_file.header = make_ismrmrd_header
    return make_fastmri_file


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_python_api(tmp_path, maker, case):
    build, expected = BAD_INPUTS[case]
    path, slice_num = build(tmp_path, maker)
    with pytest.raises(InputFileError) as info:
        volume = FastMRIVolume(path)
        volume.kspace(0 if slice_num is None else slice_num)
    assert info.value.path == str(path)
    assert expected in str(info.value)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_cli(tmp_path, maker, case, capsys):
    build, expected = BAD_INPUTS[case]
    path, slice_num = build(tmp_path, maker)
    argv = ["data", "info", str(path)] + ([] if slice_num is None else ["--slice", str(slice_num)])
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert str(path) in lines[0] and expected in lines[0]
    assert "Traceback" not in captured.err


def test_info_prints_geometry(fastmri_file, capsys):
    assert main(["data", "info", str(fastmri_file), "--slice", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 slices x 2 coils x 16 x 12" in out
    assert "recon size:        (8, 8, 1)" in out and "(h, w) = (8, 8)" in out
    assert "padding:           left 1, right 11" in out
    assert "attr acquisition:" in out and "CORPD_FBK" in out
    assert "slice 2 target:" in out


def test_data_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("info", "synth", "preview"):
        assert name in out


@pytest.mark.parametrize(("command", "positional"), [("synth", "OUT"), ("preview", "DIR")])
def test_synth_and_preview_are_wired(command, positional, capsys):
    with pytest.raises(SystemExit):
        main(["data", command, "--help"])
    assert positional in capsys.readouterr().out


def test_preview_bad_input_is_one_line(tmp_path, capsys):
    import h5py

    assert main(["data", "preview", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"advrecon: error: {tmp_path / 'nope'}: does not exist"
    (tmp_path / "d").mkdir()
    with h5py.File(tmp_path / "d" / "file1.h5", "w") as f:
        f["other"] = np.zeros(3)
    assert main(["data", "preview", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert "file1.h5" in err and "has no 'kspace' dataset" in err  # the message of `data info`
    assert "\n" not in err and not (tmp_path / "d" / "preview.png").exists()
