"""Test doubles for the experiment runner (no data, model or attack code needed).

Importable as a module (``tests`` on ``sys.path``) and runnable as a script, so that
``python -m torch.distributed.run --nproc_per_node=2 tests/test_experiments_fakes.py CFG OUT``
runs the real runner/store/sharding code with these fakes. No tests are collected here.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.experiments.config import parse_config
from advrecon.experiments.runner import BatchOutput
from advrecon.experiments.units import SliceRef

RECON = (16, 16)


def tiny_config_dict(output: str, **over) -> dict:
    d = {
        "name": "tiny",
        "seed": 3,
        "output": output,
        "data": {"kind": "synthetic", "root": "unused-by-fakes"},
        "slices": {"annotated_only": True, "max_slices": 3},
        "models": [{"name": "fake", "spec": "x:y", "accelerations": [4, 8]}],
        "attacks": {
            "noise": {"eta": [0, 1, 2.5], "rules": ["l2", "reference"], "n_random": 1},
            "rotation": {"theta_max": [0, 2], "step": 1.0},
        },
        "targets": ["region", "image"],
    }
    d.update(over)
    return d


class FakeSource:
    """Three slices; the second has two boxes, the third none."""

    def __init__(self, n: int = 3) -> None:
        boxes = [(Box(2, 3, 5, 4, "meniscus"),), (Box(1, 1, 4, 4, "a"), Box(8, 8, 6, 5, "b")), ()]
        self._refs = [SliceRef(f"file{100 + i}", 10 + i, boxes[i % 3], RECON) for i in range(n)]

    def refs(self):
        return list(self._refs)

    def load(self, ref):
        """A :class:`advrecon.experiments.source.Slice` with all-zero k-space."""
        kspace = torch.zeros(2, *ref.recon_size, dtype=torch.complex64)
        return SimpleNamespace(
            fname=ref.file,
            slice_num=ref.slice,
            recon_size=ref.recon_size,
            kspace=kspace,
            padding=None,
        )


def child_pythonpath() -> str:
    """``PYTHONPATH`` for a child process: these fakes and the advrecon under test.

    Not only the fakes' folder: a child would then import whatever advrecon is installed,
    which need not be the sources these tests run on.
    """
    import advrecon

    pkg_root = Path(advrecon.__file__).resolve().parents[1]
    return os.pathsep.join([str(Path(__file__).resolve().parent), str(pkg_root)])


def fake_loader(model_config, recon_size, device):
    return f"model:{model_config.key}"


def _u(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 2**32


def fake_executor(batch, ctx, delay: float = 0.0):
    """Deterministic metrics that depend on the unit and the batch's random generator."""
    assert ctx.model == f"model:{batch.model.key}"
    draw = torch.rand(len(batch.units), generator=ctx.generator)
    out = BatchOutput(rows={})
    for k, u in enumerate(batch.units):
        base = 0.9 - 0.02 * (u.acceleration == 8) - 0.05 * _u(u.file)
        drop = (0.04 if u.attack == "noise" else 0.01) * u.budget
        drop *= 1.5 if u.target == "region" else 1.0
        adv = base - drop - 0.01 * float(draw[k])
        out.rows[u.id] = {
            "clean_ssim": base,
            "adv_ssim": adv,
            "rand_mean_ssim": base - drop / 10,
            "adv_ssim_full": adv + 0.02,
            "clean_ssim_full": base + 0.02,
            "adv_psnr": 30 - 3 * u.budget,
            "note": "x",
        }
        img = np.full(RECON, adv, dtype=np.float32)
        out.arrays[u.id] = {
            "target": img + 0.1,
            "clean": img + 0.05,
            "adversarial": img,
            "reference": img + 0.2,  # an executor's old name: saved as "control"
            "box": np.asarray(u.box.as_tuple()),
        }
    if batch.kind == "rotation":
        for t in ("region", "image"):
            for a in np.arange(-2, 2.01, 1.0):
                out.curves.append(
                    {
                        "model": batch.model.name,
                        "acceleration": batch.model.acceleration,
                        "target": t,
                        "file": batch.ref.file,
                        "slice": batch.ref.slice,
                        "box_index": 0 if t == "region" else -1,
                        "angle": float(a),
                        "ssim": 0.9 - 0.01 * abs(a),
                    }
                )
    time.sleep(delay)
    return out


def main(argv: list[str]) -> int:
    """``fakes.py OUTPUT [DELAY] [MAX_UNITS]``: run the tiny experiment with the fakes.

    ``FAKE_NAN_RANK=R`` in the environment makes rank R's metrics NaN.
    """
    from advrecon.experiments.runner import run_experiment

    output = argv[0]
    delay = float(argv[1]) if len(argv) > 1 else 0.0
    max_units = int(argv[2]) if len(argv) > 2 and argv[2] != "-" else None
    cfg = parse_config(tiny_config_dict(output))
    nan_rank = os.environ.get("FAKE_NAN_RANK")  # this rank's metrics are NaN (failure tests)

    def executor(batch, ctx):
        out = fake_executor(batch, ctx, delay)
        if nan_rank is not None and os.environ.get("RANK", "0") == nan_rank:
            for row in out.rows.values():
                row["adv_ssim"] = float("nan")
        return out

    try:
        res = run_experiment(
            cfg,
            executor=executor,
            source=FakeSource(),
            model_loader=fake_loader,
            max_units=max_units,
            progress=False,
        )
    except AdvreconError as exc:  # what the CLI does
        print(f"advrecon: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    print(f"done {res.done_units}/{res.total_units} executed {res.executed_units}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


def tiny_unet():
    """A tiny untrained U-Net (``module:callable`` model spec for end-to-end tests)."""
    from advrecon.models.unet import Unet

    torch.manual_seed(0)
    return Unet(1, 1, chans=4, num_pool_layers=2)


def real_config_dict(output: str, data: str) -> dict:
    """Tiny end-to-end experiment: synthetic data, tiny U-Net, real attacks."""
    return {
        "name": "tiny-real",
        "seed": 1,
        "output": output,
        "data": {
            "kind": "synthetic",
            "root": data,
            "synthetic": {
                "num_volumes": 2,
                "num_slices": 3,
                "num_coils": 2,
                "kspace_shape": [64, 32],
                "recon_size": [32, 32],
                "lesion_probability": 1.0,
                "seed": 0,
            },
        },
        "slices": {"annotated_only": True, "one_per_volume": True},
        "models": [{"name": "tiny", "spec": "test_experiments_fakes:tiny_unet", "acceleration": 4}],
        "attacks": {
            "noise": {"eta": [0, 2], "steps": 2, "n_random": 1},
            "rotation": {"theta_max": [0, 2], "step": 1.0, "n_random": 1},
        },
        "targets": ["region", "image"],
    }
