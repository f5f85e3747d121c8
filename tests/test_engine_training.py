"""Training: the loss aggregator, exact resume, clip-length and test-set checks, a shipped config on a tiny
set (in process). Ctrl-C, SIGTERM and the trainer options: ``test_engine_training_options.py``."""
from __future__ import annotations

import pytest
import torch
import yaml

from conftest import TINY_MODEL_CFGS, tiny_engine_config, write_partition, write_pkl_dataset
from opengait_local3d.engine import CheckpointError, ConfigError, DataError, run
from opengait_local3d.engine.checkpoint import checkpoint_path, load_checkpoint
from opengait_local3d.engine.config.loading import read_yaml
from opengait_local3d.engine.loss_aggregator import LossAggregator
from opengait_local3d.modeling.losses import CrossEntropyLoss, TripletLoss
from opengait_local3d.resources import CONFIG_DIR


def test_loss_aggregator_sums_weighted_losses_and_tensor_terms():
    torch.manual_seed(0)
    embeddings, logits = torch.randn(6, 5, 3), torch.randn(6, 4, 1)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    aggregator = LossAggregator([{"type": "TripletLoss", "margin": 0.2, "log_prefix": "triplet", "loss_term_weight": 0.5},
                                 {"type": "CrossEntropyLoss", "log_prefix": "softmax", "loss_term_weight": 2.0}])
    extra = torch.tensor([0.25, 0.75])
    total, info = aggregator({"triplet": {"embeddings": embeddings, "labels": labels},
                              "softmax": {"logits": logits, "labels": labels}, "reg": extra})
    expected = (0.5 * TripletLoss(0.2)(embeddings, labels)[0].mean()
                + 2.0 * CrossEntropyLoss()(logits, labels)[0].mean() + extra.mean())
    torch.testing.assert_close(total, expected)
    assert {"scalar/triplet/loss", "scalar/triplet/loss_num", "scalar/softmax/loss", "scalar/reg"} <= set(info)
    with pytest.raises(ConfigError, match=r"training_feat\['softmax'\] but no loss has log_prefix 'softmax' "
                                          r"\(configured: triplet\)"):
        LossAggregator({"type": "TripletLoss", "margin": 0.2, "log_prefix": "triplet"})(
            {"softmax": {"logits": logits, "labels": labels}})


def test_a_resumed_run_continues_exactly(tiny_casiab, tmp_path, recorded_losses):
    straight = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "straight")
    assert run(straight, "train").iteration == 4
    uninterrupted = list(recorded_losses)
    recorded_losses.clear()
    split = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "split", trainer_cfg={"total_iter": 2})
    run(split, "train")
    recorded_losses.clear()
    result = run({**split, "trainer_cfg": {**split["trainer_cfg"], "total_iter": 4}}, "train", iteration=2)
    assert result.iteration == 4 and len(uninterrupted) == 4
    assert recorded_losses == uninterrupted[2:]  # bitwise: same batches, frames, flips, optimizer state
    a = load_checkpoint(checkpoint_path(tmp_path / "straight/CASIA-B/GaitSet/tiny", "tiny", 4))
    b = load_checkpoint(checkpoint_path(result.save_path, "tiny", 4))
    assert a["model"].keys() == b["model"].keys() and all(k.startswith("net.") for k in a["model"])
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=0, atol=0)
    assert a["sampler"] == b["sampler"] == {"next_batch": 4, "seed": 0, "world_size": 1}
    assert {"model", "optimizer", "scheduler", "iteration"} <= set(a)


def test_restore_of_a_missing_iteration_lists_the_saved_ones(tiny_casiab, tmp_path):
    cfg = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path, trainer_cfg={"total_iter": 2})
    run(cfg, "train")
    with pytest.raises(CheckpointError, match=r"tiny-00003.pt: checkpoint not found \(saved there: tiny-00002.pt\)"):
        run(cfg, "test", iteration=3)


def test_clip_longer_than_every_sequence_is_an_error_and_short_ones_are_counted(tiny_casiab, tmp_path, capsys):
    too_long = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path, trainer_cfg={
        "sampler": {"batch_size": [2, 2], "frames_num_fixed": 13, "sample_type": "fixed_unordered"}})
    with pytest.raises(ConfigError, match=r"<dict>: trainer_cfg.sampler.frames_num_fixed: clips of 13 frames are "
                                          r"longer than every training sequence \(the longest, .*\.pkl, has 12\)"):
        run(too_long, "train")
    short = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path, trainer_cfg={
        "total_iter": 1, "sampler": {"batch_size": [2, 2], "frames_num_fixed": 12, "sample_type": "fixed_unordered"}})
    run(short, "train")
    assert "of the 4 sequences sampled since the last report were shorter than the clip and were repeated" \
        in capsys.readouterr().err


def test_test_set_lacking_a_probe_condition_fails_before_inference(tmp_path):
    root = write_pkl_dataset(tmp_path / "data", ["001", "002"], types=["nm-01", "nm-02", "nm-05", "bg-01"])
    partition = write_partition(tmp_path / "p.json", ["001"], ["002"])
    cfg = {"data_cfg": {"dataset_root": str(root), "dataset_partition": str(partition), "num_workers": 0},
           "model_cfg": TINY_MODEL_CFGS["GaitSet"], "engine_cfg": {"output_root": str(tmp_path / "out")}}
    with pytest.raises(DataError, match=r"CASIA-B test set has no probe sequences of type cl-01/cl-02"):
        run(cfg, "test")


def test_unknown_model_names_the_config_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model_cfg": {"model": "GaitSets"}}))
    with pytest.raises(ConfigError, match=rf"{path}: model_cfg.model: unknown model 'GaitSets'; did you mean 'GaitSet'"):
        run(path, "train")


def test_silhouettes_the_network_cannot_take_are_a_config_error(tiny_casiab, tmp_path):
    model_cfg = {**TINY_MODEL_CFGS["Local3DCNN"], "bin_num": [16]}  # 16 x 16 frames leave 4-row maps
    cfg = tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path, model_cfg=model_cfg)
    with pytest.raises(ConfigError, match=r"model_cfg: Local3DCNN cannot take the silhouettes the data and "
                                          r"transforms give \(16x16 pixels\): bin_num \[16\]"):
        run(cfg, "train")


def test_gaitgl_with_local_paths_trains_and_tests_from_its_casiab_config(tmp_path):
    """configs/gaitgl_local3d_casiab.yaml as shipped (model, losses, optimizer, transforms), on a tiny pkl set
    (narrow 64x16 frames: the 64 rows its 64 strips need) with clips and iterations shrunk."""
    ids = ("001", "002", "003")
    root = write_pkl_dataset(tmp_path / "data", ids, frames=(3, 3), size=(64, 16))
    partition = write_partition(tmp_path / "partition.json", ids[:2], ids[2:])
    cfg = read_yaml(CONFIG_DIR / "gaitgl_local3d_casiab.yaml")
    cfg["data_cfg"].update(dataset_root=str(root), dataset_partition=str(partition), num_workers=0)
    cfg["trainer_cfg"].update(total_iter=2, save_iter=2, log_iter=1, with_test=False)
    cfg["trainer_cfg"]["sampler"].update(batch_size=[2, 2], frames_num_fixed=3)
    cfg["evaluator_cfg"]["sampler"]["batch_size"] = 10  # sequences of equal length: 2 forwards for the test set
    cfg["engine_cfg"] = {"output_root": str(tmp_path / "output")}
    assert run(cfg, "train").iteration == 2
    checkpoint = load_checkpoint(checkpoint_path(tmp_path / "output/CASIA-B/GaitGLLocal3D/GaitGLLocal3D",
                                                 "GaitGLLocal3D", 2))
    assert any(".localization." in key for key in checkpoint["model"])
    result = run(cfg, "test", iteration=2)
    assert {f"scalar/test_accuracy/{c}@R1" for c in ("NM", "BG", "CL")} <= set(result.metrics)
