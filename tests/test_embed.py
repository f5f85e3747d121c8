"""``opengait-local3d embed``: the npz holds what the test phase computes, in dataset order."""
from __future__ import annotations

import numpy as np
import yaml

from conftest import tiny_engine_config
from opengait_local3d.cli import main as cli_main
from opengait_local3d.engine import distributed
from opengait_local3d.engine.config.loading import load_config
from opengait_local3d.engine.host import NetworkHost
from opengait_local3d.deploy.embedding import embed


def test_embeddings_equal_the_test_phase_features(tiny_casiab, tmp_path):
    cfg = tiny_engine_config(tiny_casiab, "GaitPart", tmp_path / "output")
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = embed(path, 0, tiny_casiab.root, tmp_path / "emb.npz", partition="test", device="cpu")

    with distributed.session("cpu") as context:
        model = NetworkHost(load_config(cfg), training=False)
        model.eval()
        reference = model.inference(context.rank)
        dataset = model.test_loader.dataset
    saved = np.load(tmp_path / "emb.npz")
    np.testing.assert_array_equal(saved["embeddings"], reference["embeddings"])
    np.testing.assert_array_equal(saved["ids"], dataset.label_list)
    np.testing.assert_array_equal(saved["types"], dataset.types_list)
    np.testing.assert_array_equal(saved["views"], dataset.views_list)
    assert set(saved["ids"]) == set(tiny_casiab.test_ids) and result["embeddings"].dtype == np.float32

    train = embed(path, 0, tiny_casiab.root, tmp_path / "train.npz", partition="train", device="cpu")
    assert list(dict.fromkeys(train["ids"])) == list(tiny_casiab.train_ids) and len(train["ids"]) == 4 * 10 * 2


def test_all_ids_of_a_folder_without_casia_b_structure_untrained_and_a_missing_folder(tiny_casiab, tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_engine_config(tiny_casiab, "GaitPart", tmp_path / "output",
                                                     evaluator_cfg={"restore_hint": 99})))  # --iter 0 wins
    mine = tmp_path / "mine"
    (mine / "alice" / "walk" / "side").mkdir(parents=True)
    (mine / "alice" / "walk" / "side" / "a.pkl").write_bytes((tiny_casiab.root / "001/nm-01/000/000.pkl").read_bytes())
    out = tmp_path / "mine.npz"
    assert cli_main(["embed", "--cfgs", str(cfg), "--iter", "0", "--data", str(mine), "--out", str(out),
                     "--device", "cpu"]) == 0
    saved = np.load(out)
    assert list(saved["ids"]) == ["alice"] and list(saved["types"]) == ["walk"] and saved["embeddings"].shape[0] == 1

    (mine / "bob" / "walk").mkdir(parents=True)  # a pkl one folder too high: bob has no sequence
    (mine / "bob" / "walk" / "b.pkl").write_bytes((mine / "alice" / "walk" / "side" / "a.pkl").read_bytes())
    assert cli_main(["embed", "--cfgs", str(cfg), "--iter", "0", "--data", str(mine), "--out", str(out),
                     "--device", "cpu"]) == 0
    assert (f"{mine}: skipped 2 entries of TEST_SET: bob/walk/b.pkl: a pkl outside <id>/<type>/<view>/; bob: no "
            "sequence, the id is left out") in capsys.readouterr().err
    assert list(np.load(out)["ids"]) == ["alice"]

    assert cli_main(["embed", "--cfgs", str(cfg), "--iter", "0", "--data", str(tmp_path / "nowhere"),
                     "--out", str(out)]) == 2
    assert "nowhere" in capsys.readouterr().err
