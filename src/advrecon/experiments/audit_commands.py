"""``advrecon audit`` (one model under a protocol) and ``advrecon card RUN_DIR`` (recompute)."""

from __future__ import annotations

import argparse
import os
import time

__all__ = ["register"]


def _cmd_audit(args: argparse.Namespace) -> int:
    from advrecon.errors import ConfigError
    from advrecon.experiments.audit import audit

    if args.acceleration is not None and args.acceleration < 1:
        raise ConfigError("--acceleration: must be >= 1")
    start = time.perf_counter()
    result = audit(
        args.model, args.data, acceleration=args.acceleration, protocol=args.protocol,
        annotations=args.annotations, output=args.output, device=args.device,
        progress=not args.no_progress, report=not args.no_report,
    )  # fmt: skip
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    if not result.complete:
        print(f"partial audit in {result.run_dir}; run the same command again to resume")
        return 0
    print(_scores(result.card))
    print(f"audit finished in {(time.perf_counter() - start) / 60:.1f} min")
    print(f"card: {result.card_json} and {result.card_md}")
    if result.report is not None:
        print(f"report: {result.report}")
    return 0


def _scores(card: dict) -> str:
    """The card's scores as a few aligned lines for the terminal."""
    head = (
        f"{card['model']['key']} under {card['protocol']['name']} v{card['protocol']['version']}"
        f" ({card['protocol']['hash']}): clean region SSIM {card['clean']['region_ssim']:.3f}"
    )
    lines = [head, f"  {'threat model':<14}{'budget':>11}{'worst':>8}{'random':>8}  verdict"]
    for t in card["threat_models"]:
        worst = "-" if t["worst_case"] is None else f"{t['worst_case']:.3f}"
        rand = "-" if t["random"] is None else f"{t['random']:.3f}"
        lines.append(f"  {t['name']:<14}{t['budget_label']:>11}{worst:>8}{rand:>8}  {t['verdict']}")
    return "\n".join(lines)


def _cmd_card(args: argparse.Namespace) -> int:
    from advrecon.report.card import write_card

    js, md = write_card(args.run_dir)
    print(f"card: {js} and {md}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``audit`` and ``card`` to the ``advrecon`` command line."""
    p = subparsers.add_parser(
        "audit",
        help="audit one model under a standard protocol (run + report + model card)",
        description=(
            "Run a named, versioned protocol (quick, knee-v1, or a protocol YAML) on one model "
            "and one data folder; writes the run folder <output>/<hash> with results.csv, the "
            "report, card.json and card.md. Re-running resumes; a finished audit recomputes "
            "nothing. Works under torchrun like `advrecon run`."
        ),
    )
    p.add_argument(
        "--model", required=True,
        help="checkpoint file, module:callable, or shipped:NAME-4x (unet, varnet, sense, cs_tv, "
        "cs_wavelet, zero_filled)",
    )  # fmt: skip
    p.add_argument("--data", required=True, help="folder of fastMRI multicoil .h5 files")
    p.add_argument("--annotations", default=None, help="fastMRI+ CSV (e.g. knee.csv)")
    p.add_argument("--acceleration", type=int, default=None, help="4, 8 ... (default: 4)")
    p.add_argument("--protocol", default="quick", help="quick, knee-v1 or a protocol YAML file")
    p.add_argument("--output", default="runs/audit", help="parent of the run folder")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    p.add_argument("--no-report", action="store_true", help="card only, no HTML report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_audit)
    c = subparsers.add_parser(
        "card", help="recompute card.json / card.md of an audit run folder from its results"
    )
    c.add_argument("run_dir", help="an audit's run folder")
    c.set_defaults(func=_cmd_card)
