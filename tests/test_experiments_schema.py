"""Results schema declared once: row assembly, Parquet beside the CSV, old run folders."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.errors import InputFileError  # noqa: E402
from advrecon.experiments import schema  # noqa: E402
from advrecon.experiments.config import parse_config  # noqa: E402
from advrecon.experiments.results_store import load_arrays  # noqa: E402
from advrecon.experiments.runner import run_experiment  # noqa: E402
from advrecon.report.tables import load_run  # noqa: E402

_DTYPES = {"int": "Int64", "float": "float64", "bool": "boolean", "str": "string"}


def _parse(cell: str, dtype: str) -> object:
    """A CSV cell as the Parquet column's Python value ("" for a null)."""
    if cell == "" or dtype == "string":
        return cell
    return int(cell) if dtype == "Int64" else {"True": True, "False": False}[cell]


def _fake_run(tmp_path, executor=fakes.fake_executor, **kw):
    cfg = parse_config(fakes.tiny_config_dict(str(tmp_path), arrays="all"))
    res = run_experiment(
        cfg,
        executor=executor,
        source=fakes.FakeSource(),
        model_loader=fakes.fake_loader,
        progress=False,
        **kw,
    )
    return res.run_dir


def _with_synonyms(batch, ctx):
    """The fake executor, its rows carrying the attacks' own budget names as today's do."""
    out = fakes.fake_executor(batch, ctx)
    for u in batch.units:
        if u.attack == "noise":
            out.rows[u.id].update(eta=u.budget / 100, eta_percent=u.budget, item=0)
        else:
            out.rows[u.id].update(theta_max=u.budget, theta_max_deg=u.budget, slice_index=0)
        out.rows[u.id]["budget"] = -1.0  # an executor cannot overwrite the identity
    return out


def test_results_row_drops_synonyms_and_keeps_the_key():
    key = {"unit_id": "u", "budget": 2.5}
    row = schema.results_row(
        key, {"eta": 0.025, "eta_percent": 2.5, "adv_ssim": 0.5, "budget": 9}, {"seed": 1}
    )
    assert row == {"unit_id": "u", "budget": 2.5, "adv_ssim": 0.5, "seed": 1}


def test_every_declared_column_has_a_known_type_and_the_keys_come_first():
    assert {c.dtype for c in schema.COLUMNS.values()} <= set(_DTYPES)
    assert all(k in schema.COLUMNS for k in schema.KEY_COLUMNS + schema.PROVENANCE_COLUMNS)
    assert not set(schema.DROPPED_ATTACK_FIELDS) & set(schema.COLUMNS)
    from advrecon.attacks.registry import threat_models

    assert set(schema.BUDGET_UNITS) == set(threat_models())  # every shipped threat model


def test_run_writes_no_synonym_and_saves_control_arrays(tmp_path):
    run_dir = _fake_run(tmp_path, executor=_with_synonyms)
    df = pd.read_csv(run_dir / "results.csv")
    assert list(df.columns[: len(schema.KEY_COLUMNS)]) == schema.KEY_COLUMNS
    assert not set(schema.DROPPED_ATTACK_FIELDS) & set(df.columns)
    assert set(df.budget) == {0, 1, 2.5, 2}
    a = load_arrays(run_dir / df.arrays_file.iloc[0])
    assert "control" in a and "reference" not in a


def test_parquet_has_the_schema_dtypes_and_equals_the_csv(tmp_path):
    run_dir = _fake_run(tmp_path)
    csv = pd.read_csv(run_dir / "results.csv", keep_default_na=False, dtype=str)
    pq = pd.read_parquet(run_dir / "results.parquet")
    assert list(pq.columns) == list(csv.columns) and len(pq) == len(csv) > 0
    for c in pq.columns:
        kind = schema.dtype_of(c)
        want = _DTYPES[kind] if kind else ("string" if c == "note" else "float64")
        assert str(pq[c].dtype) == want, c
        back = pq[c].astype(object).map(lambda v: "" if pd.isna(v) else v)
        if want == "float64":
            exp = csv[c].map(lambda s: np.nan if s == "" else float(s))
            np.testing.assert_array_equal(pq[c].to_numpy(), exp.to_numpy(), err_msg=c)
        else:
            assert back.tolist() == [_parse(s, want) for s in csv[c]], c


def test_parquet_only_when_the_run_completes(tmp_path):
    run_dir = _fake_run(tmp_path, max_units=3)
    assert (run_dir / "results.csv").is_file() and not (run_dir / "results.parquet").exists()
    run_dir = _fake_run(tmp_path)
    assert (run_dir / "results.parquet").is_file()


def _old_run(tmp_path, header: str, rows: list[str]) -> Path:
    run_dir = tmp_path / "old"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text("{}")
    (run_dir / "results.csv").write_text("\n".join([header, *rows]) + "\n")
    return run_dir


def test_old_run_folder_opens_with_todays_names(tmp_path):
    head = "unit_id,model,acceleration,attack,rule,target,file,slice,box_index,adv_ssim,clean_ssim"
    head += ",eta,eta_percent,theta_max_deg,box_w,box_h,box_grown"
    rows = [
        "u1,unet,4,noise,l2,region,f,3,0,0.7,0.9,0.025,2.5,,7,8,True",
        "u2,unet,4,rotation,grid,region,f,3,0,0.8,0.9,,,5.0,7,8,False",
    ]
    res = load_run(_old_run(tmp_path, head, rows)).results
    assert res.budget.tolist() == [2.5, 5.0]
    assert res.region_width.tolist() == [7, 7] and res.region_height.tolist() == [8, 8]
    assert not {"eta", "eta_percent", "theta_max_deg", "box_w"} & set(res.columns)


def test_old_run_folder_without_any_budget_says_so(tmp_path):
    head = "unit_id,model,acceleration,attack,rule,target,file,slice,box_index,adv_ssim,clean_ssim"
    run_dir = _old_run(tmp_path, head, ["u1,unet,4,noise,l2,region,f,3,0,0.7,0.9"])
    with pytest.raises(InputFileError, match="lacks the column.s. budget"):
        load_run(run_dir)
