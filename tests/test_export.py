"""``opengait-local3d export``: every network as TorchScript (no optional package needed), checked against the test
phase's embeddings. (ONNX needs the ``export`` extra, which the test environment does not install.)"""
from __future__ import annotations

import pytest
import torch
import yaml

from conftest import TINY_MODEL_CFGS, tiny_engine_config
from opengait_local3d.cli import main as cli_main
from opengait_local3d.datasets.silhouette import load_sequence
from opengait_local3d.deploy.export import TOLERANCE, relative_error
from opengait_local3d.deploy.embedding import embed

MODELS = {**TINY_MODEL_CFGS, "GaitGL": {"model": "GaitGL", "channels": [2, 4, 4], "bin_num": [4], "class_num": 4}}


def _config(tiny_casiab, tmp_path, model: str):
    cfg = tiny_engine_config(tiny_casiab, "GaitPart", tmp_path / "output")
    cfg["model_cfg"] = MODELS[model]
    path = tmp_path / f"{model}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _test_phase_embedding(tiny_casiab, config, tmp_path):
    """The embedding the test phase gives a stored sequence of a length the export was neither traced nor checked
    with, and its frames."""
    result = embed(config, 0, tiny_casiab.root, tmp_path / "emb.npz", partition="test", device="cpu")
    for index, key in enumerate(zip(result["ids"], result["types"], result["views"])):
        frames = load_sequence(tiny_casiab.root.joinpath(*key) / f"{key[2]}.pkl")
        if len(frames) not in (10, 20, 37):
            return frames, result["embeddings"][index]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_torchscript_gives_the_test_phase_embeddings_at_any_length(model, tiny_casiab, tmp_path, capsys):
    config = _config(tiny_casiab, tmp_path, model)
    out = tmp_path / "model.pt"
    assert cli_main(["export", "--cfgs", str(config), "--iter", "0", "--format", "torchscript", "--out", str(out),
                     "--check-frames", "10", "37"]) == 0
    assert "relative error against PyTorch: 10 frames" in capsys.readouterr().out
    frames, expected = _test_phase_embedding(tiny_casiab, config, tmp_path)
    loaded = torch.jit.load(str(out))
    with torch.no_grad():
        actual = loaded(torch.from_numpy(frames).float()[None]).numpy()[0]
    assert relative_error(actual, expected) <= TOLERANCE


def test_export_refuses_without_frames_to_size_it(tiny_casiab, tmp_path, capsys):
    cfg = tiny_engine_config(tiny_casiab, "GaitPart", tmp_path / "output")
    cfg["data_cfg"]["dataset_root"] = str(tmp_path / "nowhere")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    assert cli_main(["export", "--cfgs", str(config), "--iter", "0", "--format", "torchscript",
                     "--out", str(tmp_path / "m.pt")]) == 2
    assert "--frame-size H W" in capsys.readouterr().err and not (tmp_path / "m.pt").exists()
    assert cli_main(["export", "--cfgs", str(config), "--iter", "0", "--format", "torchscript", "--frame-size", "16",
                     "16", "--out", str(tmp_path / "m.pt")]) == 0
