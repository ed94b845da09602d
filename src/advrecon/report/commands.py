"""``advrecon report RUN_DIR``: build the HTML report of a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "cmd_report"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``advrecon`` command line."""
    p = subparsers.add_parser(
        "report",
        help="figures, tables, findings and one HTML file from a run folder",
        description=(
            "Make the report of a run folder from its results table and saved arrays. The report "
            "opens with done / total units. A partial run (still running, interrupted, stopped "
            "by --max-units, or with no recorded total) is refused with exit status 2 and "
            "nothing written, unless --allow-partial: then the report is written with a PARTIAL "
            "RUN banner (verdicts provisional) and the exit status is 0. The report is built "
            "aside and moved into place at the end: a failure leaves no half-written report."
        ),
    )
    p.add_argument("run_dir", type=Path, help="run folder written by `advrecon run`")
    p.add_argument("--out", type=Path, default=None, help="output folder (default RUN_DIR/report)")
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="report a run that is not complete, marked PARTIAL RUN (default: refuse, exit 2)",
    )
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from advrecon.report.html import make_report

    path = make_report(args.run_dir, args.out, allow_partial=args.allow_partial)
    print(f"report: {path}")
    print(f"findings: {path.parent / 'findings.md'}")
    return 0
