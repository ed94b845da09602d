"""Thin command line over the Python API.

Each concept module registers its own sub-commands through a ``register(subparsers)`` function
(see ``_COMMAND_MODULES``); this file only builds the parser, dispatches, and turns
:class:`~advrecon.errors.AdvreconError` into one clear line on stderr and a non-zero exit
(a stray :class:`OSError` too: exit 1; SIGINT/SIGTERM during a run: exit 130).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings

from advrecon._version import __version__
from advrecon.errors import AdvreconError, RunInterrupted

# module -> provides register(subparsers); each adds sub-commands with set_defaults(func=...)
_COMMAND_MODULES = [
    "advrecon.data.commands",  # advrecon data synth | preview | info
    "advrecon.models.commands",  # advrecon models (presets, checkpoint info)
    "advrecon.training.commands",  # advrecon train
    "advrecon.experiments.commands",  # advrecon run
    "advrecon.experiments.audit_commands",  # advrecon audit | card
    "advrecon.report.commands",  # advrecon report
    "advrecon.report.leaderboard",  # advrecon leaderboard
    "advrecon.demo",  # advrecon demo
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="advrecon",
        description="Audit MRI reconstruction models under realistic adversarial perturbations.",
    )
    parser.add_argument("--version", action="version", version=f"advrecon {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (Ctrl-C at any point: 130, no traceback)."""
    previous, warnings.formatwarning = warnings.formatwarning, _format_warning
    try:
        return _main(argv)
    except KeyboardInterrupt:  # e.g. while torch is still being imported
        print("advrecon: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = previous


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings as one line for a user (no source line of the module that raised them)."""
    return f"advrecon: warning: {message}\n"


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        result = args.func(args)
    except RunInterrupted as exc:
        print(f"advrecon: interrupted: {exc}", file=sys.stderr)
        return exc.exit_code
    except AdvreconError as exc:
        print(f"advrecon: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("advrecon: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # an environment fault no layer below explained: still one line
        print(f"advrecon: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    return int(result or 0)


def describe_os_error(exc: OSError) -> str:
    """``cannot use PATH: REASON`` (or the error's own text when it names no file)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return reason
    target = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else str(exc.filename)
    return f"cannot use {target}: {reason}"


if __name__ == "__main__":
    raise SystemExit(main())
