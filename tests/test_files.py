"""advrecon.files.atomic_write: the one way files are created or replaced."""

from __future__ import annotations

import os
import stat

import pytest

from advrecon.errors import StorageError
from advrecon.experiments import results_store as store
from advrecon.files import atomic_write


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_text_bytes_and_writer_give_the_same_file(tmp_path):
    want = "héllo\n".encode()
    for i, data in enumerate(["héllo\n", want, lambda f: f.write(want)]):
        path = tmp_path / f"f{i}.txt"
        atomic_write(path, data)
        assert path.read_bytes() == want
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f0.txt", "f1.txt", "f2.txt"]


def test_mode_is_that_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("x")
    atomic_write(tmp_path / "atomic", "x")
    assert _mode(tmp_path / "atomic") == _mode(plain)  # not mkstemp's 0600


def test_failed_writer_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "state.bin"
    atomic_write(path, b"old")

    def fail(f) -> None:
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(StorageError, match=r"cannot write the state to .*state\.bin: No space"):
        atomic_write(path, fail, "the state")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.bin"]


def test_store_re_exports_the_one_helper():
    assert store.atomic_write is atomic_write
