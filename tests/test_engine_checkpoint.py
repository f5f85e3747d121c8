"""Checkpoint files: OpenGait's path, atomic writes, clear errors when restoring."""
from __future__ import annotations

import pytest
import torch

from opengait_local3d.engine import checkpoint as ckpt
from opengait_local3d.engine.errors import CheckpointError


def test_path_layout(tmp_path):
    path = ckpt.checkpoint_path(tmp_path, "GaitSet", 400)
    assert path == tmp_path / "checkpoints" / "GaitSet-00400.pt"
    ckpt.save_checkpoint({"model": {}, "iteration": 400}, path)
    assert ckpt.load_checkpoint(path)["iteration"] == 400
    assert ckpt.checkpoint_path(tmp_path, "GaitSet", 120000).name == "GaitSet-120000.pt"


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path = ckpt.checkpoint_path(tmp_path, "run", 10)
    ckpt.save_checkpoint({"model": {"w": torch.ones(3)}}, path)
    before = path.read_bytes()

    def failing_save(obj, handle):
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt  # e.g. Ctrl-C in the middle of the write

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint({"model": {"w": torch.zeros(3)}}, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_restore_errors_name_the_file(tmp_path):
    ckpt.save_checkpoint({"model": {}}, ckpt.checkpoint_path(tmp_path, "run", 100))
    missing = ckpt.checkpoint_path(tmp_path, "run", 200)
    with pytest.raises(CheckpointError, match=rf"{missing}: checkpoint not found \(saved there: run-00100.pt\)"):
        ckpt.load_checkpoint(missing)
    with pytest.raises(CheckpointError, match=r"nowhere/x.pt: checkpoint not found \(no checkpoints in"):
        ckpt.load_checkpoint(tmp_path / "nowhere" / "x.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk.pt: cannot read the checkpoint"):
        ckpt.load_checkpoint(tmp_path / "junk.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"list.pt: not a checkpoint"):
        ckpt.load_checkpoint(tmp_path / "list.pt")
