"""A threat model added from outside = one module + one registry entry, run end to end.

The toy threat model below ("shift": a made-up budget in pixels) registers its config section,
its batch grouping and its ``run`` function with :func:`advrecon.attacks.registry.register`;
config.py, units.py and executor.py know nothing about it, yet its section is validated as
``attacks.shift``, its units are expanded, executed by the default executor and written.

A config's ``plugins: [module, ...]`` imports such modules before its ``attacks`` section is
validated ("wobble" below, a module written to a temporary folder); a bad one is one line
naming the key path.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_experiments_fakes as fakes  # noqa: E402

from advrecon.attacks.contract import BatchGroup, ThreatModel, UnitSpec, box_array  # noqa: E402
from advrecon.attacks.registry import (  # noqa: E402
    SHIPPED,
    get_threat_model,
    register,
    threat_models,
    unregister,
)
from advrecon.config_types import Budgets, Section  # noqa: E402
from advrecon.errors import AdvreconError, ConfigError  # noqa: E402
from advrecon.experiments.config import load_config, parse_config  # noqa: E402
from advrecon.experiments.runner import run_experiment  # noqa: E402
from advrecon.experiments.units import expand_units  # noqa: E402


class ShiftConfig(Section):
    """``attacks.shift``: budgets in pixels and a made-up strength."""

    max_px: Budgets
    strength: float = 0.01


def shift_batch_groups(section, model_name, targets, boxes):
    """One batch per (model, slice, target), all budgets of every box."""
    return [
        BatchGroup(
            f"shift-toy/{t}",
            tuple(
                UnitSpec("toy", t, float(b), bi, box)
                for bi, box in boxes[t]
                for b in section.max_px
            ),
        )
        for t in targets
    ]


class ShiftScores:
    """Scores of one toy batch: SSIM drops linearly with the budget."""

    def __init__(self, units, strength):
        self.units = list(units)
        self.strength = strength

    def row(self, unit):
        i = self.units.index(unit)
        adv = 0.9 - self.strength * unit.budget
        return i, {"clean_ssim": 0.9, "adv_ssim": adv, "rand_mean_ssim": 0.9, "adv_psnr": 30.0}

    def arrays(self, i, unit):
        img = np.full(fakes.RECON, 0.5, dtype=np.float32)
        return {"target": img, "clean": img, "adversarial": img, "box": box_array(unit.box)}

    def curves(self):
        return []


def run_shift_units(inp, units, options, rule):
    """The toy attack: reads its validated section as ``options``."""
    assert isinstance(options, ShiftConfig) and rule == "toy"
    return ShiftScores(units, options.strength)


SHIFT = ThreatModel("shift", "max_px", run_shift_units, ShiftConfig, shift_batch_groups)


@pytest.fixture
def shift():
    """The toy threat model, registered for one test."""
    register(SHIFT)
    yield SHIFT
    unregister("shift")


def _config(out: str, **attacks) -> dict:
    return fakes.tiny_config_dict(out, attacks=attacks)


def test_registered_section_is_validated_with_its_key_path(shift):
    cfg = parse_config(_config("o", shift={"max_px": [0, 2]}))
    assert cfg.attacks.shift == ShiftConfig(max_px=(0.0, 2.0))
    assert cfg.noise is None and cfg.rotation is None
    with pytest.raises(ConfigError, match=r"^attacks\.shift\.max_px\[1\]: must be >= 0$"):
        parse_config(_config("o", shift={"max_px": [0, -2]}))
    with pytest.raises(ConfigError, match=r"attacks\.shift\.strenght: unknown key; did you mean"):
        parse_config(_config("o", shift={"max_px": [1], "strenght": 2}))
    shipped = ", ".join(repr(n) for n in SHIPPED)
    with pytest.raises(
        ConfigError, match=re.escape(f"configure at least one of {shipped} or 'shift'")
    ):
        parse_config(_config("o"))


def test_unregistered_section_is_an_unknown_key():
    allowed = ", ".join(SHIPPED)
    with pytest.raises(
        ConfigError,
        match=rf"^attacks\.shift: unknown key; (did you mean '\w+'\?|allowed: {allowed})$",
    ):
        parse_config(_config("o", shift={"max_px": [1]}))
    with pytest.raises(AdvreconError, match="unknown attack 'shift'"):
        get_threat_model("shift")


def test_register_twice_is_an_error(shift):
    with pytest.raises(AdvreconError, match="'shift' is already registered"):
        register(shift)


def test_toy_threat_model_runs_end_to_end(shift, tmp_path):
    cfg = parse_config(_config(str(tmp_path), shift={"max_px": [0, 2], "strength": 0.05}))
    batches = expand_units(cfg, fakes.FakeSource().refs())
    # 2 models x 3 slices x 2 targets, minus the region batch of the box-less slice
    assert len(batches) == 10 and {b.kind for b in batches} == {"shift"}
    assert batches[0].key == "fake@4x/shift-toy/region/file100/s0010"
    res = run_experiment(
        cfg, source=fakes.FakeSource(), model_loader=fakes.fake_loader, progress=False
    )
    assert res.complete and res.total_units == sum(len(b.units) for b in batches)
    df = pd.read_csv(res.run_dir / "results.csv")
    assert len(df) == res.total_units and set(df["attack"]) == {"shift"}
    assert set(df["rule"]) == {"toy"}
    np.testing.assert_allclose(df["adv_ssim"], 0.9 - 0.05 * df["budget"])
    assert "max_px" not in df.columns  # the budget is said once, in ``budget``


# ------------------------------------------------------------------ the config's plugins: key
TOY_MODULE = '''
"""A threat-model plug-in module outside advrecon (what a config's plugins: names)."""
from advrecon.attacks.contract import BatchGroup, ThreatModel, UnitSpec
from advrecon.config_types import Budgets, Section


class WobbleConfig(Section):
    amount: Budgets


def wobble_groups(section, model_name, targets, boxes):
    return [
        BatchGroup(f"wobble/{t}", tuple(UnitSpec("toy", t, float(a), bi, box)
                                        for bi, box in boxes[t] for a in section.amount))
        for t in targets
    ]


def run_wobble(inp, units, options, rule):
    raise NotImplementedError


THREAT_MODEL = ThreatModel("wobble", "amount", run_wobble, WobbleConfig, wobble_groups,
                           unit_letter="w")
'''


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A folder on ``sys.path`` for plug-in modules; what they register is removed after."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in ("toy_wobble", "toy_broken", "toy_taken"):
        sys.modules.pop(name, None)
    if "wobble" in threat_models():
        unregister("wobble")


def test_plugins_key_registers_the_module_and_its_section_validates(plugin_dir, tmp_path):
    (plugin_dir / "toy_wobble.py").write_text(TOY_MODULE)
    d = _config("o", wobble={"amount": [0, 3]})
    d["plugins"] = ["toy_wobble"]
    cfg = parse_config(d)
    assert cfg.attacks.wobble.amount == (0.0, 3.0) and cfg.wobble is cfg.attacks.wobble
    assert cfg.plugins == ("toy_wobble",)
    assert parse_config(cfg.to_dict()) == cfg and cfg.to_dict()["plugins"] == ["toy_wobble"]
    ids = [u.id for b in expand_units(cfg, fakes.FakeSource().refs()) for u in b.units]
    assert ids[0] == "fake@4x/wobble-toy/region/w000.000/file100/s0010/b00"  # its unit letter
    with pytest.raises(ConfigError, match=r"^attacks\.wobble\.amount\[1\]: must be >= 0$"):
        parse_config({**d, "attacks": {"wobble": {"amount": [0, -1]}}})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(d))
    assert load_config(path, check_paths=False) == cfg


def test_plugins_key_enters_the_hash_only_when_not_empty(plugin_dir):
    (plugin_dir / "toy_wobble.py").write_text(TOY_MODULE)
    plain = _config("o", noise={"eta": [0, 1]})
    assert parse_config({**plain, "plugins": []}).hash() == parse_config(plain).hash()
    assert "plugins" not in parse_config({**plain, "plugins": []}).to_dict()
    assert parse_config({**plain, "plugins": ["toy_wobble"]}).hash() != parse_config(plain).hash()


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        (
            ["no_such_plugin_module"],
            r"^plugins\[0\]: cannot import plug-in module 'no_such_plugin_module': "
            r"No module named 'no_such_plugin_module'$",
        ),
        (["toy_wobble", "toy_broken"], r"^plugins\[1\]: plug-in module 'toy_broken' failed "),
        (["toy_taken"], r"^plugins\[0\]: toy_taken: threat model 'noise' is already registered$"),
        (["json"], r"^plugins\[0\]: json: not a threat-model plug-in"),
        ([3], r"^plugins\[0\]: must be a module name \(a string\), got 3$"),
        ({"a": 1}, r"^plugins: must be a list of module names"),
    ],
)
def test_a_bad_plugin_is_one_line_naming_the_key(plugin_dir, tmp_path, plugins, message):
    (plugin_dir / "toy_wobble.py").write_text(TOY_MODULE)
    (plugin_dir / "toy_broken.py").write_text("raise RuntimeError('no GPU here\\nsecond line')\n")
    (plugin_dir / "toy_taken.py").write_text(
        TOY_MODULE.replace('ThreatModel("wobble"', 'ThreatModel("noise"')
    )
    d = {**_config("o", noise={"eta": [0, 1]}), "plugins": plugins}
    with pytest.raises(ConfigError, match=message) as err:
        parse_config(d)
    assert "\n" not in str(err.value)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(d))
    with pytest.raises(ConfigError, match=f"^{path}: plugins"):
        load_config(path, check_paths=False)
