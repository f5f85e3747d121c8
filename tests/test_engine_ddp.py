"""DDP semantics: two gloo processes compute what one process computes on the whole batch.

OpenGait's rule, which the engine's loss aggregator follows: each loss sees the embeddings and logits of all
ranks (all-gathered; only this rank's slice carries gradient) and is multiplied by the world size, so that
DDP's averaging of the ranks' gradients gives the gradient of the loss over the whole batch. The expectation
here is independent of that machinery: the same engine step in a single process (no process group, nothing
gathered, nothing scaled) on the whole P x K batch.

Why the equality can be exact in meaning: per-rank BatchNorm statistics would differ from whole-batch ones
(the engine has no CPU SyncBN), so the model trains with ``fix_BN`` (every BatchNorm in eval mode, as the
option promises: running statistics frozen, affine parameters still trained); dropout draws its mask per
(batch, rank), so it is 0 here. What remains (the global and local paths, MCM, the part FCs, the compact
block's BatchNorms in eval mode and its FC, the classifier) is a function of each sequence alone.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

from conftest import CASIA_B_TYPES, TINY_MODEL_CFGS, make_silhouettes, tiny_engine_config
from opengait_local3d.engine import NetworkHost, distributed, load_config
from opengait_local3d.engine.data import Batch
from opengait_local3d.engine.watch import TrainingWatch

P, K, FRAMES, SIZE = 2, 4, 6, 16
WORLD_SIZE = 2
#: float32 summation order differs (the whole batch vs two halves, DDP's all-reduce); measured in the test's docstring
TOLERANCE = {"rtol": 1e-5, "atol": 2e-7}
LOSS_CFG = [{"type": "TripletLoss", "margin": 0.2, "log_prefix": "triplet", "loss_term_weight": 1.0},
            {"type": "CrossEntropyLoss", "scale": 16, "label_smooth": True, "eps": 0.1, "log_prefix": "softmax",
             "loss_term_weight": 0.5, "log_accuracy": True}]


def ddp_config(dataset, output_root: Path) -> dict:
    """Tiny Local3DCNN with one 3D local block, triplet on the part features + cross entropy, plain SGD (its
    update is lr x gradient, so the parameters after the step see a wrongly scaled gradient; Adam's first step
    would hide it), BatchNorms frozen, no dropout, no random transforms."""
    model_cfg = {**TINY_MODEL_CFGS["Local3DCNN"], "local_blocks": [3], "dropout": 0.0, "embedding": "parts",
                 # torch's fusion init, so that the local paths get gradients at the first step (the identity
                 # init starts the block as its global path: the local paths' fusion weights are zero)
                 "local3d": {"fusion_init": "default"}}
    return tiny_engine_config(
        dataset, "Local3DCNN", output_root, model_cfg=model_cfg, loss_cfg=LOSS_CFG,
        optimizer_cfg={"solver": "SGD", "lr": 0.5, "momentum": 0.0, "weight_decay": 0.0},
        trainer_cfg={"fix_BN": True, "transform": [{"type": "BaseSilCuttingTransform"}]},
        evaluator_cfg={"sampler": {"batch_size": 7, "sample_type": "all_ordered", "type": "InferenceSampler"}})


def whole_batch() -> Batch:
    """P ids x K sequences of FRAMES frames, ids grouped as the TripletSampler yields them."""
    rng = np.random.default_rng(7)
    subjects = np.repeat(np.arange(P), K)
    sils = np.stack([make_silhouettes(rng, FRAMES, SIZE, SIZE, 2 * int(s)) for s in subjects])
    return Batch(seqs=[torch.from_numpy(sils)], labels=subjects.astype(np.int64), types=["nm-01"] * (P * K),
                 views=["000"] * (P * K), seqL=None, indices=np.arange(P * K), batch_index=0, seed=11, short_count=0)


def rank_share(batch: Batch, rank: int, world_size: int) -> Batch:
    """This rank's sequences of the batch, sliced as the TripletSampler slices them (``[rank::world_size]``)."""
    take = slice(rank, None, world_size)
    return batch._replace(seqs=[s[take] for s in batch.seqs], labels=batch.labels[take], types=batch.types[take],
                          views=batch.views[take], indices=batch.indices[take])


def one_step(cfg: dict, batch: Batch) -> dict:
    """Build the training model, take one engine training step on ``batch``; return the loss aggregator's
    outputs, the gradients the optimizer used and the parameters after the step, and the test features."""
    model = NetworkHost(load_config(cfg), True)
    recorded = {}
    aggregate = model.loss_aggregator.forward

    def recording(training_feat):
        total, info = aggregate(training_feat)
        recorded.update(total=total.detach().clone(), info={k: v.detach().clone() for k, v in info.items()})
        return total, info

    model.loss_aggregator.forward = recording
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    # what run_train sets up before its steps (the watch only warns; it changes no number)
    model.watch = TrainingWatch(model.net, model.loss_aggregator.losses, model.msg_mgr.log_warning)
    assert model._train_on(batch, model._training_forward())
    return {**recorded, "iteration": model.iteration, "before": before,
            "trainable": {name for name, p in model.named_parameters() if p.requires_grad},
            "grads": {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None},
            "params": {name: p.detach().clone() for name, p in model.named_parameters()},
            "buffers": {name: b.clone() for name, b in model.named_buffers()},
            "features": NetworkHost(load_config(cfg), False).inference(distributed.get_context().rank)}


def ddp_worker(rank: int, port: int, cfg: dict, out: str) -> None:
    """One of the two ranks: join the gloo group as torchrun would have it join, take the step on its share."""
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    with distributed.session("cpu") as context:
        assert context.world_size == WORLD_SIZE and context.rank == rank
        result = one_step(cfg, rank_share(whole_batch(), rank, WORLD_SIZE))
    torch.save(result, Path(out) / f"rank{rank}.pt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_take_the_single_process_step_on_the_whole_batch_and_gather_its_features(tiny_casiab, tmp_path):
    """One optimizer step of 2 gloo ranks, each on half of a P x K batch, equals the step of one process on the
    whole batch: every logged loss value (triplet per part, its count of active triplets, cross entropy,
    accuracy), every gradient, every parameter and buffer after the step; and each rank holds the same values.
    The test phase of the 2 ranks (uneven shares: 60 sequences in chunks of 4) gathers exactly the features one
    process computes, in dataset order.

    Removing the loss aggregator's ``* world_size`` halves every gradient; removing its all-gather changes the
    triplet loss and doubles the cross-entropy gradient; dropping the gather's reordering by dataset index
    scrambles the features: each fails here (checked by hand, each on its own assertion too).
    Tolerance (rtol 1e-5, atol 2e-7): float32 summation order differs (the whole batch vs two halves, DDP's
    all-reduce). Measured: gradients up to 2.4e-6 apart (1.8e-6 of their tensor's largest value; at most 43% of
    the tolerance of any element, on a gradient of 1.6e-3), parameters 1.2e-6, losses 1.5e-8, features 3e-8.
    """
    cfg = ddp_config(tiny_casiab, tmp_path / "out")
    mp.spawn(ddp_worker, args=(free_port(), cfg, str(tmp_path)), nprocs=WORLD_SIZE, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(WORLD_SIZE)]
    with distributed.session("cpu"):
        single = one_step(cfg, whole_batch())

    info = single["info"]
    assert {"scalar/triplet/loss", "scalar/triplet/loss_num", "scalar/softmax/loss", "scalar/softmax/accuracy"} <= set(info)
    assert info["scalar/triplet/loss"].shape == (4,) and (info["scalar/triplet/loss_num"] > 0).all()
    assert single["grads"].keys() == single["trainable"]  # every trainable parameter got a gradient
    lr = cfg["optimizer_cfg"]["lr"]
    for name, grad in single["grads"].items():  # the step is plain SGD: p <- p - lr * grad
        torch.testing.assert_close(single["params"][name], single["before"][name] - lr * grad, msg=name)
    # every gradient is far from 0, so equal gradients are a real check, except at initialisation those of the
    # localization's layers before the zero-scale BatchNorm1d that ends each of its heads (exactly 0)
    before_heads = [name for name in single["grads"] if ".localization." in name and "_head.1." not in name]
    assert len(before_heads) == 12  # BN2d, conv, BN2d, conv, BN2d (weights and biases), the two heads' Linears
    for name, grad in single["grads"].items():
        assert (grad.abs().max() == 0) if name in before_heads else (grad.abs().max() > 1e-6), name
    for rank in ranks:
        assert rank["iteration"] == single["iteration"] == 1
        assert rank["info"].keys() == info.keys()
        for key in info:
            torch.testing.assert_close(rank["info"][key], info[key], **TOLERANCE, msg=key)
        # each rank back-propagates world_size x the whole batch's loss, through its own slice only; DDP's
        # averaging of the ranks' gradients then gives the whole batch's gradient
        torch.testing.assert_close(rank["total"] / WORLD_SIZE, single["total"], **TOLERANCE)
        for what in ("grads", "params", "buffers"):
            assert rank[what].keys() == single[what].keys(), what
            for name in single[what]:
                torch.testing.assert_close(rank[what][name], single[what][name], **TOLERANCE,
                                           msg=f"{what} {name}")
    for what in ("grads", "params"):  # DDP keeps the ranks identical
        for name in single[what]:
            assert torch.equal(ranks[0][what][name], ranks[1][what][name]), name

    assert ranks[1]["features"] is None
    gathered, expected = ranks[0]["features"]["embeddings"], single["features"]["embeddings"]
    assert gathered.shape == expected.shape == (60, 4, 4)
    np.testing.assert_allclose(gathered, expected, **TOLERANCE)
    assert len({row.tobytes() for row in expected}) == 60  # distinct rows: a misordered gather cannot pass
