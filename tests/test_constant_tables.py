"""Each table of valid values has one home; config and training use that very object."""

from __future__ import annotations

from advrecon import masks
from advrecon.attacks import geometry, noise, objectives, rotation
from advrecon.attacks.registry import threat_models
from advrecon.experiments import config, config_models, config_sections
from advrecon.models import presets
from advrecon.training import config as train_config


def test_experiment_config_uses_the_tables_of_their_modules():
    # the attack sections (and so their tables) live in the threat models' own modules; the
    # experiment config reads them from the registry
    sections = {name: threat.section for name, threat in threat_models().items()}
    assert sections["noise"] is noise.NoiseAttackConfig
    assert sections["rotation"] is rotation.RotationAttackConfig
    assert noise.OBJECTIVES is objectives.OBJECTIVES and rotation.SELECT_BY is objectives.SELECT_BY
    assert rotation.INTERPOLATIONS is geometry.INTERPOLATIONS
    assert config.DEFAULT_CENTER_FRACTION is masks.PAPER_MASKS
    assert config.MASK_TYPES == tuple(masks.MASK_TYPES)
    assert set(presets.ARCHITECTURES) < set(config.ARCHS)
    # the section modules hold the tables the config re-exports
    assert config_models.DEFAULT_CENTER_FRACTION is masks.PAPER_MASKS
    assert config_sections.MASK_TYPES is config.MASK_TYPES
    assert config_models.ARCHS is config.ARCHS


def test_training_uses_the_tables_of_their_modules():
    assert train_config.DEFAULT_CENTER_FRACTIONS is masks.PAPER_MASKS
    assert set(train_config.MASK_TYPES) <= set(masks.MASK_TYPES)
    assert set(train_config.DEFAULT_LR) == set(presets.ARCHITECTURES)


def test_every_architecture_has_every_preset():
    for arch in presets.ARCHITECTURES:
        assert tuple(presets.PRESETS[arch]) == presets.PRESET_NAMES
