"""The ``feature`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import ThreatModel
from advrecon.attacks.feature import FeatureAttackConfig, feature_batch_groups, run_feature_units

__all__ = ["THREAT_MODEL"]

THREAT_MODEL = ThreatModel(
    name="feature",
    section=FeatureAttackConfig,
    run=run_feature_units,
    batch_groups=feature_batch_groups,
    budget_column="contrast_percent",
    budget_unit="percent of the mean target intensity in the box (largest feature amplitude)",
    budget_symbol="%",
    unit_letter="t",
)
