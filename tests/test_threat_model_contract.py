"""One contract, every threat model: the shipped plug-ins and the one printed in the docs.

Each registered threat model is run through the same properties on one tiny slice with a tiny
U-Net, using its own ``example`` section (``ThreatModel.example``):

* a zero budget gives the clean reconstruction bit for bit;
* every point its search evaluates is feasible (``ThreatModel.threat.feasible``);
* a batch gives the rows of the items one by one (``chunk_size`` 1 vs all at once);
* the model's parameters, ``requires_grad`` flags and train/eval mode are restored;
* the same seed gives the same rows;
* an invalid section is a one-line error naming the key path;
* rows round-trip through ``results.csv`` and ``results.parquet``, and a finished run resumes
  to nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docs_plugin  # noqa: E402
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.attacks.contract import SliceAttack  # noqa: E402
from advrecon.attacks.registry import (  # noqa: E402
    get_threat_model,
    load_plugins,
    threat_models,
    unregister,
)
from advrecon.boxes import Box  # noqa: E402
from advrecon.errors import ConfigError  # noqa: E402
from advrecon.experiments.config import parse_config  # noqa: E402
from advrecon.experiments.runner import run_experiment  # noqa: E402
from advrecon.models.reconstructor import UnetReconstructor  # noqa: E402
from advrecon.models.unet import Unet  # noqa: E402
from advrecon.mri import fft2c  # noqa: E402

#: Every registered threat model (shipped, and installed ones: their entry points), and the docs'.
NAMES = [*(n for n in threat_models() if n != docs_plugin.NAME), docs_plugin.NAME]
SIZE = (32, 32)
BOXES = (Box(6, 8, 10, 9, "lesion"), Box(16, 14, 9, 10, "other"))


@pytest.fixture(scope="module", autouse=True)
def docs_threat_model(tmp_path_factory):
    """The docs' plug-in, saved outside the package and loaded as a config's ``plugins:``."""
    folder = tmp_path_factory.mktemp("user_plugins")
    docs_plugin.write_plugin(folder)
    sys.path.insert(0, str(folder))
    try:
        load_plugins([docs_plugin.NAME])
        yield get_threat_model(docs_plugin.NAME)
    finally:
        unregister(docs_plugin.NAME)
        sys.path.remove(str(folder))
        sys.modules.pop(docs_plugin.NAME, None)


def _slice() -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth two-coil object ``(C, H, W)`` complex64 and a 4x equispaced mask."""
    g = torch.Generator().manual_seed(0)
    y, x = torch.meshgrid(
        torch.linspace(-1, 1, SIZE[0]), torch.linspace(-1, 1, SIZE[1]), indexing="ij"
    )
    obj = torch.exp(-(x**2 + y**2) / 0.3) + 0.3 * torch.exp(
        -((x - 0.2) ** 2 + (y + 0.1) ** 2) / 0.02
    )
    obj = obj + 0.02 * torch.rand(SIZE, generator=g)
    maps = torch.stack([torch.exp(-((x - c) ** 2 + y**2)) for c in (-0.7, 0.7)])
    phase = torch.exp(1j * 0.5 * x)
    kspace = fft2c((maps * obj * phase).to(torch.complex64))
    mask = torch.zeros(1, 1, 1, SIZE[1])
    mask[..., ::4] = 1.0
    mask[..., SIZE[1] // 2 - 3 : SIZE[1] // 2 + 3] = 1.0
    return kspace, mask


def _model() -> UnetReconstructor:
    torch.manual_seed(0)
    return UnetReconstructor(Unet(1, 1, chans=4, num_pool_layers=2), SIZE)


def _input(model, seed: int = 7, chunk_size: int | None = None) -> SliceAttack:
    kspace, mask = _slice()
    return SliceAttack(
        recon=model, kspace=kspace, mask=mask, num_low_frequencies=6, boxes=BOXES,
        padding=None, recon_size=SIZE, generator=torch.Generator().manual_seed(seed),
        chunk_size=chunk_size,
    )  # fmt: skip


def _attack(name: str, model=None, seed: int = 7, chunk_size: int | None = None) -> dict:
    """``{unit id: (row, arrays)}`` of every batch the example section makes on the slice."""
    tm = get_threat_model(name)
    section = tm.section.model_validate(dict(tm.example))
    boxes = {"region": list(enumerate(BOXES)), "image": list(enumerate(BOXES))}
    model = model if model is not None else _model()
    out = {}
    for group in tm.batch_groups(section, "tiny", ["region", "image"], boxes):
        if not group.units:
            continue
        # one generator a batch, as the runner does
        inp = _input(model, seed + len(out), chunk_size)
        scores = tm.run(inp, group.units, section, group.units[0].rule)
        for u in group.units:
            i, row = scores.row(u)
            key = f"{group.label}/{u.target}/{u.budget:g}/{u.box_index}"
            out[key] = (row, scores.arrays(i, u))
    assert out, f"the example section of {name} makes no unit"
    return out


def _numeric(row: dict) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in row.items()
        if isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool)
    }


@pytest.mark.parametrize("name", NAMES)
def test_zero_budget_gives_the_clean_reconstruction_bit_for_bit(name):
    res = _attack(name)
    zero = {k: v for k, v in res.items() if k.split("/")[-2] == "0"}
    assert zero, f"the example section of {name} has no zero budget"
    for key, (row, arrays) in zero.items():
        assert np.array_equal(arrays["adversarial"], arrays["clean"]), key
        assert row["adv_ssim"] == row["clean_ssim"], key


@pytest.mark.parametrize("name", NAMES)
def test_every_evaluated_point_is_feasible(name, monkeypatch):
    cls = get_threat_model(name).threat
    if cls is None:  # e.g. the rotation sweep: every grid angle of the window, nothing else
        pytest.skip(f"{name} declares no threat class: its search is not a sequence of iterates")
    seen: list[bool] = []
    original = cls.reconstruct

    def checked(self, delta):
        with torch.no_grad():
            seen.append(bool(self.feasible(delta.detach()).all()))
        return original(self, delta)

    monkeypatch.setattr(cls, "reconstruct", checked)
    _attack(name)
    assert seen, f"{name}'s search never called {cls.__name__}.reconstruct"
    assert all(seen), f"{seen.count(False)} of {len(seen)} evaluated points were infeasible"


def _assert_rows_close(a: dict, b: dict, exact: bool) -> None:
    assert a.keys() == b.keys()
    for key in a:
        ra, rb = _numeric(a[key][0]), _numeric(b[key][0])
        assert ra.keys() == rb.keys(), key
        x, y = np.array(list(ra.values())), np.array(list(rb.values()))
        if exact:
            np.testing.assert_array_equal(x, y, err_msg=key)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-4, err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_sequential(name):
    _assert_rows_close(_attack(name), _attack(name, chunk_size=1), exact=False)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_rows(name):
    _assert_rows_close(_attack(name, seed=3), _attack(name, seed=3), exact=True)


@pytest.mark.parametrize("name", NAMES)
def test_model_is_restored(name):
    model = _model().train()
    params = list(model.parameters())
    for i, p in enumerate(params):
        p.requires_grad_(i % 2 == 0)
    model.unet.down_sample_layers[0].eval()  # a mixed state must come back as it was
    modes = [m.training for m in model.modules()]
    before = [p.detach().clone() for p in params]
    _attack(name, model=model)
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in params] == [i % 2 == 0 for i in range(len(params))]
    assert all(torch.equal(a, p) for a, p in zip(before, params, strict=True))
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("name", NAMES)
def test_invalid_section_is_one_line_error_with_key_path(name):
    tm = get_threat_model(name)
    cfg = fakes.real_config_dict("runs", "data")
    cfg["attacks"] = {name: {**tm.example, "no_such_key": 1}}
    with pytest.raises(ConfigError) as err:
        parse_config(cfg)
    msg = str(err.value)
    assert msg.startswith(f"attacks.{name}.no_such_key: unknown key") and "\n" not in msg
    first = next(iter(tm.example))
    cfg["attacks"] = {name: {**tm.example, first: "not a value"}}
    with pytest.raises(ConfigError, match=rf"^attacks\.{name}\.{first}\b") as err:
        parse_config(cfg)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", NAMES)
def test_rows_round_trip_through_csv_and_parquet(name, tmp_path, monkeypatch):
    from advrecon.experiments.schema import dtype_of

    monkeypatch.chdir(tmp_path)
    cfg = fakes.real_config_dict("runs", "data")
    cfg["attacks"] = {name: dict(get_threat_model(name).example)}
    cfg["arrays"] = "none"
    config = parse_config(cfg)
    summary = run_experiment(config, progress=False)
    assert summary.complete and summary.executed_units == summary.total_units > 0
    csv = pd.read_csv(summary.run_dir / "results.csv")
    parquet = pd.read_parquet(summary.run_dir / "results.parquet")
    assert list(parquet.columns) == list(csv.columns) and len(parquet) == len(csv)
    assert set(csv["attack"]) == {name}
    undeclared = [c for c in csv.columns if dtype_of(c) is None]
    assert not undeclared, f"columns not in the results schema: {undeclared}"
    for col in csv.columns:
        a, b = csv[col], parquet[col]
        if dtype_of(col) == "float":
            np.testing.assert_array_equal(a.to_numpy(float), b.to_numpy(float), err_msg=col)
        else:
            assert [str(v) for v in a.fillna("")] == [str(v) for v in b.fillna("")], col
    again = run_experiment(config, progress=False)
    assert again.executed_units == 0 and again.complete
