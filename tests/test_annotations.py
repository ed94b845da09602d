"""fastMRI+ CSV loading: flip to the reconstruction frame, quirks of the published file."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from advrecon.boxes import Box
from advrecon.data.annotations import (
    AnnotationIndex,
    AnnotationWarning,
    load_annotations,
    to_recon_frame,
)
from advrecon.errors import InputFileError

HEADER = "file,slice,study_level,x,y,width,height,label\n"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
KNEE_CSV = SHARED / "data" / "fastmri_plus" / "knee.csv"


def write_csv(tmp_path: Path, rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "ann.csv"
    path.write_text(header + rows)
    return path


def test_flip_to_recon_frame(tmp_path):
    # line 2: y=173, h=10 in a 320-row image -> top row 320 - 173 - 10 = 137
    path = write_csv(tmp_path, "file1000001,14,No,90,173,35,10,Meniscus Tear\n")
    csv = load_annotations(path)
    assert csv.table.loc[2, "y"] == 173 and not csv.in_recon_frame
    recon = load_annotations(path, recon_height=320)
    row = recon.table.loc[2]
    assert (row.x, row.y, row.width, row.height) == (90, 137, 35, 10)
    assert recon.in_recon_frame and recon.source == str(path)
    # converting the CSV-frame table later gives the same result, once only
    later = to_recon_frame(csv, 320)
    assert later.table.loc[2, "y"] == 137 and later.in_recon_frame
    with pytest.raises(ValueError, match="already in the reconstruction frame"):
        to_recon_frame(later, 320)


def test_frame_and_row_counts_reach_the_index(tmp_path):
    rows = "f,0,No,1,1,2,2,A\nf,0,No,1,1,0,2,empty\ng,1,No,1,1,2,2,B\n"
    with pytest.warns(AnnotationWarning):
        loaded = load_annotations(write_csv(tmp_path, rows), recon_height=8)
    assert dict(loaded.box_rows) == {"f": 2, "g": 1}  # counted before the empty box is dropped
    index = AnnotationIndex(loaded)
    assert index.in_recon_frame and index.box_rows == {"f": 2, "g": 1}
    assert not AnnotationIndex(loaded.table).in_recon_frame  # a bare table: the CSV frame


def test_flip_uses_each_files_height(tmp_path):
    rows = "a,0,No,1,2,3,4,L\nb,0,No,1,2,3,4,L\nc,0,No,1,2,3,4,L\n"
    table = load_annotations(write_csv(tmp_path, rows), recon_height={"a": 10, "b.h5": 20}).table
    assert dict(zip(table.file, table.y, strict=True)) == {
        "a": 10 - 2 - 4,
        "b": 20 - 2 - 4,
    }  # c: unknown


def test_study_level_rows_are_labels_not_boxes(tmp_path):
    rows = "file1,0,Yes,,,,,artifact\nfile1,3,No,1,1,2,2,Meniscus Tear\n"
    table = load_annotations(write_csv(tmp_path, rows), recon_height=8)
    assert list(table.table.study_level) == [True, False]
    assert table.table.loc[2, ["x", "y", "width", "height"]].isna().all()
    index = AnnotationIndex(table)
    assert index.study_labels("file1") == ["artifact"]
    assert index.boxes("file1", 0) == []
    assert index.boxes("file1", 3) == [Box(1, 8 - 1 - 2, 2, 2, "Meniscus Tear")]
    assert index.slices("file1") == [3]
    assert index.files == ["file1"]


def test_labels_are_stripped(tmp_path):
    rows = "f,0,No,1,1,2,2,Joint Effusion \nf,1,No,1,1,2,2,  Bone - Lesion\n"
    table = load_annotations(write_csv(tmp_path, rows)).table
    assert list(table.label) == ["Joint Effusion", "Bone - Lesion"]


def test_zero_height_box_dropped_with_warning(tmp_path):
    rows = "f,4,No,1,1,2,2,A\nfile1002097,27,No,10,20,18,0,B\n"
    with pytest.warns(AnnotationWarning) as record:
        table = load_annotations(write_csv(tmp_path, rows))
    assert list(table.table.index) == [2]
    (message,) = [str(w.message) for w in record]
    assert "ann.csv line 3" in message and "file1002097 slice 27" in message
    assert "empty" in message


def test_boxes_outside_are_clipped_with_warning(tmp_path):
    rows = (
        "f,0,No,5,-1,4,6,below\n"  # CSV y<0: reaches below the bottom edge of the image
        "f,0,No,-2,1,4,2,left\n"  # x<0: clipped even without a known size
        "f,0,No,8,1,6,2,right\n"  # beyond the right edge (width 10)
        "f,0,No,20,1,6,2,outside\n"  # entirely outside: dropped
        "f,0,No,1,1,2,2,inside\n"
    )
    path = write_csv(tmp_path, rows)
    with pytest.warns(AnnotationWarning) as record:
        table = load_annotations(path, recon_height=12, recon_width=10)
    messages = [str(w.message) for w in record]
    assert len(messages) == 4
    assert all("f slice 0" in m for m in messages)
    assert [f"line {n}" in m for n, m in zip((2, 3, 4, 5), messages, strict=True)] == [True] * 4
    assert "dropped" in messages[3]
    boxes = {r.label: (r.x, r.y, r.width, r.height) for r in table.table.itertuples()}
    # below: y' = 12 - (-1) - 6 = 7, rows 7..12 -> clipped to 7..11 (height 5)
    assert boxes == {
        "below": (5, 7, 4, 5),
        "left": (0, 12 - 1 - 2, 2, 2),
        "right": (8, 9, 2, 2),
        "inside": (1, 9, 2, 2),
    }
    for box in AnnotationIndex(table).boxes("f", 0):
        assert box.inside((12, 10))

    # without a size only negative coordinates are known to be outside
    with pytest.warns(AnnotationWarning) as record:
        csv_frame = load_annotations(path)
    assert len(record) == 2 and len(csv_frame) == 5


def test_box_policy(tmp_path):
    rows = "f,0,No,1,1,2,2,A\nf,0,No,3,3,2,2,B\nf,1,No,1,1,2,2,C\nf,0,Yes,,,,,artifact\n"
    path = write_csv(tmp_path, rows)
    assert len(load_annotations(path)) == 4
    first = AnnotationIndex.from_csv(path, recon_height=8, box_policy="first")
    assert [b.label for b in first.boxes("f", 0)] == ["A"]
    assert [b.label for b in first.boxes("f.h5", 1)] == ["C"]
    assert first.study_labels("f") == ["artifact"]
    every = AnnotationIndex.from_csv(path, recon_height=8)
    assert [b.label for b in every.boxes("f", 0)] == ["A", "B"]
    assert len(every) == 3
    with pytest.raises(ValueError, match="box_policy"):
        load_annotations(path, box_policy="random")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("file,slice,x,y,label\nf,0,1,1,A\n", "missing column(s) 'study_level', 'width', 'height'"),
        (
            HEADER + "f,0,No,1,abc,2,2,A\n",
            "line 2 column 'y' (f slice 0) is not a number (got 'abc')",
        ),
        (
            HEADER + "f,0,No,1,1,2,2,A\nf,1,No,1,1,,2,B\n",
            "line 3 column 'width' (f slice 1) is empty",
        ),
        (HEADER + "f,zero,No,1,1,2,2,A\n", "line 2 column 'slice' (f slice zero) is not a number"),
        (
            HEADER + "f,0,Maybe,1,1,2,2,A\n",
            "line 2 column 'study_level' (f slice 0) must be 'Yes' or 'No'",
        ),
        ("", "is not a readable CSV file"),
        (HEADER + "f,0,No,1,1,2,2,A,extra\n", "has rows with more fields than the header"),
    ],
)
def test_bad_csv(tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputFileError) as info:
        load_annotations(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_missing_csv(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        load_annotations(tmp_path / "nope.csv")


@pytest.fixture(scope="module")
def knee_table():
    if not KNEE_CSV.is_file():
        pytest.skip(f"fastMRI+ knee.csv not found at {KNEE_CSV}")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        table = load_annotations(KNEE_CSV, recon_height=320, recon_width=320)
    return table, [str(w.message) for w in record]


def test_real_knee_csv(knee_table):
    loaded, messages = knee_table
    table = loaded.table
    data_rows = len(KNEE_CSV.read_text().splitlines()) - 1
    assert data_rows == 16167
    assert table.study_level.sum() == 13
    assert set(table[table.study_level].label) == {"artifact"}
    # the one zero-height box and the five repeated rows of file1001706 are dropped
    assert len(table) == 16167 - 1 - 5
    assert sum("file1001706" in m and "repeats line" in m for m in messages) == 5
    assert 11190 not in table.index
    assert sum("line 11190 (file1002097 slice 27)" in m and "empty" in m for m in messages) == 1
    assert sum("clipped" in m for m in messages) == 6  # six boxes with y < 0 in the CSV
    assert not table.label.str.contains(r"^\s|\s$").any()
    assert table.label.nunique() == 22
    boxes = table[~table.study_level]
    assert (boxes.y >= 0).all() and (boxes.y + boxes.height <= 320).all()
    assert (boxes.x >= 0).all() and (boxes.x + boxes.width <= 320).all()
    # first row of the published file: y=173, height=10 -> 320 - 173 - 10 = 137
    assert tuple(table.loc[2, ["x", "y", "width", "height"]]) == (90, 137, 35, 10)


def test_real_knee_index(knee_table):
    table, _ = knee_table
    index = AnnotationIndex(table)
    assert len(index) == 16167 - 13 - 1 - 5
    assert index.study_labels("file1001022") == ["artifact"]
    assert [b.label for b in index.boxes("file1000001", 15)] == [
        "Cartilage - Partial Thickness loss/defect",
        "Bone- Subchondral edema",
    ]
    assert 14 in index.slices("file1000001")
