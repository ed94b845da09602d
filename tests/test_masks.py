"""Tests for advrecon.masks: fastMRI-compatible Cartesian column masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advrecon import masks
from advrecon.masks import (
    PAPER_MASKS,
    EquispacedFractionMask,
    EquispacedMask,
    RandomMask,
    apply_mask,
    create_mask_for_mask_type,
    paper_mask,
)

SHAPE = (1, 4, 64, 96)  # (B, coils, H, W)
ALL_TYPES = ["random", "equispaced_fraction", "equispaced"]


def _cols(mask: torch.Tensor) -> np.ndarray:
    return np.flatnonzero(mask.flatten().numpy())


@pytest.mark.parametrize("mask_type", ALL_TYPES)
def test_shape_dtype_and_broadcasting(mask_type):
    func = create_mask_for_mask_type(mask_type, [0.08], [4])
    mask, nlf = func(SHAPE, seed=0)
    assert mask.shape == (1, 1, 1, 96) and mask.dtype == torch.float32
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert isinstance(nlf, int) and nlf == round(96 * 0.08)
    mask3, _ = func((64, 96), seed=0)
    assert mask3.shape == (1, 96)
    torch.testing.assert_close(mask3.flatten(), mask.flatten())


@pytest.mark.parametrize("mask_type", ALL_TYPES)
@pytest.mark.parametrize(("acc", "cf", "width"), [(4, 0.08, 368), (8, 0.04, 372), (4, 0.08, 31)])
def test_center_block_fully_sampled(mask_type, acc, cf, width):
    func = create_mask_for_mask_type(mask_type, [cf], [acc])
    nlf_expected = round(width * cf)
    start = (width - nlf_expected + 1) // 2
    for seed in range(5):
        mask, nlf = func((1, 8, width), seed=seed)
        assert nlf == nlf_expected
        assert mask.flatten()[start : start + nlf].eq(1).all()


@pytest.mark.parametrize(("acc", "cf"), list(PAPER_MASKS.items()))
def test_random_mask_acceleration_over_many_seeds(acc, cf):
    width = 368
    fractions = [
        RandomMask([cf], [acc])((1, 1, width), seed=s)[0].mean().item() for s in range(200)
    ]
    # expected number of sampled columns is W / acc (std of the mean ~0.002 over 200 masks)
    assert abs(np.mean(fractions) - 1 / acc) < 0.01
    assert np.std(fractions) > 0  # masks are random


@pytest.mark.parametrize(("acc", "cf"), list(PAPER_MASKS.items()))
def test_equispaced_fraction_mask_acceleration(acc, cf):
    width = 368
    for seed in range(10):
        mask, nlf = EquispacedFractionMask([cf], [acc])((1, 1, width), seed=seed)
        # exact up to the rounding/overlap of the equispaced lines with the center block
        assert abs(mask.sum().item() - width / acc) <= 4


def test_equispaced_fraction_spacing():
    width, acc, cf = 368, 4, 0.08
    nlf = round(width * cf)
    adjusted = acc * (nlf - width) / (nlf * acc - width)
    mask, _ = EquispacedFractionMask([cf], [acc])((1, 1, width), seed=3)
    start = (width - nlf + 1) // 2
    outer = [c for c in _cols(mask) if not start <= c < start + nlf]
    gaps = np.diff(outer)
    center_gap = gaps.max()
    regular = gaps[gaps != center_gap]
    # fastMRI's rounding of offset + k * adjusted: gaps are floor/ceil of the spacing
    assert set(regular.tolist()) <= {int(np.floor(adjusted)), int(np.ceil(adjusted))}
    assert outer[0] < round(adjusted)


def test_equispaced_mask_every_acc_th_column():
    mask, nlf = EquispacedMask([0.08], [4])((1, 1, 64), offset=1)
    cols = set(_cols(mask).tolist())
    assert set(range(1, 64, 4)) <= cols
    start = (64 - nlf + 1) // 2
    assert cols == set(range(1, 64, 4)) | set(range(start, start + nlf))


# Golden masks computed once with fastMRI 0.3.0's RandomMaskFunc / EquispacedMaskFractionFunc
# (shape (1, 1, W, 2), seed=...): the same seed must give the same mask.
@pytest.mark.parametrize(
    ("mask_type", "cfs", "accs", "width", "seed", "expected", "expected_nlf"),
    [
        ("random", [0.08], [4], 32, 0, [14, 15, 16, 17, 24, 26], 3),
        ("equispaced_fraction", [0.08], [4], 32, 0, [4, 10, 15, 16, 17, 21, 27], 3),
        (
            "random",
            [0.08, 0.04],
            [4, 8],
            40,
            4,
            [1, 5, 10, 19, 20, 21, 25, 26, 33, 36],
            3,
        ),
    ],
)
def test_matches_fastmri_for_same_seed(mask_type, cfs, accs, width, seed, expected, expected_nlf):
    mask, nlf = create_mask_for_mask_type(mask_type, cfs, accs)((1, 1, width), seed=seed)
    assert _cols(mask).tolist() == expected
    assert nlf == expected_nlf


@pytest.mark.parametrize("mask_type", ALL_TYPES)
def test_seed_reproducible_and_different_seeds_differ(mask_type):
    func = create_mask_for_mask_type(mask_type, [0.08], [4])
    a, _ = func(SHAPE, seed=123)
    b, _ = func(SHAPE, seed=123)
    torch.testing.assert_close(a, b)
    others = [func(SHAPE, seed=s)[0] for s in range(124, 134)]
    assert any(not torch.equal(a, o) for o in others)


def test_no_global_random_state_used_or_changed():
    np.random.seed(0)  # noqa: NPY002 (the legacy global RNG is what must stay untouched)
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    RandomMask([0.08], [4])(SHAPE, seed=5)
    RandomMask([0.08], [4])(SHAPE)  # seed=None: fresh entropy, still not the global RNG
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_multiple_pairs_choose_each_pair():
    func = RandomMask([0.08, 0.04], [4, 8])
    nlfs = {func((1, 1, 100), seed=s)[1] for s in range(30)}
    assert nlfs == {8, 4}


def test_per_item_seeds():
    func = RandomMask([0.08, 0.04], [4, 8])
    shape = (3, 2, 16, 100)
    mask, nlf = func(shape, seed=[0, 1, 2])
    assert mask.shape == (3, 1, 1, 100)
    for i, s in enumerate([0, 1, 2]):
        single, single_nlf = func(shape, seed=s)
        torch.testing.assert_close(mask[i].flatten(), single.flatten())
        expected = nlf[i].item() if isinstance(nlf, torch.Tensor) else nlf
        assert expected == single_nlf
    # seeds 0..2 pick different (cf, acc) pairs -> a (B,) long tensor of low frequencies
    nlfs = [func(shape, seed=s)[1] for s in range(3)]
    assert len(set(nlfs)) > 1
    assert isinstance(nlf, torch.Tensor) and nlf.dtype == torch.long
    assert nlf.tolist() == nlfs


def test_per_item_same_nlf_gives_int():
    mask, nlf = RandomMask([0.08], [4])((2, 1, 8, 50), seed=[7, 8])
    assert isinstance(nlf, int) and nlf == 4
    assert not torch.equal(mask[0], mask[1])


def test_fastmri_tuple_seed_per_item():
    seed = tuple(map(ord, "file1000001.h5"))
    func = RandomMask([0.08], [4])
    a, _ = func((1, 1, 8, 368), seed=[seed])
    b, _ = func((1, 1, 8, 368), seed=[list(seed)])
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, func((1, 1, 8, 368), seed=[seed[:-1]])[0])


def test_per_item_seed_count_must_match_batch():
    with pytest.raises(ValueError, match="2 seeds for a batch of 3"):
        RandomMask([0.08], [4])((3, 1, 8, 50), seed=[1, 2])


@pytest.mark.parametrize("mask_type", ALL_TYPES)
def test_padding_zeroes_outside(mask_type):
    func = create_mask_for_mask_type(mask_type, [0.08], [4])
    full, nlf = func((1, 1, 4, 100), seed=0)
    padded, nlf2 = func((1, 1, 4, 100), seed=0, padding=(10, 90))
    assert nlf == nlf2
    flat, ref = padded.flatten(), full.flatten()
    assert flat[:10].eq(0).all() and flat[90:].eq(0).all()
    torch.testing.assert_close(flat[10:90], ref[10:90])
    assert ref[:10].sum() + ref[90:].sum() > 0  # the padding actually removed columns


def test_per_item_padding():
    func = RandomMask([0.08], [4])
    mask, _ = func((2, 1, 4, 60), seed=[0, 1], padding=[(5, 60), (0, 50)])
    assert mask.shape == (2, 1, 1, 60)
    assert mask[0, ..., :5].eq(0).all() and mask[1, ..., 50:].eq(0).all()
    single = func((2, 1, 4, 60), seed=1)[0].flatten()
    torch.testing.assert_close(mask[1].flatten()[:50], single[:50])
    # one shared seed, per-item padding: the same draw, padded differently
    shared, _ = func((2, 1, 4, 60), seed=0, padding=torch.tensor([[5, 60], [0, 50]]))
    base = func((2, 1, 4, 60), seed=0)[0].flatten()
    assert shared.shape == (2, 1, 1, 60)
    torch.testing.assert_close(shared[0].flatten(), torch.cat([torch.zeros(5), base[5:]]))
    torch.testing.assert_close(shared[1].flatten(), torch.cat([base[:50], torch.zeros(10)]))


@pytest.mark.parametrize("padding", [(50, 40), (-1, 10), (100, 120), (1, 2, 3)])
def test_bad_padding(padding):
    with pytest.raises(ValueError, match="padding"):
        RandomMask([0.08], [4])((1, 1, 4, 100), seed=0, padding=padding)


@pytest.mark.parametrize("batch", [1, 3])
def test_apply_mask(batch):
    g = torch.Generator().manual_seed(0)
    k = torch.randn(batch, 2, 6, 40, dtype=torch.complex64, generator=g)
    func = RandomMask([0.08], [4])
    masked, mask, nlf = apply_mask(k, func, seed=11, padding=(2, 38))
    expected_mask, expected_nlf = func(k.shape, seed=11, padding=(2, 38))
    torch.testing.assert_close(mask, expected_mask)
    assert nlf == expected_nlf and masked.dtype == k.dtype and masked.shape == k.shape
    keep = mask.flatten().bool()
    torch.testing.assert_close(masked[..., keep], k[..., keep])
    assert masked[..., ~keep].abs().max() == 0
    assert not torch.signbit(masked[..., ~keep].real).any()  # no -0.0 (fastMRI's "+ 0.0")


def test_apply_mask_per_item():
    k = torch.ones(2, 1, 3, 50, dtype=torch.complex64)
    masked, mask, _ = apply_mask(k, RandomMask([0.08], [4]), seed=[1, 2])
    assert mask.shape == (2, 1, 1, 50)
    torch.testing.assert_close(masked.real[:, 0, 0], mask[:, 0, 0])


def test_paper_masks():
    assert PAPER_MASKS == {4: 0.08, 8: 0.04}
    func = paper_mask(8)
    assert isinstance(func, RandomMask)
    assert func.center_fractions == (0.04,) and func.accelerations == (8.0,)
    assert isinstance(paper_mask(4, "equispaced_fraction"), EquispacedFractionMask)
    with pytest.raises(ValueError, match="accelerations"):
        paper_mask(6)


@pytest.mark.parametrize(
    ("cfs", "accs", "match"),
    [
        ([0.08, 0.04], [4], "same length"),
        ([0.08], [0], "must be > 0"),
        ([0.08], [-4], "must be > 0"),
        ([0.0], [4], "outside"),
        ([1.0], [4], "outside"),
        ([1.5], [4], "outside"),
        ([], [], "empty"),
        (["a"], [4], "sequence of numbers"),
    ],
)
def test_bad_arguments(cfs, accs, match):
    with pytest.raises(ValueError, match=match):
        RandomMask(cfs, accs)


def test_bad_mask_type_and_combination():
    with pytest.raises(ValueError, match="unknown mask type"):
        create_mask_for_mask_type("magic", [0.08], [4])
    with pytest.raises(ValueError, match="center_fraction \\* acceleration"):
        EquispacedFractionMask([0.5], [4])
    with pytest.raises(ValueError, match="integer"):
        EquispacedMask([0.08], [2.5])
    with pytest.raises(ValueError, match="two dimensions"):
        RandomMask([0.08], [4])((10,))


def test_mask_funcs_are_immutable_config():
    func = RandomMask([0.08], [4])
    with pytest.raises(AttributeError):
        func.center_fractions = (0.1,)
    assert func == RandomMask((0.08,), (4,))
    assert masks.MASK_TYPES["random"] is RandomMask
