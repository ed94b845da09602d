"""The shipped demo weights: loadable, as named, better than zero-filled, and attackable.

Evaluated on held-out synthetic slices (a seed and file ids the training set never used).
"""

from __future__ import annotations

import pytest
import torch

from advrecon.attacks.noise import noise_attack
from advrecon.boxes import Box
from advrecon.data.synthetic import SynthConfig, simulate_volume
from advrecon.masks import PAPER_MASKS, paper_mask
from advrecon.metrics import ssim
from advrecon.models.checkpoints import load_reconstructor, read_metadata, shipped_weights
from advrecon.models.reconstructor import ZeroFilled
from advrecon.mri import kspace_to_target

RECON = (128, 128)


@pytest.fixture(scope="module", autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def held_out():
    """Two lesion slices of a volume the demo training never saw, and one lesion box."""
    vol = simulate_volume(SynthConfig(num_volumes=1, num_slices=4, seed=4242, first_file_id=92), 0)
    rows = [r for r in vol.annotations if r["study_level"] == "No" and r["slice"] == 2]
    assert rows, "the held-out volume must carry a lesion on slice 2"
    r = rows[0]
    # fastMRI+ CSV frame -> reconstruction frame (vertical flip)
    box = Box(r["x"], RECON[0] - r["y"] - r["height"], r["width"], r["height"], r["label"])
    kspace = torch.from_numpy(vol.kspace[1:3])
    return kspace, box


def _masked(kspace, acceleration):
    mask, nlf = paper_mask(acceleration)(kspace.shape, seed=1234)
    return kspace * mask, mask, nlf


def _model(arch, acc):
    return load_reconstructor(shipped_weights(arch, acc), RECON, arch=arch, preset="demo").freeze()


@pytest.mark.parametrize("arch", ["unet", "varnet"])
@pytest.mark.parametrize("acc", [4, 8])
def test_weights_match_their_name_and_beat_zero_filled(held_out, arch, acc):
    kspace, _ = held_out
    meta = read_metadata(shipped_weights(arch, acc))
    assert meta["architecture"] == arch and meta["preset"] == "demo"
    assert int(meta["acceleration"]) == acc
    assert float(meta["center_fraction"]) == pytest.approx(PAPER_MASKS[acc])
    masked, mask, nlf = _masked(kspace, acc)
    target = kspace_to_target(kspace, RECON)
    with torch.no_grad():
        model = ssim(_model(arch, acc)(masked, mask, nlf), target, "max").mean()
        zero_filled = ssim(ZeroFilled(RECON)(masked, mask, nlf), target, "max").mean()
    assert model > zero_filled + 0.05, (float(model), float(zero_filled))


def test_adversarial_noise_beats_random_noise_on_trained_unet(held_out):
    kspace, box = held_out
    k = kspace[1:]
    mask, nlf = paper_mask(4)(k.shape, seed=1234)
    res = noise_attack(
        _model("unet", 4), k, mask, nlf, [box], 0.02, steps=5, n_random=3, generator=0
    )
    adv, rand_worst, clean = (
        float(res.metrics[n][0]) for n in ("adv_ssim", "rand_worst_ssim", "clean_ssim")
    )
    # the worst of three random draws of the same per-coil norm barely moves the region ...
    assert clean - rand_worst < 0.5 * (clean - adv)
    # ... while the adversarial perturbation clearly degrades it
    assert adv < rand_worst - 0.05, (clean, rand_worst, adv)


@pytest.mark.parametrize("acc", [4, 8])
def test_varnet_beats_unet_as_in_the_paper(held_out, acc):
    kspace, _ = held_out
    masked, mask, nlf = _masked(kspace, acc)
    target = kspace_to_target(kspace, RECON)
    with torch.no_grad():
        scores = {
            arch: float(ssim(_model(arch, acc)(masked, mask, nlf), target, "max").mean())
            for arch in ("unet", "varnet")
        }
    assert scores["varnet"] > scores["unet"], scores
