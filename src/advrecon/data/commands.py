"""``advrecon data``: inspect fastMRI files, write a synthetic dataset, preview a dataset.

``info`` is implemented here on top of :class:`~advrecon.data.fastmri.FastMRIVolume`; ``synth``
and ``preview`` delegate to :mod:`advrecon.data.synthetic` and :mod:`advrecon.data.preview`
(their ``register_arguments(parser)`` adds the options; the work happens in
``generate_dataset`` / ``run_from_args``, imported only when the command runs).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from advrecon.errors import AdvreconError

__all__ = ["register", "volume_info"]


def _optional_module(name: str) -> ModuleType | None:
    """Import a sibling module that may not be there yet (its command is then unavailable)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


def volume_info(path: str | Path, slice_num: int | None = None) -> list[str]:
    """Human-readable description of a fastMRI file (what ``advrecon data info`` prints).

    Args:
        path: fastMRI multicoil ``.h5`` file.
        slice_num: Also read this slice and describe its k-space (and target).

    Every slice is read once and checked as ``run`` checks it (no NaN/Inf, not all zero), so a
    file that ``info`` accepts is one that ``run`` accepts.

    Returns:
        Lines of text.

    Raises:
        InputFileError: The file, its header geometry or one of its slices is missing,
            malformed or degenerate.
    """
    from advrecon.data.fastmri import FastMRIVolume

    volume = FastMRIVolume(path)
    if slice_num is not None:
        volume._check_index(slice_num)
    volume.check_slices()
    h = volume.header
    slices, coils, H, W = volume.shape
    lines = [
        f"file:              {volume.path}",
        f"kspace:            {slices} slices x {coils} coils x {H} x {W} (slices, coils, H, W)",
        f"encoding size:     {h.encoding_size} (x, y, z)",
        f"recon size:        {h.recon_size} (x, y, z) -> target (h, w) = {h.recon_shape}",
        f"encoding limits:   center {h.enc_limits_center}, maximum + 1 = {h.enc_limits_max}",
        f"padding:           left {h.padding_left}, right {h.padding_right} "
        f"(sampled columns [{h.padding_left}, {h.padding_right}) of {W})",
        "target:            "
        + (f"reconstruction_rss {volume.target_shape}" if volume.has_target else "none"),
    ]
    for key in sorted(volume.attrs):
        lines.append(f"attr {key + ':':<13} {volume.attrs[key]}")
    if slice_num is not None:
        kspace = volume.kspace(slice_num)
        lines.append(
            f"{f'slice {slice_num}:':<19}k-space max |k| {kspace.abs().max().item():.4g}, "
            f"energy {kspace.abs().square().sum().item():.4g}"
        )
        target = volume.target(slice_num)
        if target is not None:
            lines.append(
                f"{f'slice {slice_num} target:':<19}min {target.min().item():.4g}, "
                f"max {target.max().item():.4g}"
            )
    return lines


def _info(args: argparse.Namespace) -> int:
    for line in volume_info(args.file, args.slice):
        print(line)
    return 0


def _unavailable(module: str):
    def handler(args: argparse.Namespace) -> int:
        raise AdvreconError(f"this command needs {module}, which is not available in this install")

    return handler


def _synth(args: argparse.Namespace) -> int:
    from advrecon.data import synthetic

    config = synthetic.config_from_args(args)
    paths = synthetic.generate_dataset(
        Path(args.out), config, overwrite=getattr(args, "overwrite", False)
    )
    print(f"wrote {len(paths)} files to {args.out}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from advrecon.data import preview

    png = preview.run_from_args(args)
    print(f"wrote {png}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``advrecon data {info,synth,preview}``."""
    data = subparsers.add_parser(
        "data",
        help="inspect fastMRI files, write a synthetic dataset, preview a dataset",
        description="Inspect fastMRI files, write a synthetic dataset, preview a dataset.",
    )
    sub = data.add_subparsers(
        dest="data_command", metavar="SUBCOMMAND", parser_class=_LazyArgumentParser
    )

    info = sub.add_parser(
        "info",
        help="describe a fastMRI multicoil .h5 file",
        description="Print the k-space shape, ISMRMRD header geometry (encoding and recon size, "
        "padding) and attributes of a fastMRI multicoil .h5 file.",
    )
    info.add_argument("file", metavar="FILE", help="fastMRI multicoil .h5 file")
    info.add_argument("--slice", type=int, default=None, metavar="N", help="also read slice N")
    info.set_defaults(func=_info)

    sub.add_parser(
        "synth",
        help="write a synthetic knee-like dataset in fastMRI format",
        description="Write synthetic multicoil volumes (fastMRI format) and a fastMRI+ style "
        "annotations.csv to OUT.",
        populate=_populate_synth,
    )
    sub.add_parser(
        "preview",
        help="render a PNG overview of a dataset folder",
        description="Render a PNG overview (targets with fastMRI+ boxes) of a dataset folder.",
        populate=_populate_preview,
    )

    data.set_defaults(func=lambda args: _help(data))


class _LazyArgumentParser(argparse.ArgumentParser):
    """A sub-command parser whose arguments are added only when it parses (or prints help).

    ``synth`` and ``preview`` take their options from modules that import torch, h5py and
    pandas; adding them on first use keeps ``advrecon --help`` free of those imports.
    """

    def __init__(
        self, *args, populate: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self._populate = populate

    def parse_known_args(self, args=None, namespace=None):
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate(self)
        return super().parse_known_args(args, namespace)


def _populate_synth(parser: argparse.ArgumentParser) -> None:
    """Options of ``advrecon data synth`` (from :mod:`advrecon.data.synthetic`)."""
    _populate(parser, "advrecon.data.synthetic", _synth, ("out", "OUT", "output folder"))


def _populate_preview(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``advrecon data preview`` (from :mod:`advrecon.data.preview`)."""
    _populate(parser, "advrecon.data.preview", _preview, ("dir", "DIR", "dataset folder"))


def _populate(parser, module_name: str, handler, positional: tuple[str, str, str]) -> None:
    """Add the delegate module's arguments and handler (or an "unavailable" handler)."""
    module = _optional_module(module_name)
    if module is not None and hasattr(module, "register_arguments"):
        module.register_arguments(parser)
        parser.set_defaults(func=handler)
    else:
        parser.set_defaults(func=_unavailable(module_name))
    _ensure_positional(parser, *positional)


def _ensure_positional(parser: argparse.ArgumentParser, dest: str, metavar: str, help: str):
    """Add the positional ``dest`` unless the delegate's ``register_arguments`` already did."""
    if not any(action.dest == dest for action in parser._actions):
        parser.add_argument(dest, metavar=metavar, help=help)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 1
