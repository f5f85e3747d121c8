"""Checkpoint files: OpenGait's path, atomic writes, clear errors when restoring."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from opengait_local3d.engine import checkpoint as ckpt
from opengait_local3d.errors import CheckpointError


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
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, f"{path.name}.sha256"]


def test_restore_errors_name_the_file(tmp_path):
    ckpt.save_checkpoint({"model": {}}, ckpt.checkpoint_path(tmp_path, "run", 100))
    missing = ckpt.checkpoint_path(tmp_path, "run", 200)
    with pytest.raises(CheckpointError, match=rf"{missing}: checkpoint not found \(saved there: run-00100.pt\)"):
        ckpt.load_checkpoint(missing)
    with pytest.raises(CheckpointError, match=r"nowhere/x.pt: checkpoint not found \(no checkpoints in"):
        ckpt.load_checkpoint(tmp_path / "nowhere" / "x.pt")
    (tmp_path / "junk.pt").write_text("iteration: 400\n")  # a text file: never torch's weights_only advice
    with pytest.raises(CheckpointError, match=r"^\S*junk.pt: not a checkpoint \(torch.save writes a zip archive or a "
                                              r"pickle; this file begins with b'iteration: 400\\n'\)$"):
        ckpt.load_checkpoint(tmp_path / "junk.pt")
    (tmp_path / "cut.pt").write_bytes(ckpt.checkpoint_path(tmp_path, "run", 100).read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"cut.pt: damaged checkpoint \(not a whole zip archive \("):
        ckpt.load_checkpoint(tmp_path / "cut.pt")
    torch.save({"model": {"w": np.zeros(2)}}, tmp_path / "numpy.pt")
    with pytest.raises(CheckpointError) as raised:
        ckpt.load_checkpoint(tmp_path / "numpy.pt")
    assert str(raised.value).endswith("numpy.pt: not a checkpoint of tensors and plain values (it holds "
                                      "numpy._core.multiarray._reconstruct); only those are loaded")
    assert "weights_only" not in str(raised.value)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"list.pt: not a checkpoint"):
        ckpt.load_checkpoint(tmp_path / "list.pt")


def test_a_misfit_lists_what_was_expected_and_found_and_suggests_only_what_helps(tmp_path):
    net = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 4))
    path = tmp_path / "other.pt"
    ckpt.save_checkpoint({"model": {"0.weight": torch.zeros(5, 2), "0.bias": torch.zeros(3), "9.scale": torch.ones(1)},
                          "model_cfg": {"model": "GaitSet", "bin_num": [16]}}, path)
    before = [p.detach().clone() for p in net.parameters()]
    for strict in (True, False):  # shapes differ, a tensor finds no place: restore_ckpt_strict false fails the same way
        with pytest.raises(CheckpointError) as raised:
            ckpt.load_weights(net, path, strict=strict, model_cfg={"model": "Local3DCNN", "bin_num": [8]})
        assert str(raised.value).splitlines() == [
            f"{path}: does not fit Local3DCNN as model_cfg configures it",
            "  it was saved with model_cfg bin_num: [16] (now [8]); model: 'GaitSet' (now 'Local3DCNN')",
            "  2 tensor(s) missing from the checkpoint: 1.weight; 1.bias",
            "  1 tensor(s) not in the model: 9.scale",
            "  1 tensor(s) of other shapes: 0.weight: checkpoint [5, 2], model [3, 2]",
            f"  restore_ckpt_strict: false {'would not help' if strict else 'does not help'} (it leaves tensors "
            "missing from the checkpoint as initialised, never skips a tensor of the checkpoint or one of another "
            "shape): use the model_cfg the checkpoint was trained with",
        ]
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # nothing half-loaded
    fits = tmp_path / "part.pt"
    ckpt.save_checkpoint({"model": {"0.weight": torch.ones(3, 2), "0.bias": torch.ones(3)}}, fits)
    with pytest.raises(CheckpointError, match=r"(?s)does not record the model_cfg it was saved with.*"
                                              r"restore_ckpt_strict: false loads the 2 tensor\(s\) that fit"):
        ckpt.load_weights(net, fits, strict=True, model_cfg={"model": "Local3DCNN"})
    _, result = ckpt.load_weights(net, fits, strict=False, model_cfg={"model": "Local3DCNN"})  # as the advice says
    assert result.missing_keys == ["1.weight", "1.bias"] and torch.equal(net[0].weight, torch.ones(3, 2))
