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
        description="Make the report of a run folder from its results table and saved arrays.",
    )
    p.add_argument("run_dir", type=Path, help="run folder written by `advrecon run`")
    p.add_argument("--out", type=Path, default=None, help="output folder (default RUN_DIR/report)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from advrecon.report.html import make_report

    path = make_report(args.run_dir, args.out)
    print(f"report: {path}")
    print(f"findings: {path.parent / 'findings.md'}")
    return 0
