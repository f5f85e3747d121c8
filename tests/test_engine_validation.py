"""The validation pass over the merged config: every failure is one line naming section, key, value and what is
allowed, before any model is built or data read (nothing is written either); the plugin's host checks too."""
from __future__ import annotations

import pytest
import torch

from conftest import TINY_MODEL_CFGS, tiny_engine_config, write_partition
from opengait_local3d.engine import ConfigError, run
from opengait_local3d.engine.config.loading import load_config
from opengait_local3d.config.validation import check_shared_config
from opengait_local3d.engine.config.validation import check_config
from opengait_local3d.utils.registry import checked_arguments
from opengait_local3d.utils.typecheck import Probability, mismatch

TINY_LOCAL3D = TINY_MODEL_CFGS["Local3DCNN"]


@pytest.mark.parametrize("sections, message", [
    ({"trainer_cfg": {"total_iter": "four"}}, r"trainer_cfg.total_iter: expected an integer >= 1, got 'four'$"),
    ({"trainer_cfg": {"save_iter": 0}}, r"trainer_cfg.save_iter: expected an integer >= 1, got 0$"),
    ({"trainer_cfg": {"log_iter": 0}}, r"trainer_cfg.log_iter: expected an integer >= 1, got 0$"),
    ({"trainer_cfg": {"with_test": "yes"}}, r"trainer_cfg.with_test: expected true or false, got 'yes'$"),
    ({"model_cfg": {**TINY_LOCAL3D, "channels": 16}}, r"model_cfg.channels: expected a list of integers, got 16$"),
    ({"model_cfg": {**TINY_LOCAL3D, "class_num": 3}},
     r"model_cfg.class_num: 3, but TRAIN_SET of .*partition.json has 4 ids \(one class each\): class_num must be "
     r">= 4$"),
    ({"evaluator_cfg": {"metric": "cosine"}}, r"evaluator_cfg.metric: expected one of 'euc', 'cos', got 'cosine'$"),
    ({"optimizer_cfg": {"lr": "2e-3"}},
     r"optimizer_cfg.lr: expected a number, got '2e-3' \(a string: YAML 1.1 reads exponent notation without a "
     r"decimal point as text; write 0.002\)$"),
    ({"optimizer_cfg": {"lr": -1.0}}, r"optimizer_cfg: cannot build optimizer Adam: Invalid learning rate: -1.0$"),
    ({"trainer_cfg": {"sampler": {"batch_size": [5, 2]}}},
     r"trainer_cfg.sampler.batch_size: P = 5 ids per batch, but TRAIN_SET of .*partition.json has 4 ids: P must "
     r"be <= 4$"),
    ({"trainer_cfg": {"transform": [{"type": "RandomHorizontalFlip", "prob": 5}]}},
     r"trainer_cfg.transform\[0\].prob: expected a number in \[0, 1\], got 5$"),
    ({"trainer_cfg": {"transform": [{"type": "BaseSilCuttingTransform", "cutting": -2}]}},
     r"trainer_cfg.transform\[0\].cutting: expected an integer >= 0 or null, got -2$"),
    ({"data_cfg": {"test_dataset_name": "CASIA-C"}, "trainer_cfg": {"with_test": True}},
     r"data_cfg.test_dataset_name: no evaluation protocol for dataset 'CASIA-C'; did you mean 'CASIA-B'"),
])
def test_each_bad_value_is_one_line_and_nothing_is_built_or_written(tiny_casiab, tmp_path, monkeypatch, sections,
                                                                     message):
    monkeypatch.setattr("opengait_local3d.engine.launcher.NetworkHost", None)  # building a model would fail
    cfg = tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "out", **sections)
    with pytest.raises(ConfigError, match=rf"^<dict>: {message}"):
        run(cfg, "train")
    assert not (tmp_path / "out").exists()


def test_an_id_in_both_sets_and_several_problems_at_once(tiny_casiab, tmp_path):
    partition = write_partition(tmp_path / "overlap.json", tiny_casiab.train_ids, ("004", "005"))
    cfg = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "out", data_cfg={"dataset_partition": str(partition)},
                             trainer_cfg={"total_iter": 2.5}, evaluator_cfg={"metric": "cosine"})
    with pytest.raises(ConfigError) as raised:
        check_config(load_config(cfg), training=False)
    assert str(raised.value).splitlines() == [
        "3 problems:",
        "  trainer_cfg.total_iter: expected an integer >= 1, got 2.5",
        "  evaluator_cfg.metric: expected one of 'euc', 'cos', got 'cosine'",
        f"  data_cfg.dataset_partition: {partition}: 1 id(s) in both TRAIN_SET and TEST_SET (004); the sets must be "
        "disjoint (a test on training ids overstates accuracy)",
    ]


def test_cutting_as_wide_as_the_frames_fails_when_the_data_opens(tiny_casiab, tmp_path, monkeypatch):
    steps = []
    monkeypatch.setattr("opengait_local3d.engine.base_model.BaseModel.train_step", steps.append)
    cfg = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "out", trainer_cfg={"transform": [
        {"type": "Compose", "trf_cfg": [{"type": "BaseSilCuttingTransform", "cutting": 8}]}]})
    with pytest.raises(ConfigError, match=r"^<dict>: trainer_cfg.transform\[0\]: the data's frames are 16x16: "
                                          r"BaseSilCuttingTransform: cutting 8 columns from each side leaves nothing "
                                          r"of frames 16 pixels wide \(cutting must be below 8\)$"):
        run(cfg, "train")
    assert steps == []


def test_the_default_and_every_tiny_config_pass(tiny_casiab, tmp_path):
    for model in TINY_MODEL_CFGS:
        cfgs = load_config(tiny_engine_config(tiny_casiab, model, tmp_path, trainer_cfg={"with_test": True}))
        check_config(cfgs, training=True)
        check_config(cfgs, training=False)


def test_annotations_give_types_and_ranges_to_registry_entries():
    assert mismatch([0.9, 0.999], tuple[float | torch.Tensor, float | torch.Tensor]) is None
    assert mismatch(1, float) is None and mismatch(True, float) == "expected a number, got True"
    assert mismatch(1.5, Probability) == "expected a number in [0, 1], got 1.5"
    assert mismatch(["head", 2], list[str]) == "expected a list of strings, got ['head', 2]"
    assert mismatch("1e5", int) == ("expected an integer, got '1e5' (a string: YAML 1.1 reads exponent notation "
                                    "without a decimal point as text; write 100000)")  # 100000.0 is no integer
    assert mismatch("0.5", Probability) == "expected a number in [0, 1], got '0.5' (a string: write 0.5 without quotes)"
    assert mismatch("5e0", Probability) == "expected a number in [0, 1], got '5e0'"  # no spelling would fit

    def factory(prob: Probability = 0.5, size: list[int] | None = None) -> None:
        """A config-built factory."""

    assert checked_arguments(factory, {"prob": 1, "size": None}, "t") == {"prob": 1, "size": None}
    with pytest.raises(ValueError, match=r"^t.size: expected a list of integers or null, got 'big'$"):
        checked_arguments(factory, {"size": "big"}, "t")


def test_the_plugins_host_checks_before_opengait_builds_anything(tiny_casiab, tmp_path):
    cfgs = load_config(tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path,
                                          model_cfg={**TINY_LOCAL3D, "channels": 16},
                                          loss_cfg={"type": "OpenGaitsOwnLoss", "log_prefix": "x"}))
    with pytest.raises(ConfigError, match=r"^model_cfg.channels: expected a list of integers, got 16$"):
        check_shared_config(cfgs, training=True)  # OpenGait's own loss names are OpenGait's business
    check_shared_config({"model_cfg": TINY_LOCAL3D}, training=False)  # a partial config: what is there
