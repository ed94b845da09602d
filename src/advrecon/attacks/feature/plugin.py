"""The ``feature`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import Column, ThreatModel
from advrecon.attacks.feature.config import FeatureAttackConfig, feature_batch_groups
from advrecon.attacks.feature.report import HOOKS
from advrecon.attacks.feature.threat import FeatureInsertion
from advrecon.attacks.feature.units import run_feature_units

__all__ = ["COLUMNS", "THREAT_MODEL", "feature_columns"]


def feature_columns(name: str, adv: str, rand: str) -> dict[str, Column]:
    """``[rand_]<name>_{recovered,cnr,contrast_percent}``."""
    out = {}
    for prefix, who in (("", adv), ("rand_", f"{rand}, mean over draws")):
        out[f"{prefix}{name}_recovered"] = Column(
            "float", "1", f"<recon - clean recon, F> / ||F||^2: {who}"
        )
        out[f"{prefix}{name}_cnr"] = Column(
            "float", "1", f"feature contrast / thermal noise std of the image: {who}"
        )
        out[f"{prefix}{name}_contrast_percent"] = Column(
            "float", "%", f"feature-weighted mean change, % of the box mean: {who}"
        )
    return out


#: Result columns of the feature attack.
COLUMNS: dict[str, Column] = {
    **feature_columns(
        "feature", "inserted feature (optimised shape, box centre)", "same feature, random position"
    ),
    "feature_recovered_start": Column("float", "1", "recovered fraction of the uniform start"),
    "feature_fill": Column("float", "1", "optimised feature's mass / the uniform feature's"),
}

THREAT_MODEL = ThreatModel(
    name="feature",
    description="missing features: a small feature in the box that the model loses (FNAF)",
    section=FeatureAttackConfig,
    run=run_feature_units,
    batch_groups=feature_batch_groups,
    budget_column="contrast_percent",
    budget_unit="percent of the mean target intensity in the box (largest feature amplitude)",
    budget_symbol="%",
    columns=COLUMNS,
    report=HOOKS,
    unit_letter="t",
    threat=FeatureInsertion,
    example={"contrast": [0, 25], "size": 3, "steps": 2, "n_random": 1},
)
