"""The noise attack's stopping rule and its tightness check, measured for a protocol.

On the shipped demo U-Net 4x and the demo config's 6 slices (``benchmarks/strength.py``'s
``load_cases``), region target (the slice's first box), ``objective="ssim"`` (the search
maximises 1 - region SSIM, the reported metric), APGD, seed 0, one thread. For each setting
(``steps`` passes per round, ``tol``, ``max_steps``, APGD's initial step; ``apgd@N``: plain
APGD at ``N`` passes; ``s2``: initial step 2.0, else 1.0) and budget ``eta``, per slice: the
region SSIM reached, the passes spent, whether the rule converged, and the *tightness check*
of that setting: plain APGD with initial step 2.0 at ``factor`` x the cap (``max_steps``;
plain settings: x ``steps``) passes. Printed per setting:

* ``ssim``: mean region SSIM over the slices (lower = stronger attack);
* ``passes``: mean passes spent per slice; ``conv``: share of slices that converged;
* ``gap``: mean and max over slices of ``ssim - min(ssim, check's ssim)`` (the report's
  tightness gap, target mean <= 0.01);
* ``best gap``: max over slices of ``ssim`` minus the lowest region SSIM any run found;
* ``check``: the check's passes per slice and mean SSIM; ``s``: seconds of the setting and
  of its check at this machine's speed.

The audit estimate adds a setting's passes at every budget given and its check at 1 %, at the
measured seconds per pass. Figures, never asserted.

    PYTHONPATH=src python benchmarks/protocol_tightness.py --data demo_out/synthetic
    PYTHONPATH=src python benchmarks/protocol_tightness.py --data demo_out/synthetic \
        --etas 2.5 --settings 10 10:0.001:30 10:0.001:30:2 10:0.001:50:2
    PYTHONPATH=src python benchmarks/protocol_tightness.py --quick    # smoke run, < 1 min

Runtime: the default (eta 1 %, 9 settings) is ~9,600 passes, ~10 min at the U-Net 4x's
~0.06 s per pass on one free core (38 min measured on a shared, loaded 2-core machine at
0.24 s per pass); the eta 2.5 % line ~6,100 passes (33 min on the same loaded machine).

Measured (eta 1 %, 6 slices): ``10/0.001/30`` (the ``quick`` protocol's setting) mean region
SSIM 0.4842, tightness gap mean 0.0013 / max 0.0019 against its check (APGD, step 2.0, 300
passes), 30 passes per slice, 4 of 6 converged; plain APGD at 10 passes: gap mean 0.0138 / max
0.0432. At 2.5 % no setting up to 50 passes converges the attack (gap mean 0.026).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from strength import attack, load_cases  # noqa: E402

#: (steps per round, tol, max_steps, APGD's initial step); tol None: plain APGD at ``steps``.
SETTINGS = (
    (10, None, None, 1.0),
    (10, None, None, 2.0),
    (30, None, None, 1.0),
    (10, 1e-3, 30, 1.0),
    (10, 1e-3, 30, 2.0),
    (10, 1e-3, 50, 1.0),
    (10, 1e-3, 50, 2.0),
    (10, 3e-4, 50, 1.0),
    (20, 1e-3, 40, 1.0),
)
FACTOR = 10
CHECK_STEP = 2.0


def parse_setting(text: str) -> tuple:
    """``"10:0.001:30[:2]"`` -> ``(10, 0.001, 30, 2.0)`` (step 1.0 when not given); ``"10"``
    or ``"10:-:-:2"`` -> plain APGD at 10 passes."""
    parts = text.split(":") + ["-", "-", "1"][len(text.split(":")) - 1 :]
    tol, cap = (None, None) if parts[1] == "-" else (float(parts[1]), int(parts[2]))
    return int(parts[0]), tol, cap, float(parts[3])


def label(setting: tuple) -> str:
    steps, tol, cap, step = setting
    name = f"apgd@{steps}" if tol is None else f"{steps}/{tol:g}/{cap}"
    return name if step == 1.0 else f"{name} s{step:g}"


def run_setting(case, args, setting: tuple) -> tuple[float, int, bool, float]:
    """``(region SSIM, passes, converged, seconds)`` of one setting on one case (one eta)."""
    steps, tol, cap, step = setting
    conv = None if tol is None else {"tol": tol, "max_steps": cap}
    t = time.perf_counter()
    res = attack(case, args, steps=steps, search="apgd", apgd_step=step, converge=conv)
    sec = time.perf_counter() - t
    ok = bool(res.converged[0]) if conv else False
    return float(res.metrics["adv_ssim"][0]), int(res.passes[0]), ok, sec


def run_check(case, args, passes: int) -> tuple[float, float]:
    """``(region SSIM, seconds)`` of plain APGD (step 2.0) at ``passes`` passes."""
    t = time.perf_counter()
    res = attack(case, args, steps=passes, search="apgd", apgd_step=CHECK_STEP)
    return float(res.metrics["adv_ssim"][0]), time.perf_counter() - t


def measure(cases, args, settings) -> list[dict]:
    """One row per (setting, slice) with the setting's and its check's figures."""
    rows, checks = [], {}
    for ci, case in enumerate(cases):
        for s in settings:
            ssim, passes, ok, sec = run_setting(case, args, s)
            n = args.factor * (s[0] if s[1] is None else s[2])
            if (ci, n) not in checks:
                checks[(ci, n)] = run_check(case, args, n)
            c_ssim, c_sec = checks[(ci, n)]
            rows.append(dict(setting=label(s), file=case.file, ssim=ssim, passes=passes,
                             converged=ok, sec=sec, check_passes=n, check_ssim=c_ssim,
                             check_sec=c_sec))  # fmt: skip
            print(f"  {case.file} {label(s):>14}: ssim {ssim:.4f} passes {passes:3d} "
                  f"conv {int(ok)} | check@{n} {c_ssim:.4f}", flush=True)  # fmt: skip
    return rows


def summarize(rows: list[dict], eta: float, etas_audit: int) -> None:
    """Print the per-setting table (means over slices) and the audit estimate."""
    import pandas as pd

    df = pd.DataFrame(rows)
    df["gap"] = df["ssim"] - df[["ssim", "check_ssim"]].min(axis=1)
    best = pd.concat([df.groupby("file")["ssim"].min(), df.groupby("file")["check_ssim"].min()],
                     axis=1).min(axis=1)  # fmt: skip
    df["best_gap"] = df["ssim"] - df["file"].map(best)
    checks = df.drop_duplicates(["file", "check_passes"])
    per_pass = (df["sec"].sum() + checks["check_sec"].sum()) / (
        df["passes"].sum() + checks["check_passes"].sum()
    )
    g = df.groupby("setting", sort=False)
    t = g.agg(ssim=("ssim", "mean"), passes=("passes", "mean"), conv=("converged", "mean"),
              gap_mean=("gap", "mean"), gap_max=("gap", "max"), best_gap=("best_gap", "max"),
              check=("check_passes", "first"), check_ssim=("check_ssim", "mean"),
              sec=("sec", "sum"), check_sec=("check_sec", "sum"))  # fmt: skip
    # the audit: this setting at every budget (its passes at this eta as the estimate) + check
    t["audit_s"] = (etas_audit * t["passes"] + t["check"]) * len(best) * per_pass
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(f"\neta {eta:g} %, {len(best)} slices, U-Net 4x, objective ssim "
              f"({per_pass:.3f} s per pass):")  # fmt: skip
        print(t.round(4).to_string())
    print(
        "gap = ssim - min(ssim, check); best_gap = max over slices of ssim - lowest found; "
        f"audit_s = ({etas_audit} budgets x passes + check) x slices x s/pass"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="synthetic data folder (default: demo config's)")
    p.add_argument("--slices", type=int, default=6)
    p.add_argument("--etas", type=float, nargs="+", default=(1.0,), help="budgets in percent")
    p.add_argument("--settings", nargs="+", default=None, metavar="STEPS[:TOL:MAX_STEPS]")
    p.add_argument("--factor", type=int, default=FACTOR, help="the check's cost multiple")
    p.add_argument("--audit-etas", type=int, default=3, help="noise budgets of the audit")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="smoke run: 1 slice, 2 settings, x2")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    settings = [parse_setting(s) for s in args.settings] if args.settings else list(SETTINGS)
    if args.quick:
        args.slices, args.factor, settings = 1, 2, [(5, None, None), (5, 1e-3, 10)]
    args.models, args.objective = {("unet", 4)}, "ssim"
    t0 = time.perf_counter()
    for eta in args.etas:
        args.etas = (eta,)
        cases = load_cases(args, torch.device("cpu"))
        summarize(measure(cases, args, settings), eta, args.audit_etas)
    print(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
