"""Faults of a long run: a non-finite loss stops (or skips) before the weights change, damaged checkpoints are found
and named with the good one before them, a full disk leaves the earlier checkpoints intact, ``keep_last`` bounds the
checkpoints kept, and a test phase writes its result files all or none."""
from __future__ import annotations

import errno
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from conftest import tiny_engine_config
from opengait_local3d.engine import CheckpointError, FaultError, OutputError, run
from opengait_local3d.engine import checkpoint as ckpt
from opengait_local3d.engine.host import NetworkHost
from opengait_local3d.utils.atomic import atomic_write_texts
from test_engine_cli_errors import fingerprint

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
LOSSES = [{"type": "TripletLoss", "margin": 0.2, "log_prefix": "triplet", "loss_term_weight": 1.0},
          {"type": "CrossEntropyLoss", "scale": 1, "log_prefix": "softmax", "loss_term_weight": 1.0}]


def cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opengait_local3d.main", *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=300)


def with_weight(cfg: dict, prefix: str, weight: float) -> dict:
    """``cfg`` with the ``loss_term_weight`` of the loss ``prefix`` replaced."""
    losses = [{**loss, "loss_term_weight": weight} if loss["log_prefix"] == prefix else loss
              for loss in cfg["loss_cfg"]]
    return {**cfg, "loss_cfg": losses}


def trainer(cfg: dict, **keys) -> dict:
    return {**cfg, "trainer_cfg": {**cfg["trainer_cfg"], **keys}}


@pytest.fixture
def finished(tiny_casiab, tmp_path):
    """A finished 4-iteration Local3DCNN run (checkpoints 2 and 4, triplet + softmax), its config and folder."""
    cfg = tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "output", loss_cfg=LOSSES)
    run(cfg, "train")
    return cfg, tmp_path / "output/CASIA-B/Local3DCNN/tiny"


def test_a_nan_loss_term_stops_at_its_iteration_naming_it_and_saves_nothing(finished, tmp_path):
    """The issue's bar (1), through the command line: resumed to 8 iterations with softmax's weight NaN, the run
    stops at iteration 5 with one message (no traceback) naming the iteration, the term and checkpoint 4."""
    cfg, run_dir = finished
    before = fingerprint(run_dir / "checkpoints")
    path = tmp_path / "nan.yaml"
    path.write_text(yaml.safe_dump(trainer(with_weight(cfg, "softmax", math.nan), total_iter=8)))
    assert ".nan" in path.read_text()
    result = cli("--cfgs", str(path), "--iter", "4", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    newest = run_dir / "checkpoints/tiny-00004.pt"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: iteration 5: the loss is not finite (term softmax); the weights were not updated and "
                      f"nothing was saved (trainer_cfg.nonfinite: stop). The newest good checkpoint is {newest}: "
                      f"resume it with --iter 4 (trainer_cfg.restore_hint: 4) once the cause is removed (a "
                      f"loss_term_weight, the learning rate, the data), or set trainer_cfg.nonfinite: skip to skip "
                      f"such batches"]
    assert "Iteration 00005" not in result.stderr
    assert fingerprint(run_dir / "checkpoints") == before  # byte-identical, nothing new


def test_skipping_counts_the_skipped_batches_and_stops_past_the_limit(tiny_casiab, tmp_path, monkeypatch, capsys):
    """With ``nonfinite: skip``, a batch whose loss is NaN (the second one drawn) is skipped: the run still takes 4
    steps (on 5 batches), says so per skip and at the end; NaN in every batch stops after the limit."""
    from opengait_local3d.engine.loss_aggregator import LossAggregator

    original, calls = LossAggregator.forward, []

    def nan_on_second_call(self, training_feat):
        total, info = original(self, training_feat)
        calls.append(len(calls))
        if len(calls) == 2:
            self.terms["triplet"] = self.terms["triplet"] * math.nan
            total = total * math.nan
        return total, info

    monkeypatch.setattr(LossAggregator, "forward", nan_on_second_call)
    cfg = trainer(tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "a"), nonfinite="skip", nonfinite_skip_limit=1)
    result = run(cfg, "train")
    assert result.iteration == 4 and len(calls) == 5
    text = capsys.readouterr().err
    assert "iteration 2: the loss is not finite (term triplet); the weights were not updated: batch 1 skipped (1 in " \
           "a row, 1 in all)" in text
    assert "batches skipped for a non-finite loss (trainer_cfg.nonfinite: skip): 1" in text
    state = ckpt.load_checkpoint(result.save_path / "checkpoints/tiny-00004.pt")
    assert all(torch.isfinite(value).all() for value in state["model"].values())

    monkeypatch.setattr(LossAggregator, "forward", original)
    always = trainer(with_weight(tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "b", loss_cfg=LOSSES),
                                 "triplet", math.inf), nonfinite="skip", nonfinite_skip_limit=2)
    with pytest.raises(FaultError, match=r"^iteration 1: the loss is not finite \(term triplet\); the weights were not "
                                         r"updated, 3 batches in a row \(trainer_cfg.nonfinite_skip_limit: 2\); "
                                         r"nothing was saved. There is no good checkpoint to resume: start over once "
                                         r"the cause is removed"):
        run(always, "train")
    assert not (tmp_path / "b/CASIA-B/Local3DCNN/tiny/checkpoints").exists()


def test_a_truncated_newest_checkpoint_names_the_good_one_before_it_which_then_resumes(finished):
    """The issue's bar (2): the newest checkpoint cut to half its size; resuming it says so in one message (a
    CheckpointError, which the command line prints without a traceback) naming checkpoint 2; resuming 2 renames the
    damaged one aside and trains on."""
    cfg, run_dir = finished
    newest, good = run_dir / "checkpoints/tiny-00004.pt", run_dir / "checkpoints/tiny-00002.pt"
    written = newest.stat().st_size
    newest.write_bytes(newest.read_bytes()[:written // 2])
    with pytest.raises(CheckpointError) as raised:
        run(trainer(cfg, total_iter=6), "train", iteration=4)
    assert str(raised.value) == (f"{newest}: damaged checkpoint ({written // 2} bytes where {written} were written). "
                                 f"The newest good checkpoint before it is {good}: resume it with --iter 2 "
                                 f"(trainer_cfg.restore_hint: 2)")

    assert run(trainer(cfg, total_iter=6), "train", iteration=2).iteration == 6
    assert (run_dir / "checkpoints/tiny-00004.pt.damaged").stat().st_size == written // 2
    assert ckpt.saved_iterations(run_dir, "tiny") == [2, 4, 6]
    assert all(ckpt.damage(ckpt.checkpoint_path(run_dir, "tiny", i)) is None for i in (2, 4, 6))


def test_damage_is_found_by_the_sidecar_or_without_one_by_the_zip_crcs(tmp_path):
    path = ckpt.checkpoint_path(tmp_path, "run", 10)
    ckpt.save_checkpoint({"model": {"w": torch.arange(1000.0)}}, path)
    assert ckpt.damage(path) is None and ckpt.sidecar_path(path).exists()
    data = bytearray(path.read_bytes())
    offset = data.index(torch.arange(1000.0).numpy().tobytes()[400:404])  # inside the tensor's bytes
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))
    assert ckpt.damage(path) == "its bytes differ from those written (SHA-256 mismatch)"
    ckpt.sidecar_path(path).unlink()  # an older checkpoint: the zip records' CRCs still tell
    assert ckpt.damage(path).endswith("fails its CRC check")
    with pytest.raises(CheckpointError, match=r"damaged checkpoint \(its record .* fails its CRC check\). There "
                                                    r"is no good checkpoint before it to resume: start over$"):
        ckpt.load_checkpoint(path)


def test_a_disk_that_fills_during_a_save_leaves_the_earlier_checkpoints_and_says_what_is_needed(finished, monkeypatch):
    """The writer raises ENOSPC half way through checkpoint 6: the run stops with one message giving the space the
    checkpoint needs; checkpoints 2 and 4 are untouched and no temporary file or checkpoint 6 is left."""
    cfg, run_dir = finished
    before = fingerprint(run_dir / "checkpoints")
    size = (run_dir / "checkpoints/tiny-00004.pt").stat().st_size
    original = ckpt._HashingWriter.write

    def filling(self, data):
        if self.size + len(data) > size // 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, data)

    monkeypatch.setattr(ckpt._HashingWriter, "write", filling)
    with pytest.raises(OutputError) as raised:
        run(trainer(cfg, total_iter=6), "train", iteration=4)
    needed = ckpt._state_bytes(torch.load(run_dir / "checkpoints/tiny-00004.pt", weights_only=True)) / 2 ** 20
    assert str(raised.value).startswith(f"{run_dir / 'checkpoints/tiny-00006.pt'}: could not save the checkpoint (No "
                                        f"space left on device); it needs about {needed:.1f} MB (")
    assert str(raised.value).endswith("The earlier checkpoints are intact; free some space (trainer_cfg.keep_last "
                                      "bounds how many checkpoints a run keeps) and resume")
    assert needed > 0.5 * size / 2 ** 20
    assert fingerprint(run_dir / "checkpoints") == before


def test_keep_last_keeps_only_the_newest_checkpoints(tiny_casiab, tmp_path):
    cfg = trainer(tiny_engine_config(tiny_casiab, "GaitSet", tmp_path), total_iter=6, keep_last=2)
    run(cfg, "train")
    assert sorted(p.name for p in (tmp_path / "CASIA-B/GaitSet/tiny/checkpoints").iterdir()) == [
        "tiny-00004.pt", "tiny-00004.pt.sha256", "tiny-00006.pt", "tiny-00006.pt.sha256"]


def test_result_files_appear_all_or_none_and_an_interrupted_test_says_so(finished, monkeypatch, capsys):
    folder = finished[1] / "tables"
    fsyncs = []

    def interrupted_fsync(fd):
        fsyncs.append(fd)
        if len(fsyncs) == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", interrupted_fsync)
        with pytest.raises(KeyboardInterrupt):
            atomic_write_texts({folder / "a.md": "A", folder / "a.csv": "1"})
    assert list(folder.iterdir()) == []  # nor any temporary file

    cfg = finished[0]

    def interrupted(self, rank):
        raise KeyboardInterrupt

    monkeypatch.setattr(NetworkHost, "inference", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, "test", iteration=4)
    assert "Test interrupted: no result files were written; run the same command again" in capsys.readouterr().err
    assert not list(finished[1].glob("rank1_*"))


def rank_worker(rank: int, port: int, cfg: dict, restarts: int, stop_after: int, out: str) -> None:
    """One of two gloo ranks as torchrun starts them (restarted ``restarts`` times): trains ``cfg`` and writes how
    it ended to ``out/rank<r>.txt``; rank 1 stops itself (SIGSTOP) after saving checkpoint ``stop_after``."""
    from opengait_local3d.engine import BaseModel, EngineError

    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), TORCHELASTIC_RESTART_COUNT=str(restarts))
    save = BaseModel.save_ckpt

    def save_then_stop(self, iteration):
        save(self, iteration)
        if rank == 1 and iteration == stop_after:
            os.kill(os.getpid(), signal.SIGSTOP)

    BaseModel.save_ckpt = save_then_stop
    try:
        ended = f"done {run(cfg, 'train', device='cpu').iteration}"
    except EngineError as err:
        ended = f"error: {err}"
    (Path(out) / f"rank{rank}.txt").write_text(ended)


def two_ranks(cfg: dict, out: Path, restarts: int = 0, stop_after: int = 0) -> list[str]:
    """Run :func:`rank_worker` on two processes (their endings written to ``out``); a rank that stopped itself is
    killed once the other has ended."""
    from test_engine_ddp import free_port

    out.mkdir()
    spawn = torch.multiprocessing.get_context("spawn")
    port = free_port()
    ranks = [spawn.Process(target=rank_worker, args=(r, port, cfg, restarts, stop_after, str(out))) for r in range(2)]
    for process in ranks:
        process.start()
    ranks[0].join(timeout=300)
    if stop_after:
        ranks[1].kill()
    ranks[1].join(timeout=300)
    return [(out / f"rank{r}.txt").read_text() if (out / f"rank{r}.txt").exists() else "killed" for r in range(2)]


def test_a_stopped_rank_times_the_others_out_and_the_restart_ends_as_an_uninterrupted_run(tiny_casiab, tmp_path):
    """Two gloo ranks, ``collective_timeout: 3``: rank 1 stops (SIGSTOP) after checkpoint 4; rank 0 ends with one
    message saying a collective timed out and naming checkpoint 4. Restarted as torchrun restarts (the same
    command, ``TORCHELASTIC_RESTART_COUNT=1``), the run resumes checkpoint 4 and ends with the weights of an
    uninterrupted two-rank run."""
    cfg = trainer(tiny_engine_config(tiny_casiab, "GaitSet", tmp_path / "faulty"), total_iter=8, log_iter=100,
                  collective_timeout=3)
    run_dir = tmp_path / "faulty/CASIA-B/GaitSet/tiny"
    first = two_ranks(cfg, tmp_path / "stopped", stop_after=4)
    assert first[1] == "killed"
    assert first[0].startswith("error: a collective timed out or lost a rank in training iteration 5: another rank "
                               "stopped answering for 3 s (trainer_cfg.collective_timeout) or died (")
    assert first[0].endswith(f"The newest good checkpoint is {run_dir / 'checkpoints/tiny-00004.pt'}: resume it with "
                             "--iter 4 (trainer_cfg.restore_hint: 4)")
    assert ckpt.saved_iterations(run_dir, "tiny") == [2, 4]
    before = fingerprint(run_dir / "checkpoints")

    assert two_ranks(cfg, tmp_path / "restarted", restarts=1) == ["done 8", "done 8"]
    assert {k: v for k, v in fingerprint(run_dir / "checkpoints").items() if k in before} == before
    uninterrupted = {**cfg, "engine_cfg": {"output_root": str(tmp_path / "whole")}}
    assert two_ranks(uninterrupted, tmp_path / "uninterrupted") == ["done 8", "done 8"]
    resumed, whole = (ckpt.load_checkpoint(root / "CASIA-B/GaitSet/tiny/checkpoints/tiny-00008.pt")["model"]
                      for root in (tmp_path / "faulty", tmp_path / "whole"))
    assert resumed.keys() == whole.keys()
    for key in whole:
        assert torch.equal(resumed[key], whole[key]), key
