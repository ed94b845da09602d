"""Tests for advrecon.boxes: Box geometry and region masks."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from advrecon.boxes import Box, region_mask


def test_full_box_and_tuple():
    b = Box.full((20, 30))
    assert b.as_tuple() == (0, 0, 30, 20)
    assert b.label == "complete image"
    assert b.inside((20, 30)) and not b.inside((19, 30))


def test_box_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Box(1, 2, 3, 4).x = 5


@pytest.mark.parametrize(
    ("box", "empty"),
    [(Box(0, 0, 1, 1), False), (Box(0, 0, 0, 5), True), (Box(0, 0, 5, -1), True)],
)
def test_is_empty(box, empty):
    assert box.is_empty is empty


@pytest.mark.parametrize(
    ("box", "inside"),
    [
        (Box(0, 0, 10, 8), True),
        (Box(2, 3, 8, 5), True),
        (Box(3, 3, 8, 5), False),  # one column past the right edge
        (Box(2, 4, 8, 5), False),  # one row past the bottom edge
        (Box(-1, 0, 2, 2), False),
    ],
)
def test_inside(box, inside):
    assert box.inside((8, 10)) is inside


def test_clip():
    shape = (8, 10)
    assert Box(-2, -3, 5, 6, "a").clip(shape) == Box(0, 0, 3, 3, "a")
    assert Box(7, 6, 10, 10).clip(shape) == Box(7, 6, 3, 2)
    assert Box(2, 2, 3, 3).clip(shape) == Box(2, 2, 3, 3)
    assert Box(20, 20, 3, 3).clip(shape).is_empty


def test_grow_keeps_large_boxes():
    b = Box(3, 4, 9, 7, "x")
    assert b.grow(7, (50, 50)) == b


def test_grow_centered():
    b = Box(10, 20, 1, 1, "lesion").grow(7, (64, 64))
    assert b == Box(7, 17, 7, 7, "lesion")  # 3 pixels added on each side
    b = Box(10, 20, 4, 2).grow(7, (64, 64))
    assert (b.width, b.height) == (7, 7)
    assert b.x <= 10 and b.x + b.width >= 14 and b.y <= 20 and b.y + b.height >= 22


@pytest.mark.parametrize("box", [Box(0, 0, 1, 1), Box(63, 63, 1, 1), Box(62, 0, 2, 1)])
def test_grow_stays_inside_at_the_border(box):
    g = box.grow(7, (64, 64))
    assert g.inside((64, 64)) and (g.width, g.height) == (7, 7)
    assert g.x <= box.x and g.x + g.width >= box.x + box.width
    assert g.y <= box.y and g.y + g.height >= box.y + box.height


def test_grow_clamps_to_small_image():
    g = Box(1, 1, 1, 1).grow(7, (5, 20))
    assert g.height == 5 and g.width == 7 and g.inside((5, 20))


def test_slices_index_the_box():
    img = torch.arange(8 * 10).reshape(8, 10)
    rows, cols = Box(2, 3, 4, 2).slices()
    torch.testing.assert_close(img[rows, cols], img[3:5, 2:6])


def test_region_mask():
    boxes = [Box(2, 3, 4, 2), Box.full((8, 10)), Box(9, 7, 1, 1)]
    m = region_mask(boxes, (8, 10))
    assert m.shape == (3, 8, 10) and m.dtype == torch.float32
    assert m.sum(dim=(1, 2)).tolist() == [8.0, 80.0, 1.0]
    assert m[0, 3:5, 2:6].all() and m[2, 7, 9] == 1
