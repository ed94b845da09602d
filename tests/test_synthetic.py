"""Synthetic knee dataset: fastMRI format, physics, annotations, atomic writing, preview."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from advrecon.data import preview, synthetic
from advrecon.data.synthetic import SynthConfig, generate_dataset, simulate_volume
from advrecon.errors import AdvreconError, ConfigError
from advrecon.mri import center_crop, ifft2c, rss

TINY = SynthConfig(
    num_volumes=2,
    num_slices=3,
    num_coils=4,
    kspace_shape=(64, 32),
    recon_size=(32, 32),
    lesion_probability=1.0,
    seed=3,
)
NS = "{http://www.ismrm.org/ISMRMRD}"


def _q(root, *path):
    """fastMRI's et_query: nested './/ns:a//ns:b' lookup."""
    return root.find(".//" + "//".join(NS + p for p in path)).text


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    return out, generate_dataset(out, TINY)


def test_files_keys_dtypes_attrs(dataset):
    out, paths = dataset
    assert [p.name for p in paths] == ["file9000000.h5", "file9000001.h5"]
    for p in paths:
        with h5py.File(p, "r") as f:
            k, t = f["kspace"], f["reconstruction_rss"]
            assert k.shape == (3, 4, 64, 32) and k.dtype == np.complex64
            assert t.shape == (3, 32, 32) and t.dtype == np.float32
            assert f.attrs["acquisition"] == "CORPD_FBK"
            assert np.isclose(f.attrs["max"], t[()].max())
            assert np.isclose(f.attrs["norm"], np.linalg.norm(t[()]), rtol=1e-5)
            assert len(f.attrs["patient_id"]) == 64


def test_header_like_fastmri(dataset):
    _, paths = dataset
    with h5py.File(paths[0], "r") as f:
        root = ET.fromstring(f["ismrmrd_header"][()])
    enc = [int(_q(root, "encoding", "encodedSpace", "matrixSize", a)) for a in "xyz"]
    rec = [int(_q(root, "encoding", "reconSpace", "matrixSize", a)) for a in "xyz"]
    lims = ("encoding", "encodingLimits", "kspace_encoding_step_1")
    center, maximum = int(_q(root, *lims, "center")), int(_q(root, *lims, "maximum")) + 1
    assert enc == [64, 32, 1] and rec == [32, 32, 1]
    left = enc[1] // 2 - center
    assert (left, left + maximum) == (0, 32)
    float(_q(root, "encoding", "reconSpace", "fieldOfView_mm", "x"))


def test_padding_in_header_and_kspace(tmp_path):
    cfg = SynthConfig(**{**TINY.__dict__, "num_volumes": 1, "padding": (3, 2)})
    (path,) = generate_dataset(tmp_path / "pad", cfg)
    with h5py.File(path, "r") as f:
        root = ET.fromstring(f["ismrmrd_header"][()])
        k = f["kspace"][()]
    lims = ("encoding", "encodingLimits", "kspace_encoding_step_1")
    left = 32 // 2 - int(_q(root, *lims, "center"))
    right = left + int(_q(root, *lims, "maximum")) + 1
    assert (left, right) == (3, 30)
    assert np.all(k[..., :3] == 0) and np.all(k[..., 30:] == 0) and np.all(k[..., 3:30] != 0)


def test_target_is_cropped_rss_of_kspace(dataset):
    _, paths = dataset
    with h5py.File(paths[1], "r") as f:
        k = torch.from_numpy(f["kspace"][()])
        t = f["reconstruction_rss"][()]
    expected = center_crop(rss(ifft2c(k), dim=1), (32, 32)).numpy()
    np.testing.assert_allclose(t, expected, rtol=1e-5, atol=1e-6 * expected.max())


def test_deterministic_and_seed_dependent():
    a, b = simulate_volume(TINY, 0), simulate_volume(TINY, 0)
    np.testing.assert_array_equal(a.kspace, b.kspace)
    assert a.annotations == b.annotations
    c = simulate_volume(SynthConfig(**{**TINY.__dict__, "seed": 4}), 0)
    assert not np.allclose(a.target, c.target)
    assert not np.allclose(a.target, simulate_volume(TINY, 1).target)


def test_csv_convention_and_boxes_contain_lesions(dataset):
    out, _ = dataset
    ann = pd.read_csv(out / "annotations.csv")
    assert list(ann.columns) == synthetic.ANNOTATION_COLUMNS
    assert (ann["study_level"] == "Yes").sum() >= 1
    boxes = ann[ann["study_level"] == "No"]
    assert len(boxes) > 0 and set(boxes["label"]) <= set(synthetic.LESION_LABELS)
    right, wrong = 0.0, 0.0
    for stem, rows in boxes.groupby("file"):
        vol = simulate_volume(TINY, int(stem[4:]) - TINY.first_file_id)
        slices_with_boxes = set(rows["slice"])
        for s in range(TINY.num_slices):  # lesions only where boxes are
            assert (vol.lesion_mask[s].max() > 0.5) == (s in slices_with_boxes)
        for r in rows.itertuples():
            x, w, h = int(r.x), int(r.width), int(r.height)
            y = 32 - int(r.y) - h  # CSV (flipped) -> reconstruction frame
            assert 0 <= y and y + h <= 32 and 0 <= x and x + w <= 32
            inside = vol.lesion_mask[r.slice, y : y + h, x : x + w]
            assert inside.max() > 0.5, r
            right += inside.sum()
            wrong += vol.lesion_mask[r.slice, int(r.y) : int(r.y) + h, x : x + w].sum()
    assert right > 1.5 * wrong  # reading the CSV y without the flip misses the lesions


def test_lesion_contrast_inside_box():
    cfg = SynthConfig(**{**TINY.__dict__, "recon_size": (32, 32), "snr": 1e6})
    vol = simulate_volume(cfg, 0)
    obj = center_crop(torch.from_numpy(vol.object_mask), (32, 32)).numpy()
    # the lesion changes the image: it differs from a healthy render at the mask
    healthy = simulate_volume(SynthConfig(**{**cfg.__dict__, "lesion_probability": 0.0}), 0)
    m = vol.lesion_mask > 0.5
    assert m.any() and obj[m].all()
    assert np.abs(vol.target - healthy.target)[m].mean() > 0.05 * vol.target[obj].mean()


def test_coil_sensitivities_normalised_inside_object():
    vol = simulate_volume(TINY, 0)
    sos = np.sqrt((np.abs(vol.sens) ** 2).sum(1))
    inside = sos[vol.object_mask]
    assert abs(inside.mean() - 1.0) < 0.1 and inside.min() > 0.6 and inside.max() < 1.5
    # localised: each coil is much stronger at one side of the object than at the other
    mag = np.abs(vol.sens[0])[:, vol.object_mask[0]]
    assert np.all(mag.max(1) / mag.min(1) > 2.0)


def test_object_in_central_half_and_noise_matches_snr():
    cfg = SynthConfig(**{**TINY.__dict__, "kspace_shape": (128, 32), "num_coils": 4, "snr": 20})
    vol = simulate_volume(cfg, 1)
    H = 128
    rows = np.flatnonzero(np.abs(vol.image).max(axis=(0, 2)) > 0)
    assert rows.min() >= (H - 32) // 2 and rows.max() < (H + 32) // 2
    coil = ifft2c(torch.from_numpy(vol.kspace)).numpy()
    air = np.concatenate([coil[..., : H // 4 - 4, :], coil[..., -(H // 4 - 4) :, :]], axis=-2)
    sigma_est = np.sqrt(np.mean(np.abs(air) ** 2))
    clean_rss = np.sqrt((np.abs(vol.sens * vol.image[:, None]) ** 2).sum(1))
    expected = clean_rss[vol.object_mask].mean() / 20
    assert sigma_est == pytest.approx(expected, rel=0.08)
    assert vol.sigma == pytest.approx(expected, rel=1e-4)


def test_refuses_overwrite_and_writes_atomically(tmp_path, monkeypatch):
    out = tmp_path / "d"
    cfg = SynthConfig(**{**TINY.__dict__, "num_volumes": 1, "num_slices": 1})
    generate_dataset(out, cfg)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(AdvreconError, match="not empty"):
        generate_dataset(out, cfg)
    generate_dataset(out, cfg, overwrite=True)  # replaces its own dataset
    assert sorted(p.name for p in out.iterdir()) == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(AdvreconError, match="not a synthetic dataset"):
        generate_dataset(foreign, cfg, overwrite=True)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "_write_volume", boom)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tmp_path / "never", cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "foreign"]


def test_train_val_split(tmp_path):
    cfg = SynthConfig(**{**TINY.__dict__, "num_volumes": 1, "num_slices": 1, "val_volumes": 1})
    paths = generate_dataset(tmp_path / "s", cfg)
    assert [p.relative_to(tmp_path / "s").as_posix() for p in paths] == [
        "train/file9000000.h5",
        "val/file9000001.h5",
    ]
    assert (tmp_path / "s" / "val" / "annotations.csv").is_file()


def test_cli_arguments_and_config_errors(tmp_path):
    parser = argparse.ArgumentParser()
    synthetic.register_arguments(parser)
    args = parser.parse_args(
        [str(tmp_path / "o"), "--volumes", "1", "--kspace-shape", "64,32", "--recon-size",
         "32,32", "--padding", "2", "2", "--slices", "2"]
    )  # fmt: skip
    cfg = synthetic.config_from_args(args)
    assert cfg.kspace_shape == (64, 32) and cfg.padding == (2, 2) and cfg.num_slices == 2
    with pytest.raises(ConfigError, match="half the k-space"):
        SynthConfig(kspace_shape=(64, 32), recon_size=(40, 32))


def test_preview_png(dataset, tmp_path):
    out, _ = dataset
    parser = argparse.ArgumentParser()
    preview.register_arguments(parser)
    png = preview.run_from_args(parser.parse_args([str(out), "--out", str(tmp_path / "p.png")]))
    assert png.stat().st_size > 5000
    import matplotlib.image

    img = matplotlib.image.imread(png)
    assert img.shape[0] > 100 and img[..., :3].std() > 0.05
