"""Memory-aware batching: ``chunk_size: auto``, ``memory_limit``, out-of-memory retries."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.cli import main  # noqa: E402
from advrecon.errors import AdvreconError, ConfigError  # noqa: E402
from advrecon.experiments import memory  # noqa: E402
from advrecon.experiments.config import load_config, parse_config  # noqa: E402
from advrecon.models.reconstructor import UnetReconstructor  # noqa: E402

MiB = 2**20


@pytest.mark.parametrize(
    "text, expected",
    [
        ("8GiB", 8 * 2**30),
        ("512 MB", 512 * 10**6),
        ("1.5g", 1_500_000_000),
        ("0.5", 0.5),
        (0.25, 0.25),
    ],
)
def test_parse_memory(text, expected):
    assert memory.parse_memory(text) == expected


@pytest.mark.parametrize("bad", ["8 GiBs", "-1GB", "lots", "", 0, True, "12", [1]])
def test_parse_memory_refuses(bad):
    with pytest.raises(ValueError, match="expected a size like '8GiB'"):
        memory.parse_memory(bad)


def _cfg(**over) -> dict:
    return fakes.tiny_config_dict("runs", **over)


@pytest.mark.parametrize(
    "over, message",
    [
        ({"chunk_size": "auto", "memory_limit": "8 gigs"}, "memory_limit: expected a size"),
        ({"chunk_size": "auto", "memory_limit": 1.5}, "memory_limit: expected a size"),
        ({"chunk_size": 4, "memory_limit": "8GiB"}, "memory_limit: only used with chunk_size"),
        ({"chunk_size": "big"}, "chunk_size: must be a positive integer or 'auto'"),
    ],
)
def test_bad_memory_settings_name_the_key(over, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_cfg(**over))


def test_bad_memory_limit_in_a_file_names_file_and_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_cfg(chunk_size="auto", memory_limit="eight")))
    with pytest.raises(ConfigError, match=r"c\.yaml: memory_limit: expected a size"):
        load_config(path, check_paths=False)


def test_memory_settings_do_not_change_the_hash():
    a = parse_config(_cfg())
    b = parse_config(_cfg(chunk_size="auto", memory_limit="2GiB"))
    assert a.hash() == b.hash()


def _allocating_executor(per_item: int, seen: list):
    """A fake executor whose peak memory is ``chunk * per_item`` bytes (held for a moment)."""

    def run(batch, ctx):
        chunk = ctx.chunk_size or 4
        seen.append(chunk)
        block = torch.ones(chunk * per_item // 4, dtype=torch.float32)  # touched: resident
        time.sleep(0.05)
        return float(block[-1])

    return run


def _batch(key="m@4x", kind="noise"):
    return SimpleNamespace(model=SimpleNamespace(key=key), kind=kind, seed=1)


def test_auto_picks_a_smaller_chunk_under_a_smaller_limit():
    chosen = {}
    for name, extra in (("large", 2048 * MiB), ("small", 256 * MiB)):
        limit = memory._rss() + extra
        planner = memory.ChunkPlanner("auto", limit, "cpu")
        seen: list = []
        ctx = SimpleNamespace(model=None, chunk_size="auto", generator=None)
        planner.execute(_allocating_executor(32 * MiB, seen), _batch(), ctx)
        assert seen == [1]  # the first batch is measured one item per forward
        assert planner.footprints[("m@4x", "noise")] >= 24 * MiB  # measured, not assumed
        planner.execute(_allocating_executor(32 * MiB, seen), _batch(), ctx)
        chosen[name] = seen[-1]
    assert 1 <= chosen["small"] < chosen["large"]
    assert chosen["small"] <= 256 // 32 and chosen["large"] <= 2048 // 24


def test_oom_at_one_item_stops_with_one_sentence():
    def always_oom(batch, ctx):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    planner = memory.ChunkPlanner(2, None, "cpu")
    ctx = SimpleNamespace(model=None, chunk_size=2, generator=None)
    with pytest.raises(AdvreconError, match="m@4x, attack noise: out of memory on cpu even"):
        planner.execute(always_oom, _batch(), ctx)


def test_out_of_memory_errors_recognised():
    assert memory.is_out_of_memory(torch.OutOfMemoryError("x"))
    assert memory.is_out_of_memory(MemoryError())
    assert memory.is_out_of_memory(
        RuntimeError("[enforce fail] DefaultCPUAllocator: out of memory")
    )
    assert not memory.is_out_of_memory(RuntimeError("shape mismatch"))


class _OomUnet(UnetReconstructor):
    """A tiny U-Net that 'runs out of memory' above two items per forward pass."""

    def reconstruct(self, masked_kspace, mask, num_low_frequencies=None):
        if masked_kspace.shape[0] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return super().reconstruct(masked_kspace, mask, num_low_frequencies)


def oom_unet():
    return _OomUnet(fakes.tiny_unet())


def _run(tmp_path, name: str, chunk_size) -> pd.DataFrame:
    d = fakes.real_config_dict(str(tmp_path / name), str(tmp_path / "data"))
    d["models"] = [{"name": "tiny", "spec": "test_experiments_memory:oom_unet", "acceleration": 4}]
    d["chunk_size"] = chunk_size
    d["slices"]["max_slices"] = 1
    d["targets"] = ["region"]
    d["attacks"]["noise"].update(eta=[2], rules=["l2"])
    d["attacks"]["rotation"].update(theta_max=[2])
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(d))
    assert main(["run", str(path), "--no-progress"]) == 0
    df = pd.read_csv(load_config(path).run_dir() / "results.csv")
    return df.drop(columns=["time_batch_s", "time_unit_s"]).sort_values("unit_id")


def test_simulated_oom_is_retried_smaller_with_identical_results(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="advrecon.experiments.memory"):
        big = _run(tmp_path, "big", 8)
    retries = [r.getMessage() for r in caplog.records if "out of memory" in r.getMessage()]
    assert retries and "retrying the batch with chunk_size 4" in retries[0]
    small = _run(tmp_path, "small", 2)
    pd.testing.assert_frame_equal(big.reset_index(drop=True), small.reset_index(drop=True))


def test_progress_eta_per_model():
    from advrecon.experiments.progress import ModelEta

    eta = ModelEta({"unet@4x": 10, "varnet@4x": 4})
    assert eta.eta("unet@4x") is None and "unet@4x ? left" in eta.describe("unet@4x")
    eta.record("unet@4x", 2, 4.0)  # 2 s per unit, 8 units left
    assert eta.eta("unet@4x") == pytest.approx(16.0)
    assert eta.describe("unet@4x") == "unet@4x 16s left; all 16s+?"
    eta.record("varnet@4x", 1, 60.0)  # 60 s per unit, 3 left: the slow model dominates
    assert eta.eta("varnet@4x") == pytest.approx(180.0)
    assert eta.describe("varnet@4x") == "varnet@4x 3m00s left; all 3m16s"
    eta.record("varnet@4x", 3, 90.0)
    assert eta.eta("varnet@4x") == 0.0
