"""``opengait-local3d export``: every network as TorchScript, and Local3DCNN and GaitPart as ONNX run in plain
onnxruntime, checked against the test phase's embeddings (ONNX needs the ``export`` extra, part of the test
install)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
import yaml
from torch import nn

from conftest import TINY_MODEL_CFGS, make_silhouettes, tiny_engine_config, write_pkl
from opengait_local3d.cli import main as cli_main
from opengait_local3d.datasets.silhouette import load_sequence
from opengait_local3d.deploy.embedding import embed
from opengait_local3d.deploy.export import TOLERANCE, BinMaxPool2d, relative_error

MODELS = {**TINY_MODEL_CFGS, "GaitGL": {"model": "GaitGL", "channels": [2, 4, 4], "bin_num": [4], "class_num": 4}}
#: the networks the issue's ONNX bar names. Local3DCNN keeps only its third 3D local block (the export of each block
#: costs seconds): the one whose localization max-pools a 1 x 1 map to 2 x 2, which ONNX has no pooling for; in
#: ``write`` alignment with part sizes measured on a fixed map, as every Local3DCNN config (the part volumes' length
#: then follows the frame count, so the exported graph computes the layout from the symbolic length).
ONNX_MODELS = {"GaitPart": MODELS["GaitPart"],
               "Local3DCNN": {**MODELS["Local3DCNN"], "local_blocks": [3],
                              "local3d": {"localization_width": 4, "alignment": "write", "write_resolution": [4, 4]}}}
#: the sequence lengths of the issue's ONNX bar
BAR_FRAMES = (10, 37)


def _config(tiny_casiab, tmp_path, model: str, model_cfg: dict | None = None):
    cfg = tiny_engine_config(tiny_casiab, "GaitPart", tmp_path / "output")
    cfg["model_cfg"] = model_cfg or MODELS[model]
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


@pytest.fixture(scope="module")
def bar_walks(tmp_path_factory) -> Path:
    """A pkl folder of one walk of each :data:`BAR_FRAMES` length (16 x 16, as ``tiny_casiab``'s frames)."""
    root = tmp_path_factory.mktemp("walks")
    rng = np.random.default_rng(1)
    for frames in BAR_FRAMES:
        write_pkl(root / "005" / f"s{frames}" / "090" / "090.pkl", make_silhouettes(rng, frames, 16, 16, 5))
    return root


@pytest.mark.parametrize("model", sorted(ONNX_MODELS))
def test_onnx_in_onnxruntime_gives_the_test_phase_embeddings_at_10_and_37_frames(model, tiny_casiab, bar_walks,
                                                                                   tmp_path, capsys):
    config = _config(tiny_casiab, tmp_path, model, ONNX_MODELS[model])
    out = tmp_path / "model.onnx"
    assert cli_main(["export", "--cfgs", str(config), "--iter", "0", "--format", "onnx", "--out", str(out)]) == 0
    assert "relative error against PyTorch: 10 frames" in capsys.readouterr().out
    expected = embed(config, 0, bar_walks, tmp_path / "emb.npz", device="cpu")
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    lengths = []
    for typ, embedding in zip(expected["types"], expected["embeddings"]):
        frames = load_sequence(bar_walks / "005" / typ / "090" / "090.pkl")
        actual = session.run(None, {"silhouettes": frames[None].astype(np.float32)})[0][0]
        assert actual.shape == embedding.shape and relative_error(actual, embedding) <= TOLERANCE
        lengths.append(len(frames))
    assert sorted(lengths) == list(BAR_FRAMES)


@pytest.mark.parametrize("size, output_size", [(1, 2), (3, 2), (4, 2), (5, 3), (2, 5), (6, (2, None)), (4, (None, 3))])
def test_bin_max_pool_equals_adaptive_max_pool(size, output_size):
    x = torch.randn(3, 2, size, size + 1)
    assert torch.equal(BinMaxPool2d(output_size)(x), nn.AdaptiveMaxPool2d(output_size)(x))


def test_export_names_a_frame_size_the_network_does_not_run_on(tiny_casiab, tmp_path, capsys):
    config = _config(tiny_casiab, tmp_path, "GaitPart")
    out = tmp_path / "m.onnx"
    assert cli_main(["export", "--cfgs", str(config), "--iter", "0", "--format", "onnx", "--frame-size", "2", "2",
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "frames of 2 x 2 px: GaitPart does not run on them" in err and "Traceback" not in err
    assert not out.exists()


def test_export_refuses_an_unknown_format(tiny_casiab, tmp_path, capsys):
    config = _config(tiny_casiab, tmp_path, "GaitPart")
    with pytest.raises(SystemExit) as usage:
        cli_main(["export", "--cfgs", str(config), "--iter", "0", "--format", "tflite", "--out", str(tmp_path / "m")])
    assert usage.value.code == 2 and "invalid choice: 'tflite'" in capsys.readouterr().err
