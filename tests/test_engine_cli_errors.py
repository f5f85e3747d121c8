"""Through the command line (subprocesses): bad configs and data exit non-zero with one message and no traceback,
before anything is built or written; a second training never touches the first run's checkpoints."""
from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import TINY_MODEL_CFGS, tiny_engine_config
from opengait_local3d.engine import run

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opengait_local3d.main", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=300)


def refused_training(cfg: dict, path) -> str:
    """Write ``cfg`` to ``path``, train it through the command line, and return the one-message refusal
    (exit status 2, no traceback) it must end in."""
    path.write_text(yaml.safe_dump(cfg))
    result = cli("--cfgs", str(path), cwd=path.parent)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    return result.stderr


def fingerprint(folder) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``folder``: inode, modification time (ns) and bytes."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("sections, message", [
    ({"trainer_cfg": {"total_iter": "four"}}, "trainer_cfg.total_iter: expected an integer >= 1, got 'four'"),
    ({"trainer_cfg": {"save_iter": 0}}, "trainer_cfg.save_iter: expected an integer >= 1, got 0"),
    ({"model_cfg": {**TINY_MODEL_CFGS["Local3DCNN"], "class_num": 3}},
     "model_cfg.class_num: 3, but TRAIN_SET of"),
    ({"evaluator_cfg": {"metric": "cosine"}}, "evaluator_cfg.metric: expected one of 'euc', 'cos', got 'cosine'"),
    ({"model_cfg": {**TINY_MODEL_CFGS["Local3DCNN"], "channels": 16}},
     "model_cfg.channels: expected a list of integers, got 16"),
])
def test_a_bad_config_exits_non_zero_with_its_message_and_no_traceback(tiny_casiab, tmp_path, sections, message):
    path = tmp_path / "bad.yaml"
    stderr = refused_training(tiny_engine_config(tiny_casiab, "Local3DCNN", "output", **sections), path)
    assert stderr.startswith(f"error: {path}: {message}")
    assert not (tmp_path / "output").exists()


def test_one_pkl_of_another_frame_size_fails_training_naming_it(tiny_casiab, tmp_path):
    root = shutil.copytree(tiny_casiab.root, tmp_path / "data")
    with open(root / "003" / "cl-02" / "090" / "090.pkl", "wb") as handle:
        pickle.dump(np.zeros((10, 20, 20), np.uint8), handle)
    cfg = tiny_engine_config(tiny_casiab, "GaitSet", "output", data_cfg={"dataset_root": str(root)})
    stderr = refused_training(cfg, tmp_path / "c.yaml")
    assert (f"error: {root}: 1 pkl file(s) of the 80 TRAIN_SET sequences cannot be used (expected uint8 "
            f"[T, 16, 16], as the others); fix or remove them:\n  003/cl-02/090/090.pkl: frames of 20x20\n"
            in stderr)
    assert not (tmp_path / "output/CASIA-B/GaitSet/tiny").exists()


def test_a_second_training_with_the_same_save_name_leaves_the_first_untouched(tiny_casiab, tmp_path):
    cfg = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "output")
    run(cfg, "train")
    run_dir = tmp_path / "output/CASIA-B/GaitSet/tiny"
    before = fingerprint(run_dir)
    assert {"checkpoints/tiny-00002.pt", "checkpoints/tiny-00004.pt"} <= set(before)
    stderr = refused_training(cfg, tmp_path / "again.yaml")
    assert (f"error: {run_dir}: holds checkpoints of save_name 'tiny' (iterations 2, 4); a new training would "
            f"replace them. Resume the newest with --iter 4 (trainer_cfg.restore_hint: 4), start over with --restart "
            f"(moves them to tiny.old-") in stderr
    assert fingerprint(run_dir) == before
