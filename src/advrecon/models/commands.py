"""``advrecon models``: list the size presets and inspect checkpoint files."""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def _list(args: argparse.Namespace) -> int:
    from advrecon.models.checkpoints import count_parameters
    from advrecon.models.presets import PRESETS

    print(f"{'arch':<8}{'preset':<9}{'parameters':>12}  kwargs")
    for arch, presets in PRESETS.items():
        for name, kwargs in presets.items():
            n = count_parameters(arch, name)
            text = ", ".join(f"{k}={v}" for k, v in kwargs.items())
            print(f"{arch:<8}{name:<9}{n:>12,}  {text}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from advrecon.models.checkpoints import read_metadata

    metadata = read_metadata(args.checkpoint)
    if args.json:
        print(json.dumps(metadata, indent=2, sort_keys=True, default=str))
        return 0
    print(f"checkpoint: {args.checkpoint}")
    print(f"  recipe: {_recipe_line(metadata)}")
    for key in sorted(metadata):
        value = metadata[key]
        if isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True, default=str)
        print(f"  {key}: {value}")
    return 0


def _recipe_line(metadata: dict) -> str:
    """One line on how the weights were trained: standard, or the robust remedy and budget."""
    robust = metadata.get("robust")
    if not isinstance(robust, dict):
        return "standard training" if "training" in metadata else "unknown (no training record)"
    parts = [f"eta {robust.get('eta')} ({robust.get('eta_unit', '?')})"]
    if robust.get("remedy") != "jitter":
        parts.append(f"threat {robust.get('threat')}")
        parts.append(f"{robust.get('steps')} {robust.get('search', '')} passes".replace("  ", " "))
    parts.append(f"clean-loss weight {robust.get('mix')}")
    if robust.get("reference"):
        parts.append(robust["reference"])
    return f"robust training, {robust.get('remedy')}: " + ", ".join(parts)


def register(subparsers) -> None:
    """Add ``advrecon models list`` and ``advrecon models info CKPT``."""
    parser = subparsers.add_parser("models", help="model presets and checkpoint files")
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    p_list = sub.add_parser("list", help="size presets with parameter counts")
    p_list.set_defaults(func=_list)
    p_info = sub.add_parser("info", help="show a checkpoint's metadata (validates the weights)")
    p_info.add_argument("checkpoint", help=".safetensors, or fastMRI .pt/.pth/.ckpt state dict")
    p_info.add_argument("--json", action="store_true", help="print the metadata as JSON")
    p_info.set_defaults(func=_info)
    parser.set_defaults(func=lambda args: (parser.print_help(), 1)[1])
