"""``advrecon.audit``: one model, one data folder, one protocol -> a run, a report and a card.

An audit is an ordinary run (:func:`~advrecon.experiments.runner.run_experiment`): the config
is the protocol's settings (:mod:`advrecon.experiments.protocol`) plus the model and the data,
so the run folder is ``<output>/<config hash>``, a killed audit resumes where it stopped, a
finished one re-opened recomputes nothing, and under ``torchrun`` the units are sharded. Beside
``results.csv`` the audit writes ``audit.json`` (protocol, model identity, data fingerprint),
``card.json`` / ``card.md`` (:mod:`advrecon.report.card`) and the report.

Models are a checkpoint file, a ``module:callable`` spec, or a shipped model by name:
``shipped:unet-4x``, ``shipped:varnet-8x`` (demo weights, 4x and 8x), ``shipped:sense-4x``,
``shipped:cs_tv-4x``, ``shipped:cs_wavelet-4x``, ``shipped:zero_filled-4x`` (classical: any
acceleration), and hardened demo weights with their remedy: ``shipped:unet-4x-adversarial``,
``shipped:unet-4x-jitter``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advrecon.errors import ConfigError, InputFileError
from advrecon.experiments.protocol import Protocol, load_protocol
from advrecon.files import atomic_write_text

__all__ = ["AuditResult", "SHIPPED_MODELS", "audit", "resolve_model"]

#: Shipped model names -> (arch, accelerations with weights; empty: any).
SHIPPED_MODELS: dict[str, tuple[str, tuple[int, ...]]] = {
    "unet": ("unet", (4, 8)),
    "varnet": ("varnet", (4, 8)),
    "sense": ("sense", ()),
    "cs_tv": ("cs_tv", ()),
    "cs_wavelet": ("cs_wavelet", ()),
    "zero_filled": ("zero_filled", ()),
}
_SHIPPED = re.compile(r"^shipped:(?P<name>[a-z_]+)(-(?P<acc>\d+)x)?(-(?P<variant>[a-z_]+))?$")


@dataclass(frozen=True)
class AuditResult:
    """What :func:`audit` wrote.

    Attributes:
        run_dir: The run folder.
        complete: Every unit is done (a partial audit has no card and no report).
        card_json, card_md, report: The card and the report (``None`` for a partial audit or
            a rank other than 0).
        card: The card's content (``None`` when not written).
    """

    run_dir: Path
    complete: bool
    card_json: Path | None = None
    card_md: Path | None = None
    report: Path | None = None
    card: dict | None = None


def resolve_model(spec: str, acceleration: int | None) -> tuple[dict[str, Any], int]:
    """The config ``models:`` entry of a model spec and the acceleration it runs at.

    Raises:
        ConfigError: an unknown shipped name, an acceleration without shipped weights, or an
            acceleration that contradicts the name.
        InputFileError: neither an existing file nor a ``module:callable`` spec.
    """
    m = _SHIPPED.match(spec)
    if spec.startswith("shipped:") and m is None:
        raise ConfigError(f"--model {spec!r}: write shipped:NAME-4x ({_shipped_names()})")
    if m is not None:
        name = m["name"]
        if name not in SHIPPED_MODELS:
            raise ConfigError(f"--model {spec!r}: no shipped model {name!r} ({_shipped_names()})")
        named = int(m["acc"]) if m["acc"] else None
        if named is not None and acceleration is not None and named != acceleration:
            raise ConfigError(
                f"--acceleration {acceleration} contradicts --model {spec} (named for {named}x)"
            )
        acc = acceleration or named or 4
        arch, accs = SHIPPED_MODELS[name]
        if accs and acc not in accs:
            raise ConfigError(
                f"--model {spec}: shipped {name} weights exist for "
                f"{', '.join(f'{a}x' for a in accs)}, not {acc}x"
            )
        entry = {"name": name, "arch": arch, "acceleration": acc}
        if accs:
            entry |= {"preset": "demo", "shipped": True}
        if m["variant"]:
            entry |= _variant(spec, arch, acc, m["variant"], bool(accs))
        return entry, acc
    acc = acceleration or 4
    path = Path(spec)
    if path.exists():
        if not path.is_file():
            raise InputFileError(path, "is a folder, not a checkpoint file")
        arch = _checkpoint_arch(path)
        return {
            "name": _label(path.stem),
            "arch": arch,
            "checkpoint": str(path),
            "acceleration": acc,
        }, acc
    from advrecon.models.checkpoints import _CALLABLE_SPEC

    if _CALLABLE_SPEC.match(spec):  # the form load_reconstructor accepts
        return {"name": _label(spec.rpartition(":")[2]), "spec": spec, "acceleration": acc}, acc
    raise InputFileError(spec, "model file not found (and not a 'module:callable' spec)")


def _variant(spec: str, arch: str, acc: int, variant: str, weights: bool) -> dict[str, str]:
    """``{"name": "<arch>_<variant>", "variant": variant}`` for hardened shipped weights."""
    from advrecon.models.checkpoints import shipped_variants

    have = shipped_variants(arch, acc) if weights else []
    if variant not in have:
        raise ConfigError(
            f"--model {spec}: no shipped {variant!r} variant of {arch} at {acc}x (shipped: "
            f"{', '.join(have) or 'none'})"
        )
    return {"name": f"{arch}_{variant}", "variant": variant}


def _shipped_names() -> str:
    return ", ".join(
        f"shipped:{n}-{accs[0] if accs else 4}x" for n, (_, accs) in SHIPPED_MODELS.items()
    )


def _label(text: str) -> str:
    """A model name the config accepts (no '@', '/', ',')."""
    return re.sub(r"[@/,\s]+", "_", text) or "model"


def _checkpoint_arch(path: Path) -> str:
    """``unet`` / ``varnet`` from an advrecon checkpoint's metadata, else ``custom``."""
    from advrecon.models.checkpoints import _TORCHSCRIPT_SUFFIXES, read_metadata

    if path.suffix.lower() in _TORCHSCRIPT_SUFFIXES:
        return "custom"
    arch = read_metadata(path).get("architecture")
    return arch if arch in ("unet", "varnet") else "custom"


def data_section(root: str | Path, annotations: str | Path | None, protocol: Protocol) -> dict:
    """The config ``data:`` section of a data folder (synthetic when it holds synthetic.json).

    Raises:
        InputFileError: the folder or the annotation CSV does not exist, or holds no .h5 file.
        ConfigError: the data does not meet the protocol's ``requires``.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "data folder not found (--data)")
    if not any(root.glob("*.h5")):
        raise InputFileError(
            root, "holds no .h5 files (--data: a folder of fastMRI multicoil files)"
        )
    if annotations is not None and not Path(annotations).is_file():
        raise InputFileError(annotations, "annotation CSV not found (--annotations)")
    kind = "synthetic" if (root / "synthetic.json").is_file() else "fastmri"
    need = protocol.requires
    if need.get("data_kind") and need["data_kind"] != kind:
        raise ConfigError(
            f"--data {root}: protocol {protocol.name} runs on {need['data_kind']} data, this "
            f"folder holds {kind} data"
        )
    if kind == "fastmri" and annotations is None and (need.get("annotations") or _boxes(protocol)):
        raise ConfigError(
            f"--annotations: protocol {protocol.name} scores pathology boxes; pass the fastMRI+ "
            "CSV (e.g. knee.csv)"
        )
    section: dict[str, Any] = {"kind": kind, "root": str(root)}
    if annotations is not None:
        section["annotations"] = str(annotations)
    return section


def _boxes(protocol: Protocol) -> bool:
    return bool(protocol.settings.get("slices", {}).get("annotated_only", True))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_fingerprint(section: dict) -> str:
    """SHA-256 (16 hex) of the .h5 names and sizes and the annotation CSV's bytes."""
    root = Path(section["root"])
    h = hashlib.sha256()
    for f in sorted(root.glob("*.h5")):
        h.update(f"{f.name}:{f.stat().st_size}\n".encode())
    ann = section.get("annotations") or (root / "annotations.csv")
    if Path(ann).is_file():
        h.update(_sha256(Path(ann)).encode())
    return h.hexdigest()[:16]


def model_identity(entry: dict, spec: str) -> dict[str, Any]:
    """Name, source, arch, preset, weights hash, parameter count and training recipe."""
    from advrecon.models.checkpoints import read_metadata, shipped_weights

    out: dict[str, Any] = {
        "name": entry["name"], "key": f"{entry['name']}@{entry['acceleration']}x",
        "source": spec, "arch": entry.get("arch", "custom"), "preset": entry.get("preset"),
        "weights_sha256": None, "parameters": None, "training": None,
    }  # fmt: skip
    if entry.get("shipped"):
        path: Path | None = shipped_weights(
            entry["arch"], entry["acceleration"], variant=entry.get("variant")
        )
    else:
        path = Path(entry["checkpoint"]) if entry.get("checkpoint") else None
    if path is None:
        return out
    out["weights_sha256"] = _sha256(path)
    if out["arch"] in ("unet", "varnet"):
        meta = read_metadata(path)
        out["parameters"] = meta.get("num_parameters")
        out["preset"] = out["preset"] or meta.get("preset")
        out["training"] = _recipe(meta)
    return out


def _recipe(meta: dict) -> dict[str, Any]:
    """The training recipe of a checkpoint's metadata (what a card shows)."""
    keep = ("training", "robust", "acceleration", "center_fraction", "mask_type", "metrics")
    return {k: meta[k] for k in keep if k in meta}


def audit(
    model: str,
    data: str | Path,
    acceleration: int | None = None,
    protocol: str | Path = "quick",
    annotations: str | Path | None = None,
    output: str | Path = "runs/audit",
    device: str = "cpu",
    progress: bool = True,
    report: bool = True,
) -> AuditResult:
    """Audit ``model`` on ``data`` under ``protocol`` (see the module docstring).

    Args:
        model: Checkpoint path, ``module:callable`` or ``shipped:NAME-4x``.
        data: Folder of fastMRI multicoil ``.h5`` files (or a synthetic set).
        acceleration: Undersampling factor (default: the shipped name's, else 4).
        protocol: ``quick``, ``knee-v1`` or a protocol YAML file.
        annotations: fastMRI+ CSV (synthetic sets carry their own).
        output: Parent folder of the run folder.
        device: ``cpu``, ``cuda``, ``cuda:1`` ...
        progress: Show a progress bar.
        report: Also write the HTML report.

    Returns:
        An :class:`AuditResult`.
    """
    from advrecon.experiments.config import parse_config
    from advrecon.experiments.runner import run_experiment

    proto = load_protocol(protocol)
    entry, _ = resolve_model(str(model), acceleration)
    section = data_section(data, annotations, proto)
    try:
        config = parse_config(proto.experiment(section, entry, str(output)))
    except ConfigError as exc:
        raise ConfigError(f"protocol {proto.name} ({proto.source}): {exc}") from None
    config = config.with_overrides(device=device)
    config.check_paths()
    summary = run_experiment(config, progress=progress)
    if not summary.complete or int(os.environ.get("RANK", "0")) != 0:
        return AuditResult(summary.run_dir, summary.complete)
    return _finish(summary, proto, entry, str(model), section, report)


def _finish(summary, proto: Protocol, entry: dict, spec: str, section: dict, report: bool):
    """Write audit.json, the card and the report of a complete audit (kept when current)."""
    from advrecon.report.card import write_card

    run_dir = summary.run_dir
    meta_path = run_dir / "audit.json"
    html = run_dir / "report" / "report.html"
    current = summary.nothing_to_do and meta_path.is_file() and (run_dir / "card.json").is_file()
    if not current:
        meta = {
            "protocol": {**proto.identity(), "headline": proto.headline,
                         "verdict": vars(proto.verdict), "source": proto.source},
            "model": model_identity(entry, spec),
            "data": {**section, "fingerprint": data_fingerprint(section)},
        }  # fmt: skip
        atomic_write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    card_json, card_md = run_dir / "card.json", run_dir / "card.md"
    if not current:
        write_card(run_dir)
    if report and not (current and html.is_file()):
        from advrecon.report.html import make_report

        html = make_report(run_dir)
    card = json.loads(card_json.read_text(encoding="utf-8"))
    return AuditResult(run_dir, True, card_json, card_md, html if report else None, card)
