"""``third_party/opengait_facts.py``: what the package records about OpenGait is what it generates.

The comparisons with OpenGait itself need an OpenGait git repository holding the pinned commit at
``$OPENGAIT_ROOT`` (a checkout or a bare mirror): they are marked ``needs_opengait`` and skipped without one
(``conftest.py``), each naming the twin that checks the same against the data stored here.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from conftest import OPENGAIT_COMMIT, assert_loads_unchanged, opengait_repository
from opengait_local3d.engine.data import get_transform
from opengait_local3d.errors import ConfigError
from opengait_local3d.engine.launcher import check_config

REPOSITORY = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("opengait_facts", REPOSITORY / "third_party" / "opengait_facts.py")
facts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(facts)


AUGMENTATIONS = ("RandomRotate", "RandomPerspective", "RandomAffine", "RandomErasing", "RandomHorizontalFlip")


def test_config_keys_are_collected_per_section_through_lists_and_trf_cfg():
    configs = [
        {"model_cfg": {"model": "A"}, "loss_cfg": [{"type": "L", "margin": 0.2}, {"scale": 16}],
         "trainer_cfg": {"sampler": {"type": "S", "frames_num_fixed": 30},
                         "transform": [{"type": "Compose", "trf_cfg": [{"type": "R", "prob": 0.2}]}]}},
        {"evaluator_cfg": {"transform": {"type": "BaseSilCuttingTransform", "cutting": 10}}},
    ]
    keys = facts.collect_keys(configs)
    assert keys[""] == {"model_cfg", "loss_cfg", "trainer_cfg", "evaluator_cfg"}
    assert keys["loss_cfg"] == {"type", "margin", "scale"}
    assert keys["sampler"] == {"type", "frames_num_fixed"}
    assert keys["transform"] == {"type", "trf_cfg", "prob", "cutting"}


@pytest.mark.needs_opengait(twin="test_engine_config.py::test_recorded_opengait_keys_cover_its_default_config")
def test_the_recorded_keys_are_what_the_generator_writes_at_the_pinned_commit():
    repo = facts.Repository(opengait_repository(), OPENGAIT_COMMIT)
    assert facts.render_keys(repo) == facts.KEYS_MODULE.read_text()


@pytest.mark.needs_opengait(
    twin="test_plugin.py::test_the_names_file_is_of_the_pinned_commit_and_lists_what_the_plugin_relies_on")
def test_the_names_file_is_what_the_generator_writes_at_the_pinned_commit():
    repo = facts.Repository(opengait_repository(), OPENGAIT_COMMIT)
    assert facts.render_names(repo) == facts.NAMES_FILE.read_text()


@pytest.mark.needs_opengait(twin="test_golden_opengait.py::test_opengaits_own_configs_pass_every_check")
def test_every_opengait_config_loads_in_the_engine():
    """Each of OpenGait's configs at the pinned commit loads with its own values, and GaitSet's and GaitPart's
    pass every check of a training run (the engine has no other of OpenGait's models: GaitBase's config names
    'Baseline'; its augmentations are the next test's)."""
    repo = facts.Repository(opengait_repository(), OPENGAIT_COMMIT)
    configs, _ = facts.read_configs(repo)
    assert len(configs) == 107  # as recorded in opengait_keys.py's docstring
    for _, cfg in configs:
        assert_loads_unchanged(cfg)  # raises ConfigError naming the key, or names the value changed
    by_path = dict(configs)
    for name in ("configs/gaitset/gaitset.yaml", "configs/gaitpart/gaitpart.yaml"):
        assert check_config(assert_loads_unchanged(by_path[name]), training=True) is None


@pytest.mark.needs_opengait(
    twin="test_engine_augmentations.py::test_gaitbase_transform_cuts_and_augments_64_pixel_silhouettes")
def test_opengaits_silhouette_augmentations_build_wherever_its_configs_use_them():
    repo = facts.Repository(opengait_repository(), OPENGAIT_COMMIT)
    augmented = [(path, cfg["trainer_cfg"]["transform"]) for path, cfg in facts.read_configs(repo)[0]
                 if any(entry.get("type") in AUGMENTATIONS for entry in facts._transform_entries(
                     cfg["trainer_cfg"].get("transform")))]
    assert len(augmented) == 35  # GaitBase, DeepGaitV2 and others at the pinned commit
    built = 0
    for path, transform in augmented:
        try:
            get_transform(transform, f"{path}: trainer_cfg.transform")
            built += 1
        except ConfigError as err:  # only transforms of other modalities may be missing (e.g. RGB ones)
            assert re.search(r"unknown transform '(\w+)'", str(err))[1] not in AUGMENTATIONS, err
    assert built == 30  # the other 5 also use RGB or parsing transforms
