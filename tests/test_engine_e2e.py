"""End to end through the command line (subprocesses): each model trains and tests on a tiny pkl dataset;
a 2-process torchrun (gloo, CPU) keeps the ranks' parameters identical and gathers the single-process
features."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import tiny_engine_config
from opengait_local3d.engine import distributed
from opengait_local3d.engine.config.loading import load_config
from opengait_local3d.engine.host import NetworkHost

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def cli(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "opengait_local3d.main", *args], cwd=cwd, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("model", ["GaitSet", "GaitPart", "Local3DCNN"])
def test_train_then_test_through_the_cli(model, tiny_casiab, tmp_path):
    cfg = tiny_engine_config(tiny_casiab, model, "output", data_cfg={"num_workers": 1})
    path = tmp_path / f"{model}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    train = cli("--cfgs", str(path), "--phase", "train", "--log_to_file", cwd=tmp_path)
    run_dir = tmp_path / "output" / "CASIA-B" / model / "tiny"  # OpenGait's layout, relative to the cwd
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["tiny-00002.pt", "tiny-00002.pt.sha256",
                                                                        "tiny-00004.pt", "tiny-00004.pt.sha256"]
    assert f"checkpoints: {Path('output/CASIA-B') / model / 'tiny/checkpoints'} (tiny-00002.pt, tiny-00004.pt)" \
        in train.stderr and "last losses (mean of iterations 4-4): triplet_loss" in train.stderr
    assert f"test it: python -m opengait_local3d.main --cfgs {path} --phase test --iter 4" in train.stderr
    assert not (run_dir / ".train.lock").exists()
    log, = (run_dir / "logs").iterdir()
    assert "Iteration 00004" in log.read_text() and "parameters" in log.read_text()
    events = EventAccumulator(str(run_dir / "summary")).Reload()
    assert {"triplet/loss", "learning_rate"} <= set(events.Tags()["scalars"])
    assert "sils" in events.Tags()["images"]
    if model == "Local3DCNN":  # the part pictures are logged at each save
        assert {"part_visuals/block3_boxes", "part_visuals/fusion_weights"} <= set(events.Tags()["images"])
    test = cli("--cfgs", str(path), "--phase", "test", "--iter", "4", cwd=tmp_path)
    assert "Restored parameters from" in test.stderr and "NM (nm-05/nm-06)" in test.stderr
    markdown = (run_dir / "rank1_CASIA-B_euc-tiny-00004.md").read_text()  # named by the checkpoint it tested
    assert f"- checkpoint: {Path('output/CASIA-B') / model / 'tiny/checkpoints/tiny-00004.pt'}\n- iteration: 4\n" \
           f"- config: {path} (merged config sha256 " in markdown


DRIVER = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    from opengait_local3d.engine import distributed, run
    from opengait_local3d.engine.config.loading import load_config
    from opengait_local3d.engine.host import NetworkHost

    cfg_path, out = sys.argv[1], sys.argv[2]
    with distributed.session("cpu") as ctx:
        cfgs = load_config(cfg_path)
        model = NetworkHost(cfgs, True)
        NetworkHost.run_train(model)
        torch.save(model.state_dict(), f"{out}/params-rank{ctx.rank}.pt")
        tester = NetworkHost(load_config(cfg_path, restore_iteration=model.iteration), False)
        features = tester.inference(ctx.rank)
        result = run(cfg_path, "test", iteration=model.iteration)  # the whole test phase, nested
        if ctx.is_main:
            np.save(f"{out}/features.npy", features["embeddings"])
            json.dump(result.metrics, open(f"{out}/metrics.json", "w"))
        else:
            assert features is None and result.metrics == {}
""")


def test_two_process_torchrun_keeps_ranks_identical_and_gathers_in_dataset_order(tiny_casiab, tmp_path):
    cfg = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "out", trainer_cfg={"log_iter": 2})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    (tmp_path / "driver.py").write_text(DRIVER)
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             str(tmp_path / "driver.py"), str(path), str(tmp_path)],
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"params-rank{r}.pt") for r in range(2))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0)
    with distributed.session("cpu"):  # single process, the same checkpoint
        single = NetworkHost(load_config(cfg, restore_iteration=4), False).inference(0)["embeddings"]
    gathered = np.load(tmp_path / "features.npy")
    assert gathered.shape == single.shape == (60, 4, 14)
    np.testing.assert_allclose(gathered, single, rtol=1e-5, atol=1e-6)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"scalar/test_accuracy/NM@R1", "scalar/test_accuracy/BG@R1", "scalar/test_accuracy/CL@R1"} <= set(metrics)
