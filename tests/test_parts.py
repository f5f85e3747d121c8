"""``opengait-local3d parts``: part statistics of a run over the test set, table and parts.csv (the statistics
themselves are checked against hand-computed cases in test_local3d_diagnostics)."""
from __future__ import annotations

import csv

import pytest
import yaml

from conftest import tiny_engine_config
from opengait_local3d.cli import main as cli_main
from opengait_local3d.engine.launcher import run
from opengait_local3d.deploy.parts import CSV_COLUMNS, part_table


def test_parts_of_the_newest_checkpoint_match_a_monitor_over_the_same_sequences(tiny_casiab, tmp_path, capsys):
    cfg = tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "output",
                             model_cfg={"local_blocks": [2, 3], "local3d": {"alignment": "write"}})
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run(path, "train", device="cpu")

    assert cli_main(["parts", "--cfgs", str(path), "--out", str(tmp_path / "report"), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "Parts of checkpoint 4 over the test set" in printed
    with open(tmp_path / "report" / "parts.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["block"], r["part"]) for r in rows][:2] == [("block2", "head"), ("block2", "torso")]
    assert len(rows) == 12

    table, iteration, _ = part_table(path, 4, device="cpu")  # the CSV holds the figures, to its 4 decimals
    assert iteration == 4
    for row, line in zip(table, rows):
        for name in CSV_COLUMNS[2:]:
            assert float(line[name]) == pytest.approx(getattr(row, name), abs=1e-4)
        assert all(0.0 <= getattr(row, name) <= 1.0 for name in CSV_COLUMNS[2:])


def test_untrained_parts_sit_at_their_priors_and_a_model_without_local_blocks_is_refused(tiny_casiab, tmp_path,
                                                                                          capsys):
    cfg = tiny_engine_config(tiny_casiab, "Local3DCNN", tmp_path / "output", model_cfg={"local_blocks": [3]})
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rows, _, _ = part_table(path, 0, device="cpu")
    assert {(r.centre_on_map, r.window_in_clip) for r in rows} == {(1.0, 1.0)}
    assert {round(r.gamma, 6) for r in rows} == {0.5}

    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(tiny_engine_config(tiny_casiab, "GaitPart", tmp_path / "output")))
    assert cli_main(["parts", "--cfgs", str(plain), "--iter", "0", "--device", "cpu"]) == 2
    assert "has no 3D local blocks" in capsys.readouterr().err
    assert cli_main(["parts", "--cfgs", str(path), "--device", "cpu"]) == 2  # nothing trained yet
    assert "no checkpoint of 'tiny'" in capsys.readouterr().err
