"""Part pictures (engine.part_visuals) and the ``visualize`` command on a tiny untrained Local3DCNN."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import yaml

from conftest import TINY_MODEL_CFGS, make_silhouettes, tiny_engine_config
from opengait_local3d.cli import main as cli_main
from opengait_local3d.engine.part_visuals import CELL, PART_COLOURS, local_blocks, render_part_visuals
from opengait_local3d.modeling import build_network


def tiny_network(model: str = "Local3DCNN"):
    torch.manual_seed(0)
    network = build_network(TINY_MODEL_CFGS[model])
    network.init_parameters()
    return network


def tiny_sequence(frames: int = 6) -> torch.Tensor:
    return torch.from_numpy(make_silhouettes(np.random.default_rng(0), frames, 16, 16, 1)).float() / 255


def test_pictures_of_every_local_block_are_written_and_training_mode_is_kept(tmp_path):
    network = tiny_network().train()
    pictures = render_part_visuals(network, tiny_sequence(), tmp_path)
    labels = [label for label, _ in local_blocks(network)]
    assert labels == ["block1", "block2", "block3"]
    expected = {f"{label}_{kind}" for label in labels for kind in ("boxes", "volumes")} | {"fusion_weights"}
    assert set(pictures) == expected
    assert all(image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 for image in pictures.values())
    assert {p.stem for p in tmp_path.glob("*.png")} == expected
    assert network.training


def test_a_box_is_drawn_where_the_parameters_say():
    network = tiny_network()
    pictures = render_part_visuals(network, tiny_sequence(), None)
    block = local_blocks(network)[-1][1]  # block 3: input 4 x 4 for 16 x 16 frames, so 4 frame pixels each
    part = len(block.part_names) - 1  # drawn last, so nothing covers its outline
    (cx, cy), (ex, ey) = block.last_parameters["centre"][0, part, 0].tolist(), block.last_parameters["extent"][0, part, 0].tolist()
    display = 4 * CELL / 16
    left, top = round((cx - ex / 2) * display), round((cy - ey / 2) * display)
    right = round((cx + ex / 2) * display)
    colour = PART_COLOURS[block.part_names[part]]
    image = pictures["block3_boxes"]
    assert tuple(image[top, left]) == colour and tuple(image[top, right]) == colour
    assert tuple(image[top + 2, left + 2]) != colour  # an outline, not a filled box


def test_networks_without_local_blocks_give_no_pictures(tmp_path):
    assert render_part_visuals(tiny_network("GaitPart"), tiny_sequence(), tmp_path) == {}
    assert list(tmp_path.iterdir()) == []


def test_bad_sequence_shape_is_named():
    with pytest.raises(ValueError, match=r"sequence: expected \[s, h, w\]"):
        render_part_visuals(tiny_network(), torch.zeros(1, 6, 16, 16))


def test_visualize_command_untrained_and_missing_checkpoint(tiny_casiab, tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "output")))
    sequence = next(tiny_casiab.root.glob("005/nm-05/000"))
    out = tmp_path / "vis"
    assert cli_main(["visualize", "--cfgs", str(cfg), "--iter", "0", "--sequence", str(sequence), "--out", str(out)]) == 0
    assert (out / "block3_boxes.png").is_file() and "untrained network" in capsys.readouterr().out

    assert cli_main(["visualize", "--cfgs", str(cfg), "--iter", "7", "--sequence", str(sequence), "--out", str(out)]) == 2
    assert "tiny-00007.pt" in capsys.readouterr().err

    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(np.zeros((4, 16, 16), np.float32)))
    assert cli_main(["visualize", "--cfgs", str(cfg), "--iter", "0", "--sequence", str(bad), "--out", str(out)]) == 2
    assert "bad.pkl" in capsys.readouterr().err
