"""Training behaviours beyond the plain loop: resume of Local3DCNN, stopping on SIGINT / SIGTERM and resuming,
the learning-rate schedule actually applied, ``with_test``, ``fix_BN``, ``restore_ckpt_strict: false``,
``optimizer_reset`` and ``scheduler_reset``. Expectations are written from the options' definitions (OpenGait's
semantics), not read back from the engine.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.optim.optimizer import register_optimizer_step_pre_hook

from conftest import TINY_MODEL_CFGS, tiny_engine_config
from opengait_local3d.engine import CheckpointError, NetworkHost, distributed, load_config, run
from opengait_local3d.engine.checkpoint import checkpoint_path, load_checkpoint

RUN = ("CASIA-B", "tiny")  # dataset and save_name of tiny_engine_config
#: the tiny Local3DCNN without 3D local paths (4x faster; its dropout, BatchNorms and classifier are what these
#: tests are about; test_engine_ddp.py trains one with a local block and fix_BN)
LOCAL3DCNN = {**TINY_MODEL_CFGS["Local3DCNN"], "local_blocks": []}


def local3dcnn_config(dataset, output_root, **trainer_cfg) -> dict:
    return tiny_engine_config(dataset, "Local3DCNN", output_root, model_cfg=LOCAL3DCNN, trainer_cfg=trainer_cfg)


def saved(output_root, model: str, iteration: int) -> dict:
    return load_checkpoint(checkpoint_path(output_root / RUN[0] / model / RUN[1], RUN[1], iteration))


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


# ---- resume --------------------------------------------------------------------------------------------

def test_a_resumed_local3dcnn_run_continues_exactly(tiny_casiab, tmp_path, recorded_losses):
    """Local3DCNN (dropout 0.5, the compact block's BatchNorms, the classifier and cross entropy) stopped at
    iteration 2 and resumed takes the uninterrupted run's steps 3-4 bitwise: same losses, same parameters,
    BatchNorm running statistics and optimizer state at iteration 4."""
    straight = local3dcnn_config(tiny_casiab, tmp_path / "straight")
    assert straight["model_cfg"]["dropout"] == 0.5 and "loss_cfg" not in straight  # default: triplet + softmax
    run(straight, "train")
    uninterrupted = list(recorded_losses)
    split = local3dcnn_config(tiny_casiab, tmp_path / "split", total_iter=2)
    run(split, "train")
    recorded_losses.clear()
    run({**split, "trainer_cfg": {**split["trainer_cfg"], "total_iter": 4}}, "train", iteration=2)
    assert len(uninterrupted) == 4 and recorded_losses == uninterrupted[2:]
    a, b = saved(tmp_path / "straight", "Local3DCNN", 4), saved(tmp_path / "split", "Local3DCNN", 4)
    assert any("running_mean" in key for key in a["model"]) and any("classifier" in key for key in a["model"])
    assert_same_state(a["model"], b["model"])
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for index, state in a["optimizer"]["state"].items():
        assert_same_state(state, b["optimizer"]["state"][index])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_saves_a_checkpoint_that_resumes_exactly(tiny_casiab, tmp_path, recorded_losses, signum):
    """SIGINT (Ctrl-C: the terminal signals the whole process group, loader workers included) or SIGTERM (what
    torchrun and job schedulers send to the training process) during training: the step in progress finishes,
    a checkpoint of the iteration reached is saved, the process exits with 130 and no traceback. That
    checkpoint equals the uninterrupted run's state at that iteration, and resuming from it continues as the
    uninterrupted run does."""
    cfg = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "out", data_cfg={"num_workers": 1},
                             trainer_cfg={"total_iter": 100000, "save_iter": 100000})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    process = subprocess.Popen([sys.executable, "-m", "opengait_local3d.main", "--cfgs", str(path)],
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 120
    for line in process.stderr:
        if "Iteration 00002" in line or time.monotonic() > deadline:
            break
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)
    else:
        os.kill(process.pid, signum)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 130, rest
    assert "Interrupted at iteration" in rest and "interrupted" in rest and "Traceback" not in rest
    checkpoints = sorted((tmp_path / "out" / RUN[0] / "GaitSet" / RUN[1] / "checkpoints").glob("tiny-*.pt"))
    assert len(checkpoints) == 1
    stopped = load_checkpoint(checkpoints[0])
    k = stopped["iteration"]
    assert k >= 2 and checkpoints[0].name == f"tiny-{k:05d}.pt"

    run({**cfg, "trainer_cfg": {**cfg["trainer_cfg"], "total_iter": k + 2}}, "train", iteration=k)
    resumed = list(recorded_losses)
    recorded_losses.clear()
    straight = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "straight", data_cfg={"num_workers": 1},
                                  trainer_cfg={"total_iter": k + 2, "save_iter": 1})
    run(straight, "train")
    assert_same_state(stopped["model"], saved(tmp_path / "straight", "GaitSet", k)["model"])
    assert resumed == recorded_losses[k:]


# ---- the learning rate ---------------------------------------------------------------------------------

@pytest.fixture
def applied_lr():
    """The learning rate of every optimizer step taken in this process (read from the optimizer as it steps)."""
    rates: list[float] = []
    handle = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: rates.append(optimizer.param_groups[0]["lr"]))
    yield rates
    handle.remove()


def lr_config(dataset, output_root, **trainer_cfg) -> dict:
    """GaitSet, SGD at lr 0.1, MultiStepLR: x0.1 at iterations 2 and 4."""
    return tiny_engine_config(dataset, "GaitSet", output_root,
                              optimizer_cfg={"solver": "SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0},
                              scheduler_cfg={"scheduler": "MultiStepLR", "milestones": [2, 4], "gamma": 0.1},
                              trainer_cfg={"total_iter": 6, "save_iter": 3, **trainer_cfg})


def test_the_learning_rate_follows_the_milestones_across_a_resume(tiny_casiab, tmp_path, applied_lr):
    """MultiStepLR steps once per optimizer step, so step s (1-based) runs at 0.1 x 0.1^(milestones <= s - 1):
    steps 1-2 at 0.1, 3-4 at 0.01, 5-6 at 0.001; a run resumed at iteration 3 applies the same rates."""
    expected = [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    run(lr_config(tiny_casiab, tmp_path / "straight"), "train")
    assert applied_lr == pytest.approx(expected)
    applied_lr.clear()
    run(lr_config(tiny_casiab, tmp_path / "split", total_iter=3), "train")
    run(lr_config(tiny_casiab, tmp_path / "split"), "train", iteration=3)
    assert applied_lr == pytest.approx(expected)


@pytest.mark.parametrize("resets, expected", [
    ({}, [0.01, 0.001, 0.001]),  # the uninterrupted run's steps 4-6
    # the restored rate (0.01) and a fresh scheduler, whose milestones 2 and 4 count from the resume
    ({"scheduler_reset": True}, [0.01, 0.01, 0.001]),
    # a fresh optimizer (the configured 0.1) and a fresh scheduler
    ({"scheduler_reset": True, "optimizer_reset": True}, [0.1, 0.1, 0.01]),
])
def test_resets_restart_the_scheduler_and_the_optimizer(tiny_casiab, tmp_path, applied_lr, resets, expected):
    """Resuming at iteration 3 of the milestone schedule above: ``scheduler_reset`` does not restore the
    scheduler's state, ``optimizer_reset`` not the optimizer's (OpenGait's options: the state is simply not
    loaded); the rates of steps 4-6 follow from that."""
    run(lr_config(tiny_casiab, tmp_path, total_iter=3), "train")
    applied_lr.clear()
    run(lr_config(tiny_casiab, tmp_path, **resets), "train", iteration=3)
    assert applied_lr == pytest.approx(expected)


def test_optimizer_reset_drops_the_optimizer_state_and_keeps_the_rest(tiny_casiab, tmp_path):
    """``optimizer_reset``: a resumed model's optimizer has no momentum buffers and the configured rate, while its
    parameters and iteration are the checkpoint's; without it the optimizer state is the checkpoint's."""
    run(lr_config(tiny_casiab, tmp_path, total_iter=3), "train")
    checkpoint = saved(tmp_path, "GaitSet", 3)
    with distributed.session("cpu"):
        kept = NetworkHost(load_config(lr_config(tiny_casiab, tmp_path), restore_iteration=3), True)
        reset = NetworkHost(load_config(lr_config(tiny_casiab, tmp_path, optimizer_reset=True), restore_iteration=3), True)
    saved_state = checkpoint["optimizer"]["state"]
    assert saved_state and all("momentum_buffer" in state for state in saved_state.values())
    for index, state in saved_state.items():
        assert_same_state(kept.optimizer.state_dict()["state"][index], state)
    assert kept.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    assert reset.optimizer.state_dict()["state"] == {} and reset.optimizer.param_groups[0]["lr"] == 0.1
    assert reset.iteration == kept.iteration == 3
    assert_same_state(reset.state_dict(), checkpoint["model"])


# ---- with_test and fix_BN --------------------------------------------------------------------------------

def test_with_test_tests_at_every_save_without_changing_the_training(tiny_casiab, tmp_path, recorded_losses):
    """``with_test``: at iterations 2 and 4 the test phase runs and its rank-1 figures go to tensorboard, those of
    iteration 2 equal to a separate test phase of that checkpoint; the training (Local3DCNN: dropout, BatchNorm) takes exactly
    the steps of a run without it."""
    run(local3dcnn_config(tiny_casiab, tmp_path / "plain"), "train")
    plain = list(recorded_losses)
    recorded_losses.clear()
    cfg = local3dcnn_config(tiny_casiab, tmp_path / "tested", with_test=True)
    run(cfg, "train")
    assert recorded_losses == plain
    assert_same_state(saved(tmp_path / "plain", "Local3DCNN", 4)["model"],
                      saved(tmp_path / "tested", "Local3DCNN", 4)["model"])
    events = EventAccumulator(str(tmp_path / "tested" / RUN[0] / "Local3DCNN" / RUN[1] / "summary")).Reload()
    logged = {condition: {e.step: e.value for e in events.Scalars(f"test_accuracy/{condition}@R1")}
              for condition in ("NM", "BG", "CL")}
    metrics = run(cfg, "test", iteration=2).metrics  # the test phase in the middle of the training
    for condition, values in logged.items():
        assert sorted(values) == [2, 4]
        assert values[2] == pytest.approx(metrics[f"scalar/test_accuracy/{condition}@R1"], abs=1e-4)


def test_fix_bn_freezes_the_statistics_through_training_and_its_test_phases(tiny_casiab, tmp_path):
    """``fix_BN``: every BatchNorm normalises with its running statistics, which stay at their initial values
    (mean 0, variance 1, no batch counted) through training and the test phase of ``with_test`` at iteration
    2 (after which training goes on with BatchNorm still frozen), while its affine weights are trained;
    without it, the statistics move."""
    run(local3dcnn_config(tiny_casiab, tmp_path / "fixed", fix_BN=True, with_test=True), "train")
    run(local3dcnn_config(tiny_casiab, tmp_path / "free"), "train")
    frozen, moving = saved(tmp_path / "fixed", "Local3DCNN", 4)["model"], saved(tmp_path / "free", "Local3DCNN", 4)["model"]
    with torch.random.fork_rng(), distributed.session("cpu"):  # the untrained network, for contrast
        initial = NetworkHost(load_config(local3dcnn_config(tiny_casiab, tmp_path)), False).state_dict()
    norms = [key[:-len("running_mean")] for key in frozen if key.endswith("running_mean")]
    assert len(norms) >= 2  # at least the compact block's two
    for bn in norms:
        assert torch.equal(frozen[bn + "running_mean"], torch.zeros_like(frozen[bn + "running_mean"])), bn
        assert torch.equal(frozen[bn + "running_var"], torch.ones_like(frozen[bn + "running_var"])), bn
        assert frozen[bn + "num_batches_tracked"] == 0 and moving[bn + "num_batches_tracked"] == 4, bn
        assert not torch.equal(frozen[bn + "weight"], initial[bn + "weight"]), bn  # trained all the same
        assert moving[bn + "running_mean"].abs().max() > 1e-3, bn


# ---- restore_ckpt_strict -----------------------------------------------------------------------------------

def test_restore_ckpt_strict_false_loads_what_fits_and_never_skips_a_checkpoint_tensor(tiny_casiab, tmp_path, caplog):
    """A checkpoint lacking one of the network's tensors: with ``restore_ckpt_strict: true`` (the default) loading
    fails naming it; with ``false`` every tensor of the checkpoint is loaded, the missing one keeps its initial value
    and is named as new in the log. A checkpoint holding a tensor the network has no place for is refused either way
    (a non-strict restore never skips one silently: a warm start must not lose weights)."""
    cfg = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path, trainer_cfg={"total_iter": 2})
    run(cfg, "train")
    state = saved(tmp_path, "GaitSet", 2)
    del state["model"]["net.head.fc_bin"]
    lacking = tmp_path / "lacking.pt"
    torch.save(state, lacking)
    state["model"]["net.extra.weight"] = torch.ones(3)
    foreign = tmp_path / "foreign.pt"
    torch.save(state, foreign)

    def host(path, strict):
        return NetworkHost(load_config({**cfg, "evaluator_cfg": {**cfg["evaluator_cfg"], "restore_hint": str(path),
                                                                  "restore_ckpt_strict": strict}}), False)

    with distributed.session("cpu"):
        with pytest.raises(CheckpointError, match=r"(?s)lacking.pt: does not fit GaitSet .*missing from the "
                                                  r"checkpoint: net.head.fc_bin\n.*restore_ckpt_strict: false loads"):
            host(lacking, True)
        for strict in (True, False):
            with pytest.raises(CheckpointError, match=r"(?s)foreign.pt: .*not in the model: net.extra.weight\n"):
                host(foreign, strict)
        loaded = host(lacking, False).state_dict()
        initial = NetworkHost(load_config(cfg), False).state_dict()
    for key, value in state["model"].items():
        if key != "net.extra.weight":
            assert torch.equal(loaded[key], value), key
    assert torch.equal(loaded["net.head.fc_bin"], initial["net.head.fc_bin"])
    assert f"from {lacking}: loaded {len(loaded) - 1} tensor(s); new, not in the checkpoint: net.head (1)" in caplog.text
