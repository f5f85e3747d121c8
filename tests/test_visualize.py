"""Part pictures (opengait_local3d.visuals) and the ``visualize`` command on a tiny Local3DCNN."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import yaml

from conftest import TINY_MODEL_CFGS, make_silhouettes, tiny_engine_config
from opengait_local3d.cli import main as cli_main
from opengait_local3d.engine.config.loading import load_config
from opengait_local3d.engine.host import NetworkHost, load_network
from opengait_local3d.local3d import named_local_blocks
from opengait_local3d.modeling import build_network
from opengait_local3d.deploy.visualization import visualize_run
from opengait_local3d.visuals.pictures import (CELL, FRAME_HEADER, GAMMA_BARS, LABEL_WIDTH, PART_COLOURS,
                                               TIMELINE_HEADER, TIMELINE_ROW, WINDOW_BAND,
                                               render_part_visuals)

LOCAL3DCNN = {**TINY_MODEL_CFGS["Local3DCNN"], "channels": [4, 4, 8, 8, 8, 8]}


def tiny_network(model_cfg: dict = LOCAL3DCNN, perturbed: bool = False):
    """A tiny network; ``perturbed``: every parameter moved off its initial value, so parts leave their
    priors and gamma varies per frame."""
    torch.manual_seed(0)
    network = build_network(model_cfg)
    network.init_parameters()
    if perturbed:
        with torch.no_grad():
            for param in network.parameters():
                param.add_(0.1 * torch.randn_like(param))
    return network


def tiny_sequence(frames: int = 6) -> torch.Tensor:
    return torch.from_numpy(make_silhouettes(np.random.default_rng(0), frames, 16, 16, 1)).float() / 255


def test_pictures_of_every_local_block_are_written_and_training_mode_is_kept(tmp_path):
    network = tiny_network().train()
    pictures = render_part_visuals(network, tiny_sequence(), tmp_path)
    labels = list(named_local_blocks(network))
    assert labels == ["block1", "block2", "block3"]
    expected = {f"{label}_{kind}" for label in labels for kind in ("boxes", "timeline", "volumes")} | {"fusion_weights"}
    assert set(pictures) == expected
    assert all(image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 for image in pictures.values())
    assert {p.stem for p in tmp_path.glob("*.png")} == expected
    assert not list(tmp_path.glob(".*.tmp"))
    assert network.training


def test_a_box_is_drawn_where_the_parameters_say():
    network = tiny_network(perturbed=True)
    pictures = render_part_visuals(network, tiny_sequence(), None)
    block = list(named_local_blocks(network).values())[-1]  # block 3: input 4 x 4 for 16 x 16 frames, so 4 frame pixels each
    part = len(block.part_names) - 1  # drawn last, so nothing covers its outline
    (cx, cy), (ex, ey) = block.last_parameters["centre"][0, part, 0].tolist(), block.last_parameters["extent"][0, part, 0].tolist()
    display = 4 * CELL / 16
    left, top, right = round((cx - ex / 2) * display), round((cy - ey / 2) * display), round((cx + ex / 2) * display)
    assert 0 < left < right < CELL and 0 < top < CELL, "the box must lie inside the first frame for this check"
    colour = PART_COLOURS[block.part_names[part]]
    image = pictures["block3_boxes"][FRAME_HEADER:]
    assert tuple(image[top, left]) == colour and tuple(image[top, right]) == colour
    assert tuple(image[top + 2, left + 2]) != colour  # an outline, not a filled box


def test_the_timeline_shows_each_parts_temporal_window_and_gamma_per_frame():
    frames = 6
    network = tiny_network(perturbed=True)
    image = render_part_visuals(network, tiny_sequence(frames), None)["block1_timeline"]
    params = list(named_local_blocks(network).values())[0].last_parameters
    cell = 24  # display pixels per input frame for a 6-frame sequence
    for p, name in enumerate(PART_COLOURS):
        top = TIMELINE_HEADER + p * TIMELINE_ROW
        colour = PART_COLOURS[name]
        centre, extent = params["temporal_centre"][0, p].item(), params["temporal_extent"][0, p].item()
        for t in range(frames):  # frame t spans [t, t + 1): its middle is in the window or not
            middle = t + 0.5
            if abs(abs(middle - centre) - extent / 2) > 0.1:
                in_window = abs(middle - centre) < extent / 2
                assert (tuple(image[top + 1, LABEL_WIDTH + t * cell + cell // 2]) == colour) == in_window, (name, t)
            bar = image[top + WINDOW_BAND + 2:top + WINDOW_BAND + 2 + GAMMA_BARS, LABEL_WIDTH + t * cell + cell // 2]
            height = int((bar == colour).all(axis=1).sum())
            assert abs(height - params["gamma"][0, p, t].item() * GAMMA_BARS) <= 0.5 + 1e-6, (name, t)
    gammas = params["gamma"][0]
    assert gammas.std() > 0.01 and not torch.allclose(params["temporal_centre"][0], torch.tensor(frames / 2))


def test_pictures_of_local_blocks_after_a_temporal_stride(tmp_path):
    """GaitGL's temporal aggregation leaves a third of the frames to its blocks: one box per block frame, drawn on
    every third frame of the sequence."""
    network = tiny_network(TINY_MODEL_CFGS["GaitGLLocal3D"])
    pictures = render_part_visuals(network, tiny_sequence(9), tmp_path)
    assert {f"block{b}_{kind}" for b in (1, 2, 3) for kind in ("boxes", "timeline", "volumes")} < set(pictures)
    blocks = named_local_blocks(network)
    assert [b.last_input_size[0] for b in blocks.values()] == [3, 3, 3]
    single = render_part_visuals(network, tiny_sequence(9)[:3], None)["block1_boxes"]  # one block frame: one image
    assert single.shape[1] < pictures["block1_boxes"].shape[1]


def test_networks_without_local_blocks_give_no_pictures(tmp_path):
    assert render_part_visuals(tiny_network(TINY_MODEL_CFGS["GaitPart"]), tiny_sequence(), tmp_path) == {}
    assert list(tmp_path.iterdir()) == []


def test_bad_sequence_shape_is_named():
    with pytest.raises(ValueError, match=r"sequence: expected \[s, h, w\]"):
        render_part_visuals(tiny_network(), torch.zeros(1, 6, 16, 16))


def test_the_network_is_the_engines_untrained_one_or_its_checkpoint(tiny_casiab, tmp_path):
    cfg = tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "output", model_cfg=LOCAL3DCNN)
    engine_net = NetworkHost(load_config(cfg), training=False).net
    untrained = load_network(load_config(cfg), 0)
    for (key, value), reference in zip(untrained.state_dict().items(), engine_net.state_dict().values()):
        assert torch.equal(value, reference), key

    trained = tiny_network(perturbed=True).state_dict()
    path = tmp_path / "output/CASIA-B/Local3DCNN/tiny/checkpoints/tiny-00003.pt"  # OpenGait's layout
    path.parent.mkdir(parents=True)
    torch.save({"model": {f"net.{k}": v for k, v in trained.items()}, "iteration": 3}, path)
    restored = load_network(load_config(cfg), 3)
    assert all(torch.equal(restored.state_dict()[k], v) for k, v in trained.items()) and not restored.training


def test_visualize_command_untrained_missing_checkpoint_and_bad_pkl(tiny_casiab, tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "output",
                                                     model_cfg=LOCAL3DCNN)))
    sequence = tiny_casiab.root / "005/nm-05/000"
    out = tmp_path / "vis"
    assert cli_main(["visualize", "--cfgs", str(cfg), "--iter", "0", "--sequence", str(sequence), "--out", str(out)]) == 0
    assert (out / "block3_boxes.png").is_file() and "untrained network" in capsys.readouterr().out
    files = visualize_run(cfg, 0, sequence / "000.pkl", out)
    assert all(f.is_file() for f in files) and {f.name for f in files} >= {"block1_timeline.png", "fusion_weights.png"}

    assert cli_main(["visualize", "--cfgs", str(cfg), "--iter", "7", "--sequence", str(sequence), "--out", str(out)]) == 2
    assert "tiny-00007.pt" in capsys.readouterr().err

    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(np.zeros((4, 16, 16), np.float32)))
    assert cli_main(["visualize", "--cfgs", str(cfg), "--iter", "0", "--sequence", str(bad), "--out", str(out)]) == 2
    assert "bad.pkl" in capsys.readouterr().err


def test_visualize_refuses_a_file_as_out_and_names_a_sequence_too_small_for_the_network(tiny_casiab, tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "output",
                                                     model_cfg=LOCAL3DCNN)))
    (tmp_path / "notes.txt").write_text("my notes")
    sequence = tiny_casiab.root / "005/nm-05/000"
    assert cli_main(["visualize", "--cfgs", str(cfg), "--iter", "0", "--sequence", str(sequence), "--out",
                     str(tmp_path / "notes.txt")]) == 2
    assert capsys.readouterr().err == (f"opengait-local3d visualize: error: {tmp_path / 'notes.txt'}: a file is there; "
                                       "the pictures go to a folder (created if absent)\n")
    assert (tmp_path / "notes.txt").read_text() == "my notes"
    small = tmp_path / "small.pkl"
    small.write_bytes(pickle.dumps(np.full((5, 7, 3), 255, np.uint8)))
    assert cli_main(["visualize", "--cfgs", str(cfg), "--iter", "0", "--sequence", str(small), "--out",
                     str(tmp_path / "vis")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"opengait-local3d visualize: error: {small}: Local3DCNN cannot take this sequence (7x3 "
                          "pixels after evaluator_cfg.transform): ") and err.count("\n") == 1
    assert not (tmp_path / "vis").exists()
