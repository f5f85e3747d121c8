"""Config loading: OpenGait's merge rule, key checks with suggestions, OpenGait's own configs, registries."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from conftest import OPENGAIT_COMMIT
from opengait_local3d.engine.config.loading import load_config, merge_configs, read_yaml
from opengait_local3d.config.opengait_keys import OPENGAIT_COMMIT as RECORDED_COMMIT, OPENGAIT_KEYS
from opengait_local3d.config.paths import output_path, resolve_path
from opengait_local3d.engine.data.transforms import get_transform
from opengait_local3d.errors import ConfigError
from opengait_local3d.engine.launcher import check_config
from opengait_local3d.config.optimizers import OPTIMIZERS, SCHEDULERS
from opengait_local3d.resources import CONFIG_DIR



def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_merge_is_recursive_for_dicts_and_replaces_lists():
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "l": [1, 2, 3], "s": 1}
    override = {"a": {"y": {"q": 5}}, "l": [9], "s": {"now": "dict"}}
    assert merge_configs(base, override) == {"a": {"x": 1, "y": {"p": 1, "q": 5}}, "l": [9], "s": {"now": "dict"}}
    assert base["a"]["y"]["q"] == 2  # inputs untouched


def test_user_config_is_merged_over_default_and_iter_overrides_both_hints(tmp_path):
    cfg = write_yaml(tmp_path / "c.yaml", {"trainer_cfg": {"total_iter": 7, "sampler": {"batch_size": [2, 3]}},
                                           "loss_cfg": {"type": "TripletLoss", "margin": 0.3, "log_prefix": "triplet"}})
    cfgs = load_config(cfg, restore_iteration=40)
    default = read_yaml(CONFIG_DIR / "default.yaml")
    assert cfgs["trainer_cfg"]["total_iter"] == 7
    assert cfgs["trainer_cfg"]["sampler"]["batch_size"] == [2, 3]
    assert cfgs["trainer_cfg"]["sampler"]["sample_type"] == default["trainer_cfg"]["sampler"]["sample_type"]
    assert cfgs["loss_cfg"] == {"type": "TripletLoss", "margin": 0.3, "log_prefix": "triplet"}  # list replaced
    assert cfgs["trainer_cfg"]["restore_hint"] == cfgs["evaluator_cfg"]["restore_hint"] == 40


@pytest.mark.parametrize("user, message", [
    ({"trainer_cfg": {"totl_iter": 5}}, r"unknown key 'totl_iter' in section trainer_cfg; did you mean 'total_iter'"),
    ({"data_cfg": {"dataset_rot": "x"}}, r"unknown key 'dataset_rot' in section data_cfg; did you mean 'dataset_root'"),
    ({"trainer_cfgs": {}}, r"unknown key 'trainer_cfgs' in the top level; did you mean 'trainer_cfg'"),
    ({"engine_cfg": {"sead": 1}}, r"unknown key 'sead' in section engine_cfg; did you mean 'seed'"),
    ({"trainer_cfg": {"sampler": {"frames_num_fix": 3}}},
     r"unknown key 'frames_num_fix' in trainer_cfg.sampler; did you mean 'frames_num_fixed'"),
    ({"evaluator_cfg": {"transform": [{"type": "Compose", "trf_cfg": [{"type": "BaseSilCuttingTransform",
                                                                       "cuting": 2}]}]}},
     r"unknown key 'cuting' in evaluator_cfg.transform\[0\].trf_cfg\[0\]; did you mean 'cutting'"),
    ({"loss_cfg": [{"type": "TripletLoss", "margn": 0.2, "log_prefix": "t"}]},
     r"unknown key 'margn' in loss_cfg\[0\]; did you mean 'margin'"),
    ({"optimizer_cfg": {"solver": "SGD", "momentm": 0.9}}, r"unknown key 'momentm' in optimizer_cfg; did you mean 'momentum'"),
    ({"scheduler_cfg": {"milestone": [1]}}, r"unknown key 'milestone' in scheduler_cfg; did you mean 'milestones'"),
])
def test_misspelt_key_names_key_section_file_and_suggestion(tmp_path, user, message):
    cfg = write_yaml(tmp_path / "bad.yaml", user)
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'bad.yaml'}: {message}"):
        load_config(cfg)


def test_unreadable_configs_are_named(tmp_path):
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("trainer_cfg: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="list.yaml: a config must be a mapping of sections, got list"):
        load_config(tmp_path / "list.yaml")


def test_opengait_only_keys_are_accepted_and_reported(caplog):
    cfg = {"data_cfg": {"remove_no_gallery": False}, "evaluator_cfg": {"rerank": False}}
    with caplog.at_level(logging.INFO, logger="opengait_local3d"):
        cfgs = load_config(cfg)
    assert cfgs["data_cfg"]["remove_no_gallery"] is False
    assert "OpenGait keys without effect in this engine: data_cfg.remove_no_gallery, evaluator_cfg.rerank" in caplog.text


def test_typed_entries_resolve_by_signature_and_tolerate_opengait_keys(caplog):
    # OpenGait's gaitpart.yaml gives Adam a momentum, which OpenGait drops: accepted and ignored with a note
    with caplog.at_level(logging.INFO, logger="opengait_local3d"):
        factory, kwargs = OPTIMIZERS.resolve({"solver": "Adam", "lr": 0.1, "momentum": 0.9}, "optimizer_cfg")
    assert factory.__name__ == "Adam" and kwargs == {"lr": 0.1}
    assert "Adam does not take momentum; ignored" in caplog.text
    with pytest.raises(ConfigError, match=r"optimizer_cfg: unknown key 'nesterov' for optimizer Adam"):
        OPTIMIZERS.resolve({"solver": "Adam", "nesterov": True}, "optimizer_cfg")
    with pytest.raises(ConfigError, match=r"optimizer_cfg.solver: unknown optimizer 'Adamm'; did you mean 'Adam'"):
        OPTIMIZERS.resolve({"solver": "Adamm"}, "optimizer_cfg")
    with pytest.raises(ConfigError, match=r"scheduler_cfg.scheduler: unknown scheduler 'MultiStepLr'; did you mean "
                                          r"'MultiStepLR'"):
        SCHEDULERS.resolve({"scheduler": "MultiStepLr"}, "scheduler_cfg")


@pytest.mark.parametrize("section, value, message", [
    ("trainer_cfg", {"sampler": {"type": "TripletSampla"}},
     r"trainer_cfg.sampler.type: unknown sampler 'TripletSampla'; did you mean 'TripletSampler'"),
    ("trainer_cfg", {"transform": [{"type": "BaseSilCutingTransform"}]},
     r"trainer_cfg.transform\[0\].type: unknown transform 'BaseSilCutingTransform'; did you mean "
     r"'BaseSilCuttingTransform'"),
    ("trainer_cfg", {"transform": [{"type": "Compose", "trf_cfg": [{"type": "RandomErasin"}]}]},
     r"trainer_cfg.transform\[0\]: trf_cfg\[0\].type: unknown transform 'RandomErasin'; did you mean "
     r"'RandomErasing'"),
    ("loss_cfg", [{"type": "TripletLos", "margin": 0.2, "log_prefix": "t"}],
     r"loss_cfg\[0\].type: unknown loss 'TripletLos'; did you mean 'TripletLoss'"),
    ("loss_cfg", {"type": "TripletLoss", "margin": 0.2}, r"loss_cfg: missing 'log_prefix'"),
    ("trainer_cfg", {"sampler": {"sample_type": "fixed_sorted"}},
     r"trainer_cfg.sampler.sample_type: 'fixed_sorted' is not one of"),
    ("trainer_cfg", {"sampler": {"sample_type": "fixed_ordered", "frames_num_fixed": 0}},
     r"trainer_cfg.sampler.frames_num_fixed: expected an integer >= 1, got 0"),
    ("evaluator_cfg", {"eval_func": "evaluate_indoor"},
     r"evaluator_cfg.eval_func: unknown evaluation function 'evaluate_indoor'; did you mean 'evaluate_indoor_dataset'"),
])
def test_unknown_names_fail_before_any_data_is_read(section, value, message):
    cfgs = load_config({section: value, "trainer_cfg": {"with_test": True, **(value if section == "trainer_cfg" else {})}})
    with pytest.raises(ConfigError, match=message):
        check_config(cfgs, training=True)


def test_default_config_passes_every_check():
    """The default config passes both phases' checks, which do check: one misspelt name in it fails."""
    default = load_config({})
    assert check_config(default, training=True) is None and check_config(default, training=False) is None
    for section, key, value in (("optimizer_cfg", "solver", "Adamm"), ("scheduler_cfg", "scheduler", "MultiStep"),
                                ("evaluator_cfg", "eval_func", "evaluate_indoor")):
        broken = load_config({section: {key: value}})
        with pytest.raises(ConfigError, match=rf"{section}.{key}: unknown .* {value!r}"):
            check_config(broken, training=section != "evaluator_cfg")


def test_transform_config_forms():
    assert len(get_transform(None, "t")) == 1
    assert len(get_transform({"type": "BaseSilTransform"}, "t")) == 1  # one dict = one input
    assert len(get_transform([{"type": "BaseSilTransform"}, {"type": "NoOperation"}], "t")) == 2


def test_output_path_and_engine_output_root():
    cfgs = load_config({"model_cfg": {"model": "GaitSet"}, "trainer_cfg": {"save_name": "run1"},
                        "engine_cfg": {"output_root": "/somewhere"}})
    assert output_path(cfgs, training=True) == Path("/somewhere/CASIA-B/GaitSet/run1")
    assert output_path(load_config({}), training=False) == Path("output/CASIA-B/Local3DCNN/tmp")
    with pytest.raises(ConfigError, match="a list of datasets"):
        output_path({**cfgs, "data_cfg": [cfgs["data_cfg"]]}, training=True)


def test_resolve_path_tries_working_directory_then_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_path("configs/default.yaml", "k") == CONFIG_DIR / "default.yaml"
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "default.yaml").write_text("{}")
    assert resolve_path("configs/default.yaml", "k") == Path("configs/default.yaml")
    with pytest.raises(ConfigError, match=r"data_cfg.dataset_partition: nope.json does not exist \(looked for"):
        resolve_path("nope.json", "data_cfg.dataset_partition")


def test_recorded_opengait_keys_cover_its_default_config():
    assert RECORDED_COMMIT == OPENGAIT_COMMIT
    assert {"restore_hint", "save_iter", "sampler", "sync_BN"} <= OPENGAIT_KEYS["trainer_cfg"]
    assert {"frames_num_fixed", "frames_skip_num", "sample_type"} <= OPENGAIT_KEYS["sampler"]
