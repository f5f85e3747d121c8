"""A training's run folder loses nothing: resume only from the newest checkpoint, --restart moves the old run aside,
one process at a time (stale locks taken over), result tables keep what produced them and earlier tables; the
summary at the end, the resume command on an interrupt, and crashes in the log file."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from conftest import tiny_engine_config
from opengait_local3d.engine import CheckpointError, OutputError, evaluate_indoor_dataset, run
from opengait_local3d.engine.evaluation import Provenance
from opengait_local3d.engine.run_folder import LOCK_NAME, RestoreHint, RunFolder, claim
from test_engine_cli_errors import fingerprint


@pytest.fixture
def trained(tiny_casiab, tmp_path):
    """A finished 4-iteration GaitSet run (checkpoints 2 and 4) and its config."""
    cfg = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "output")
    run(cfg, "train")
    return cfg, tmp_path / "output/CASIA-B/GaitSet/tiny"


def test_resuming_the_newest_continues_and_an_earlier_one_is_refused(trained):
    cfg, run_dir = trained
    before = fingerprint(run_dir / "checkpoints")
    with pytest.raises(OutputError, match=r"holds checkpoints of save_name 'tiny' \(iterations 2, 4\); resuming "
                                          r"iteration 2 would replace those after it"):
        run(cfg, "train", iteration=2)
    weights = str(run_dir / "checkpoints/tiny-00002.pt")
    path_hint = {**cfg, "trainer_cfg": {**cfg["trainer_cfg"], "restore_hint": weights}}
    with pytest.raises(OutputError, match="a new training would replace them"):  # weights of a path count from 0
        run(path_hint, "train")
    assert fingerprint(run_dir / "checkpoints") == before
    longer = {**cfg, "trainer_cfg": {**cfg["trainer_cfg"], "total_iter": 6}}
    assert run(longer, "train", iteration=4).iteration == 6
    after = fingerprint(run_dir / "checkpoints")
    assert {k: v for k, v in after.items() if k in before} == before and "tiny-00006.pt" in after


def test_restart_moves_the_old_run_aside_whole(trained, capsys):
    cfg, run_dir = trained
    before = fingerprint(run_dir)
    with pytest.raises(OutputError, match="--restart starts the training over, but restore_hint / --iter asks to "
                                          "resume iteration 4"):
        run(cfg, "train", iteration=4, restart=True)
    assert fingerprint(run_dir) == before
    run(cfg, "train", restart=True)
    aside, = run_dir.parent.glob("tiny.old-*")
    assert fingerprint(aside) == before  # renamed: the same files, inodes and times
    assert f"[WARNING]: --restart: the previous run's files are now in {aside}" in capsys.readouterr().err
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.pt")) == ["tiny-00002.pt", "tiny-00004.pt"]


def test_testing_with_another_model_cfg_names_the_misfit_and_the_saved_config(trained):
    cfg, run_dir = trained
    other = {**cfg, "model_cfg": {**cfg["model_cfg"], "in_channels": [1, 4, 4, 16],
                                  "SeparateFCs": {**cfg["model_cfg"]["SeparateFCs"], "in_channels": 16}}}
    before = fingerprint(run_dir)
    with pytest.raises(CheckpointError) as raised:
        run(other, "test", iteration=4)
    lines = str(raised.value).splitlines()
    assert lines[0] == f"{run_dir / 'checkpoints/tiny-00004.pt'}: does not fit GaitSet as model_cfg configures it"
    assert lines[1].startswith("  it was saved with model_cfg SeparateFCs: {") and "in_channels: [1, 4, 4, 8] (now " \
        "[1, 4, 4, 16])" in lines[1]
    assert lines[2].startswith("  ") and "tensor(s) of other shapes: net.set_block3" in lines[2]
    assert lines[-1].startswith("  restore_ckpt_strict: false would not help")
    assert fingerprint(run_dir) == before


def lock_of(pid: int) -> dict:
    start = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19]
    return {"pid": pid, "host": socket.gethostname(), "process_start": start, "started": "2024-01-01 00:00:00",
            "command": "python -m opengait_local3d.main --cfgs other.yaml"}


def test_a_live_lock_keeps_a_second_process_out_and_a_stale_one_is_taken_over(tmp_path):
    save_path = tmp_path / "run"
    save_path.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (save_path / LOCK_NAME).write_text(json.dumps(lock_of(other.pid)))
        with pytest.raises(OutputError, match=rf"^{save_path}: another training is writing to this run folder \(pid "
                                              rf"{other.pid} on this host, started 2024-01-01 00:00:00: python -m "
                                              rf"opengait_local3d.main --cfgs other.yaml\)"):
            with claim(RunFolder(save_path, "tiny"), RestoreHint(), 4, restart=False):
                pass
    finally:
        other.kill()
        other.wait()
    with claim(RunFolder(save_path, "tiny"), RestoreHint(), 4, restart=False) as notes:  # its process is gone: stale
        assert json.loads((save_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert notes == [f"{save_path / LOCK_NAME}: took over the lock of a training that is no longer running (pid "
                     f"{other.pid} on {socket.gethostname()}, started 2024-01-01 00:00:00)"]
    assert not (save_path / LOCK_NAME).exists() and list(save_path.iterdir()) == []


def test_two_trainings_at_once_and_the_interrupted_one_says_how_to_resume(tiny_casiab, tmp_path):
    cfg = tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "output",
                             trainer_cfg={"total_iter": 100000, "save_iter": 100000})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    first = subprocess.Popen([sys.executable, "-m", "opengait_local3d.main", "--cfgs", str(path), "--log_to_file"],
                             stderr=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    for line in first.stderr:
        if "Iteration 00002" in line or time.monotonic() > deadline:
            break
    with pytest.raises(OutputError, match=rf"another training is writing to this run folder \(pid {first.pid} on "
                                          r"this host"):
        run(cfg, "train", restart=True)
    os.killpg(first.pid, signal.SIGINT)
    rest = first.stderr.read()
    assert first.wait(timeout=60) == 130, rest
    run_dir = tmp_path / "output/CASIA-B/GaitSet/tiny"
    newest, = (run_dir / "checkpoints").glob("*.pt")
    resume = (f"Interrupted; the newest checkpoint is {newest}. Resume: python -m opengait_local3d.main --cfgs "
              f"{path} --phase train --iter {int(newest.stem.rsplit('-', 1)[1])}")
    assert resume in rest and "Traceback" not in rest
    log, = (run_dir / "logs").iterdir()
    assert resume in log.read_text()
    assert not (run_dir / LOCK_NAME).exists() and not list(run_dir.parent.glob("tiny.old-*"))


def test_a_crash_is_written_to_the_log_file(tiny_casiab, tmp_path, monkeypatch):
    def broken(self, loss_sum):
        raise RuntimeError("a bug in a training step")

    monkeypatch.setattr("opengait_local3d.engine.base_model.BaseModel.train_step", broken)
    with pytest.raises(RuntimeError, match="a bug in a training step"):
        run(tiny_engine_config(tiny_casiab, "GaitSet", tmp_path), "train", log_to_file=True)
    log, = (tmp_path / "CASIA-B/GaitSet/tiny/logs").iterdir()
    text = log.read_text()
    assert "[ERROR]: crashed: a bug in a training step\nTraceback (most recent call last):" in text
    assert text.rstrip().endswith("RuntimeError: a bug in a training step")


CASE = {"embeddings": np.array([[[0.0]], [[1.0]], [[0.1]], [[0.9]]]), "labels": ["1", "2", "1", "2"],
        "types": ["01", "01", "00", "00"], "views": ["000", "090", "090", "000"]}


def test_tables_record_what_produced_them_and_keep_earlier_ones(tmp_path, caplog):
    produced = Provenance("out/checkpoints/tiny-00400.pt", 400, "c.yaml (merged config sha256 0123456789ab)",
                          "2024-05-01 12:00:00")
    evaluate_indoor_dataset(CASE, "OUMVLP", output_dir=tmp_path, produced_by=produced)
    names = ["rank1_OUMVLP_euc-tiny-00400.md", "rank1_OUMVLP_euc-tiny-00400_matrices.csv",
             "rank1_OUMVLP_euc-tiny-00400_summary.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    markdown = (tmp_path / names[0]).read_text()
    assert markdown.startswith("# OUMVLP evaluation, metric euc\n\n- checkpoint: out/checkpoints/tiny-00400.pt\n"
                               "- iteration: 400\n- config: c.yaml (merged config sha256 0123456789ab)\n"
                               "- date: 2024-05-01 12:00:00\n\n")
    rows = (tmp_path / names[2]).read_text().splitlines()
    assert rows[0].endswith(",Mean,checkpoint,iteration,config,date")
    assert rows[1].endswith(",out/checkpoints/tiny-00400.pt,400,c.yaml (merged config sha256 0123456789ab),"
                            "2024-05-01 12:00:00")
    first = fingerprint(tmp_path)
    evaluate_indoor_dataset(CASE, "OUMVLP", output_dir=tmp_path, produced_by=produced)  # the same checkpoint again
    kept = {p.name: p for p in tmp_path.iterdir() if p.name not in names}
    assert len(kept) == 3 and "an earlier evaluation's file; kept as rank1_OUMVLP_euc-tiny-00400." in caplog.text
    for name, (inode, mtime, content) in first.items():
        earlier, = (p for p in kept.values() if p.name.startswith(name.rsplit(".", 1)[0] + ".")
                    and p.suffix == "." + name.rsplit(".", 1)[1])
        assert (earlier.stat().st_ino, earlier.stat().st_mtime_ns, earlier.read_bytes()) == (inode, mtime, content)
