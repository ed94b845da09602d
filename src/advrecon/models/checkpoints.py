"""Safe model loading, presets and weights metadata.

Formats accepted by :func:`load_checkpoint`:

* **advrecon** ``.safetensors``: tensors plus a JSON metadata record (architecture, constructor
  kwargs, preset, training mask, data, metrics, version, date) written by
  :func:`save_checkpoint`;
* **fastMRI** state dicts: ``.pt``/``.pth`` plain state dicts (e.g. the published leaderboard
  weights) or Lightning ``.ckpt`` files with a ``"state_dict"`` entry and a ``varnet.``/``unet.``
  key prefix. They are read with ``torch.load(..., weights_only=True)`` only: a file that needs
  arbitrary unpickling is refused, never executed. Architecture hyper-parameters (cascades,
  channels, pooling levels) are inferred from the parameter shapes unless ``preset`` is given.

Every problem (missing, truncated or pickled-object file, another architecture, shape mismatch,
unknown preset) raises :class:`~advrecon.errors.InputFileError`: one sentence naming the file.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import inspect
import json
import re
import struct
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from advrecon.errors import ConfigError, InputFileError
from advrecon.files import atomic_write
from advrecon.models.presets import ARCHITECTURES, PRESET_NAMES, PRESETS, preset_kwargs
from advrecon.models.reconstructor import (
    CallableReconstructor,
    Reconstructor,
    ScriptedReconstructor,
    UnetReconstructor,
    VarNetReconstructor,
    one_line,
)
from advrecon.models.unet import Unet
from advrecon.models.varnet import VarNet

__all__ = [
    "PRESETS",
    "build_model",
    "count_parameters",
    "model_kwargs",
    "architecture_of",
    "save_checkpoint",
    "export_checkpoint",
    "load_checkpoint",
    "read_metadata",
    "load_reconstructor",
    "shipped_variants",
    "shipped_weights",
    "WEIGHTS_DIR",
    "SHIPPED_PRESET",
    "safe_torch_load",
]

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
#: Size preset of the demo weights shipped in :data:`WEIGHTS_DIR`.
SHIPPED_PRESET = "demo"
_METADATA_KEY = "advrecon"
_FORMAT = "advrecon-checkpoint-v1"
_CLASSES = {"varnet": VarNet, "unet": Unet}


# ----------------------------------------------------------------------------- building


def build_model(arch: str, preset: str = "demo", **overrides) -> nn.Module:
    """Construct an untrained model of a named size.

    Args:
        arch: ``"varnet"`` or ``"unet"``.
        preset: ``"demo"``, ``"paper"`` or ``"fastmri"`` (see :mod:`advrecon.models.presets`).
        **overrides: Constructor kwargs replacing the preset's (e.g. ``num_cascades=2``).

    Returns:
        :class:`~advrecon.models.varnet.VarNet` or :class:`~advrecon.models.unet.Unet`.
    """
    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {arch!r} (choose from {', '.join(ARCHITECTURES)})")
    if preset not in PRESETS[arch]:
        raise ConfigError(
            f"unknown preset {preset!r} for {arch} (choose from {', '.join(PRESETS[arch])})"
        )
    kwargs = preset_kwargs(arch, preset)
    allowed = [n for n in inspect.signature(_CLASSES[arch]).parameters if n not in ("self", "args")]
    unknown = [k for k in overrides if k not in allowed]
    if unknown:
        raise ConfigError(
            f"unknown {arch} model argument(s) {', '.join(map(repr, unknown))} "
            f"(allowed: {', '.join(allowed)})"
        )
    for key, value in overrides.items():
        _check_override(arch, key, value, kwargs.get(key))
    kwargs.update(overrides)
    try:
        return _CLASSES[arch](**kwargs)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"cannot build {arch} ({preset}) with {overrides}: {exc}") from None


def _check_override(arch: str, key: str, value: object, default: object) -> None:
    """An override has the type of the preset's value (sizes: integers >= 1)."""
    if isinstance(default, bool):
        ok, want = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, want = (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            ("an integer >= 1"),
        )
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1
        want = "a number in [0, 1)"
    else:
        return
    if not ok:
        raise ConfigError(f"{arch} model argument {key}: must be {want}, got {value!r}")


def count_parameters(arch: str, preset: str, **overrides) -> int:
    """Number of parameters of ``build_model(arch, preset)`` (built on the meta device: free)."""
    with torch.device("meta"):
        model = build_model(arch, preset, **overrides)
    return sum(p.numel() for p in model.parameters())


def _unwrap(model: nn.Module) -> nn.Module:
    if isinstance(model, VarNetReconstructor):
        return model.varnet
    if isinstance(model, UnetReconstructor):
        return model.unet
    return model


def architecture_of(model: nn.Module) -> str:
    """``"varnet"`` or ``"unet"`` for a model (or its reconstructor wrapper)."""
    model = _unwrap(model)
    for name, cls in _CLASSES.items():
        if isinstance(model, cls):
            return name
    raise TypeError(f"not an advrecon VarNet or Unet: {type(model).__name__}")


def model_kwargs(model: nn.Module) -> dict:
    """Constructor kwargs that rebuild ``model`` (architecture only, not the weights)."""
    model = _unwrap(model)
    if isinstance(model, VarNet):
        return dict(model.config)
    if isinstance(model, Unet):
        return {
            "in_chans": model.in_chans,
            "out_chans": model.out_chans,
            "chans": model.chans,
            "num_pool_layers": model.num_pool_layers,
            "drop_prob": model.drop_prob,
        }
    raise TypeError(f"not an advrecon VarNet or Unet: {type(model).__name__}")


# ----------------------------------------------------------------------------- saving


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    metadata: Mapping | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write weights and metadata as one safetensors file (atomically).

    ``architecture``, ``model_kwargs``, ``package_version`` and ``date`` are filled in from the
    model and the environment; pass the rest in ``metadata``. Recognised keys: ``preset``,
    ``acceleration``, ``center_fraction``, ``mask_type``, ``recon_size``, ``num_coils``,
    ``training_data``, ``metrics``; any other JSON-serialisable entries are kept too.

    Args:
        path: Output file (``.safetensors``).
        model: A VarNet, Unet or their reconstructor wrapper.
        metadata: Extra JSON-serialisable provenance.
        dtype: Store floating-point tensors in this dtype (``torch.float16`` halves the file;
            loading casts back to the model's float32 parameters). Recorded as
            ``stored_dtype``.

    Returns:
        The written path.
    """
    from safetensors.torch import save

    from advrecon._version import __version__

    path = Path(path)
    net = _unwrap(model)
    record = {
        "format": _FORMAT,
        "architecture": architecture_of(net),
        "model_kwargs": model_kwargs(net),
        "package_version": __version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    for key, value in dict(metadata or {}).items():
        if key not in ("format", "architecture", "model_kwargs"):
            record[key] = value
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
        record["stored_dtype"] = str(dtype).removeprefix("torch.")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, save(tensors, metadata={_METADATA_KEY: json.dumps(record)}), "checkpoint")
    return path


# ----------------------------------------------------------------------------- reading


def _is_safetensors(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if len(head) < 9:
        return path.suffix == ".safetensors"
    (size,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 0 < size < 100_000_000 or path.suffix == ".safetensors"


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any("/code/" in n for n in names) and any(n.endswith("constants.pkl") for n in names)


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # SafetensorError, OSError, ... : anything means unreadable
        raise InputFileError(
            path, f"is not a readable safetensors file (truncated or corrupt: {exc})"
        ) from None
    metadata: dict = {}
    if _METADATA_KEY in raw:
        try:
            metadata = json.loads(raw[_METADATA_KEY])
        except json.JSONDecodeError:
            raise InputFileError(path, "has corrupt advrecon metadata (not valid JSON)") from None
    return tensors, metadata


_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def safe_torch_load(
    path: Path,
    what: str = "PyTorch checkpoint / state dict",
    hint: str = "save model.state_dict() or a TorchScript archive instead",
) -> object:
    """``torch.load(path, weights_only=True)`` with one clear sentence for every failure.

    The only ``torch.load`` of the package: files that need arbitrary unpickling are refused,
    never executed, and torch's advice to retry with unpickling switched on is never shown.

    Args:
        path: A ``torch.save`` file.
        what: What the file should be, for the messages (``"training state"``).
        hint: What to do about a file holding pickled Python objects.

    Returns:
        The loaded object (tensors and plain containers only).

    Raises:
        InputFileError: Corrupt, truncated or not a ``torch.save`` file, or a file holding
            pickled Python objects.
    """
    import pickle

    try:
        with warnings.catch_warnings():
            # torch warns (several lines) about non-default pickle protocols before refusing
            # or reading them; the outcome is reported below in one line.
            warnings.filterwarnings("ignore", message=".*pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _GLOBAL.search(str(exc))
        if found is not None:
            raise InputFileError(
                path,
                f"contains Python objects ({found.group(1)}) that advrecon refuses to unpickle "
                f"for safety; only tensors and plain containers are loaded ({hint})",
            ) from None
        raise InputFileError(path, _not_torch(what)) from None
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    except Exception:  # RuntimeError (bad zip), EOFError (truncated), KeyError (text), ...
        raise InputFileError(path, _not_torch(what)) from None


def _not_torch(what: str) -> str:
    return f"is not a {what} (corrupt, truncated or not a torch.save file)"


def _read_torch(path: Path) -> dict[str, torch.Tensor]:
    if _is_torchscript(path):
        raise InputFileError(
            path,
            "is a TorchScript archive, not a state dict: pass it to load_reconstructor "
            "(or as the model spec) instead",
        )
    obj = safe_torch_load(path)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]  # Lightning .ckpt
    if not isinstance(obj, Mapping) or not obj:
        raise InputFileError(path, "does not contain a state dict (a mapping of tensors)")
    state = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise InputFileError(path, "does not contain a state dict (a mapping of tensors)")
    for prefix in ("module.", "model.", "varnet.", "unet."):
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def _guess_arch(state: Mapping[str, torch.Tensor]) -> str | None:
    if any(k.startswith(("sens_net.", "cascades.")) for k in state):
        return "varnet"
    if any(k.startswith("down_sample_layers.") for k in state):
        return "unet"
    return None


def _count(state: Mapping, pattern: str) -> int:
    rx = re.compile(pattern)
    found = {int(m.group(1)) for k in state if (m := rx.match(k))}
    return max(found) + 1 if found else 0


def _unet_kwargs(state: Mapping[str, torch.Tensor], prefix: str) -> dict:
    first = state.get(f"{prefix}down_sample_layers.0.layers.0.weight")
    pools = _count(state, re.escape(prefix) + r"down_sample_layers\.(\d+)\.")
    out: dict = {}
    if first is not None and first.ndim == 4:
        out["chans"] = int(first.shape[0])
        out["in_chans"] = int(first.shape[1])
    if pools:
        out["num_pool_layers"] = pools
        last = state.get(f"{prefix}up_conv.{pools - 1}.1.weight")
        if last is not None and last.ndim == 4:
            out["out_chans"] = int(last.shape[0])
    return out


def infer_kwargs(state: Mapping[str, torch.Tensor], arch: str) -> dict:
    """Constructor kwargs read off a fastMRI state dict's parameter shapes.

    Hyper-parameters that leave no trace in the weights (``mask_center``, ``drop_prob``) take
    fastMRI's defaults; entries that cannot be inferred keep the constructor defaults.
    """
    if arch == "unet":
        kw = {"in_chans": 1, "out_chans": 1, "drop_prob": 0.0}
        kw.update(_unet_kwargs(state, ""))
        return kw
    kw: dict = {"mask_center": True}
    n = _count(state, r"cascades\.(\d+)\.")
    if n:
        kw["num_cascades"] = n
    cascade = _unet_kwargs(state, "cascades.0.model.unet.")
    if "chans" in cascade:
        kw["chans"] = cascade["chans"]
    if "num_pool_layers" in cascade:
        kw["pools"] = cascade["num_pool_layers"]
    sens = _unet_kwargs(state, "sens_net.norm_unet.unet.")
    if "chans" in sens:
        kw["sens_chans"] = sens["chans"]
    if "num_pool_layers" in sens:
        kw["sens_pools"] = sens["num_pool_layers"]
    return kw


def _few(keys, n: int = 3) -> str:
    keys = sorted(keys)
    text = ", ".join(keys[:n])
    return text + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def _build_and_load(path: Path, state: dict, arch: str, kwargs: dict) -> nn.Module:
    try:
        model = _CLASSES[arch](**kwargs)
    except TypeError as exc:
        raise InputFileError(path, f"has invalid {arch} constructor arguments ({exc})") from None
    expected = model.state_dict()
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    if missing or unexpected:
        other = _guess_arch(state)
        what = f"a {other} checkpoint, not a {arch}" if other and other != arch else "incompatible"
        raise InputFileError(
            path,
            f"is {what} checkpoint: missing keys {_few(missing) or 'none'}; "
            f"unexpected keys {_few(unexpected) or 'none'}",
        )
    bad = [k for k in expected if tuple(expected[k].shape) != tuple(state[k].shape)]
    if bad:
        k = bad[0]
        raise InputFileError(
            path,
            f"does not fit {arch} {kwargs}: {k} has shape {tuple(state[k].shape)}, expected "
            f"{tuple(expected[k].shape)} ({len(bad)} mismatched tensors; wrong --preset?)",
        )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)
    return model.eval()


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    if not path.exists():
        raise InputFileError(path, "checkpoint file not found")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not a checkpoint file")
    if _is_safetensors(path):
        return _read_safetensors(path)
    return _read_torch(path), {}


def load_checkpoint(
    path: str | Path, arch: str | None = None, preset: str | None = None
) -> tuple[nn.Module, dict]:
    """Load an advrecon or fastMRI checkpoint safely.

    Args:
        path: ``.safetensors`` (advrecon) or ``.pt``/``.pth``/``.ckpt`` (fastMRI state dict).
        arch: ``"varnet"``/``"unet"``; default: from the metadata or the parameter names.
        preset: Size preset to build; default: from the metadata or inferred from the shapes.

    Returns:
        ``(model, metadata)``: the model in eval mode on the CPU, and the metadata dict (for
        fastMRI files: ``architecture``, ``model_kwargs``, ``format="fastmri"``).
    """
    path = Path(path)
    if arch is not None and arch not in ARCHITECTURES:
        choices = ", ".join(ARCHITECTURES)
        raise InputFileError(path, f"unknown architecture {arch!r} requested (choose {choices})")
    if preset is not None:
        archs = [arch] if arch else list(ARCHITECTURES)
        if all(preset not in PRESETS[a] for a in archs):
            raise InputFileError(
                path, f"unknown preset {preset!r} requested (choose from {', '.join(PRESET_NAMES)})"
            )
    state, metadata = _read(path)
    if not metadata:
        metadata = {"format": "fastmri"}
    found = metadata.get("architecture") or _guess_arch(state)
    if arch is None:
        arch = found
    if arch is None:
        raise InputFileError(
            path,
            f"does not look like a VarNet or U-Net state dict (keys such as {_few(state)}); "
            "pass --arch and --preset",
        )
    if preset is not None:
        kwargs = preset_kwargs(arch, preset)
    elif metadata.get("architecture") == arch and "model_kwargs" in metadata:
        kwargs = dict(metadata["model_kwargs"])
    else:
        kwargs = infer_kwargs(state, arch)
    model = _build_and_load(path, state, arch, kwargs)
    metadata = dict(metadata)
    metadata["architecture"] = arch
    metadata["model_kwargs"] = model_kwargs(model)
    if preset is not None:
        metadata["preset"] = preset
    return model, metadata


def export_checkpoint(
    src: str | Path, dst: str | Path, dtype: torch.dtype | None = torch.float16
) -> Path:
    """Re-write a checkpoint (same metadata), optionally with smaller floating-point storage.

    Used for the shipped demo weights: float16 storage keeps them at a few MB. The metrics in
    the metadata were measured with the float32 weights; float16 rounding changes outputs at
    the 1e-3 relative level.
    """
    model, metadata = load_checkpoint(src)
    return save_checkpoint(dst, model, metadata, dtype=dtype)


def read_metadata(path: str | Path) -> dict:
    """Metadata of a checkpoint plus ``num_parameters`` (loads and validates the weights)."""
    model, metadata = load_checkpoint(path)
    metadata = dict(metadata)
    metadata["num_parameters"] = sum(p.numel() for p in model.parameters())
    return metadata


# ----------------------------------------------------------------------------- reconstructors

_TORCHSCRIPT_SUFFIXES = (".ts", ".jit", ".torchscript")
_CALLABLE_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def wrap_model(model: nn.Module, recon_size: tuple[int, int]) -> Reconstructor:
    """Put a VarNet/Unet behind the :class:`Reconstructor` interface."""
    arch = architecture_of(model)
    if arch == "varnet":
        return VarNetReconstructor(model, recon_size)
    return UnetReconstructor(model, recon_size)


def _import_problem(exc: BaseException) -> str:
    """One line for a failed import; a syntax error names its file and line."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"SyntaxError in {exc.filename} line {exc.lineno}: {exc.msg}"
    return one_line(exc)


def _load_callable(spec: str, recon_size: tuple[int, int]) -> Reconstructor:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, SyntaxError, anything its top level raises
        raise InputFileError(
            spec, f"cannot import module {module_name!r} ({_import_problem(exc)})"
        ) from None
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise InputFileError(spec, f"module {module_name!r} has no attribute {attr!r}")
    if not callable(factory):
        raise InputFileError(spec, f"{attr!r} is not callable")
    try:
        made = factory()
    except Exception as exc:
        raise InputFileError(spec, f"the factory {attr}() raised {one_line(exc)}") from None
    if isinstance(made, Reconstructor):
        made.recon_size = (int(recon_size[0]), int(recon_size[1]))
        if type(made).__module__.partition(".")[0] == "advrecon":
            return made
        # a user's subclass: wrapped so that an exception in its code is a one-line ModelError
        return CallableReconstructor(made, recon_size)
    if isinstance(made, (VarNet, Unet)):
        return wrap_model(made, recon_size)
    if not callable(made):
        raise InputFileError(spec, "the factory did not return a callable model")
    return CallableReconstructor(made, recon_size)


def load_reconstructor(
    spec: str | Path,
    recon_size: tuple[int, int],
    device: str | torch.device = "cpu",
    arch: str | None = None,
    preset: str | None = None,
) -> Reconstructor:
    """A ready :class:`Reconstructor` (eval mode) from a model spec.

    ``spec`` is one of: a checkpoint file (see :func:`load_checkpoint`), a TorchScript archive
    (:class:`ScriptedReconstructor`), or ``"package.module:factory"`` where ``factory()`` returns a
    :class:`Reconstructor`, a VarNet/Unet, or a module called as
    ``(masked_kspace, mask, num_low_frequencies) -> (B, h', w')``. Attacks call ``.freeze()`` on
    the result themselves.

    Args:
        spec: The model spec.
        recon_size: Output ``(h, w)``.
        device: Device to move the model to.
        arch: Architecture override for state dicts.
        preset: Size preset for state dicts.

    Returns:
        The reconstructor, with ``.metadata`` set for checkpoints.
    """
    path = Path(spec)
    if path.exists():
        if _is_torchscript(path):
            recon: Reconstructor = ScriptedReconstructor(path, recon_size, device=device)
            recon.metadata = {"format": "torchscript", "path": str(path)}
        elif path.suffix.lower() in _TORCHSCRIPT_SUFFIXES and path.is_file():
            raise InputFileError(
                path, "is not a TorchScript archive (expected a file written by torch.jit.save)"
            )
        else:
            model, metadata = load_checkpoint(path, arch=arch, preset=preset)
            recon = wrap_model(model, recon_size)
            recon.metadata = metadata
    elif isinstance(spec, str) and _CALLABLE_SPEC.match(spec):
        recon = _load_callable(spec, recon_size)
    else:
        raise InputFileError(spec, "model file not found (and not a 'module:callable' spec)")
    recon.label = str(spec)
    return recon.to(device).eval()


def shipped_weights(arch: str, acceleration: int, variant: str | None = None) -> Path:
    """Path of the demo weights shipped with the package.

    Args:
        arch: ``"varnet"`` or ``"unet"``.
        acceleration: 4 or 8.
        variant: ``None`` (standard training) or a hardened variant, the remedy it was trained
            with (``"adversarial"``, ``"jitter"``; docs/robust_training.md).

    Returns:
        ``advrecon/weights/{arch}_demo_{acceleration}x[_{variant}].safetensors``.
    """
    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {arch!r} (choose from {', '.join(ARCHITECTURES)})")
    if int(acceleration) != acceleration or int(acceleration) not in (4, 8):
        raise ConfigError(f"no shipped weights for acceleration {acceleration!r} (choose 4 or 8)")
    stem = f"{arch}_demo_{int(acceleration)}x"
    if variant is not None:
        variants = shipped_variants(arch, int(acceleration))
        if variant not in variants:
            raise ConfigError(
                f"no shipped {variant!r} variant of {stem} (shipped variants: "
                f"{', '.join(variants) or 'none'})"
            )
        stem = f"{stem}_{variant}"
    path = WEIGHTS_DIR / f"{stem}.safetensors"
    if not path.is_file():
        raise InputFileError(
            path,
            "shipped demo weights are missing from this installation (train them with "
            "`advrecon train` or reinstall advrecon)",
        )
    return path


def shipped_variants(arch: str, acceleration: int) -> list[str]:
    """The hardened variants shipped for ``arch`` at ``acceleration`` (e.g. ``["adversarial",
    "jitter"]``), from the file names in :data:`WEIGHTS_DIR`."""
    prefix = f"{arch}_demo_{int(acceleration)}x_"
    return sorted(p.stem[len(prefix) :] for p in WEIGHTS_DIR.glob(f"{prefix}*.safetensors"))
