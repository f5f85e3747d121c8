"""``third_party/opengait_facts.py``: what the package records about OpenGait is what it generates.

The comparisons with OpenGait itself need an OpenGait git repository holding the pinned commit at
``$OPENGAIT_ROOT`` (a checkout or a bare mirror); without one they are skipped.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from opengait_local3d.engine.config.loading import load_config
from opengait_local3d.engine.data import get_transform
from opengait_local3d.engine.errors import ConfigError
from opengait_local3d.engine.config.opengait_keys import OPENGAIT_COMMIT
from opengait_local3d.engine.launcher import check_config

REPOSITORY = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("opengait_facts", REPOSITORY / "third_party" / "opengait_facts.py")
facts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(facts)


def _pinned_repository() -> Path | None:
    root = os.environ.get("OPENGAIT_ROOT")
    if not root or not Path(root).exists():
        return None
    found = subprocess.run(["git", "-C", root, "cat-file", "-e", f"{OPENGAIT_COMMIT}^{{commit}}"], capture_output=True)
    return Path(root) if found.returncode == 0 else None


PINNED = _pinned_repository()
AUGMENTATIONS = ("RandomRotate", "RandomPerspective", "RandomAffine", "RandomErasing", "RandomHorizontalFlip")
needs_opengait = pytest.mark.skipif(PINNED is None, reason="no OpenGait repository with the pinned commit at "
                                                           "$OPENGAIT_ROOT")


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


@needs_opengait
def test_the_recorded_files_are_what_the_generator_writes_at_the_pinned_commit():
    repo = facts.Repository(PINNED, OPENGAIT_COMMIT)
    assert facts.render_keys(repo) == facts.KEYS_MODULE.read_text()
    assert facts.render_names(repo) == facts.NAMES_FILE.read_text()


@needs_opengait
def test_every_opengait_config_loads_in_the_engine():
    repo = facts.Repository(PINNED, OPENGAIT_COMMIT)
    configs, _ = facts.read_configs(repo)
    for path, cfg in configs:
        load_config(cfg)  # raises ConfigError naming the key otherwise
    for name in ("configs/gaitset/gaitset.yaml", "configs/gaitpart/gaitpart.yaml",
                 "configs/gaitbase/gaitbase_da_casiab.yaml"):
        check_config(load_config(yaml.safe_load(repo.read(name))), training=True)


@needs_opengait
def test_opengaits_silhouette_augmentations_build_wherever_its_configs_use_them():
    repo = facts.Repository(PINNED, OPENGAIT_COMMIT)
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
