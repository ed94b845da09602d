"""Regenerate the shipped leaderboard: every shipped model audited under ``quick``.

Audits each shipped model (U-Net and E2E-VarNet at 4x and 8x, SENSE, CS-TV and CS-wavelet at 4x,
and the hardened demo weights the package ships: ``unet-4x-adversarial``, ``unet-4x-jitter``)
on the synthetic demo set with the ``quick`` protocol, then writes ``docs/leaderboard.md`` and
``docs/leaderboard.html``. Each audit is an ordinary run folder under ``runs/leaderboard``
(re-running resumes and recomputes nothing).

    python scripts/shipped_leaderboard.py --threads 1     # all shipped models (about 1 h)
    python scripts/shipped_leaderboard.py --models unet-4x sense-4x
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = (
    "unet-4x", "unet-8x", "varnet-4x", "varnet-8x", "sense-4x", "cs_tv-4x", "cs_wavelet-4x",
)  # fmt: skip


def hardened() -> list[str]:
    """Names of the shipped hardened weights (``unet-4x-adversarial`` ...)."""
    from advrecon.models.checkpoints import shipped_variants

    return [
        f"{arch}-{acc}x-{v}"
        for arch in ("unet", "varnet")
        for acc in (4, 8)
        for v in shipped_variants(arch, acc)
    ]


def demo_data() -> Path:
    """The demo's synthetic set (generated as ``advrecon demo`` does when absent)."""
    from advrecon.demo import default_config_path
    from advrecon.experiments.config import load_config
    from advrecon.experiments.source import ensure_synthetic

    config = load_config(default_config_path(), check_paths=False)
    ensure_synthetic(config)
    return Path(config.data.root)


def main() -> None:
    from advrecon.experiments.audit import audit
    from advrecon.report.leaderboard import make_leaderboard

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=None, help="shipped model names (default: all)")
    p.add_argument("--output", default=str(ROOT / "runs" / "leaderboard"))
    p.add_argument("--docs", default=str(ROOT / "docs"))
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    data = demo_data()
    cards = []
    for name in args.models or [*MODELS, *hardened()]:
        start = time.perf_counter()
        result = audit(
            f"shipped:{name}", data, protocol="quick", output=args.output, progress=False
        )
        minutes = (time.perf_counter() - start) / 60
        print(f"{name}: {result.run_dir} ({minutes:.1f} min)", flush=True)
        cards.append(result.card_json)
    md, html = make_leaderboard(cards, Path(args.docs), title="Shipped models, protocol quick")
    print(f"leaderboard: {md} and {html}")


if __name__ == "__main__":
    main()
