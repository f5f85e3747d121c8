"""Every shipped config loads, builds its model, and the ablation files match the paper's tables."""
from __future__ import annotations

import json

import pytest
import yaml

from opengait_local3d import cli
from opengait_local3d.engine.config.loading import load_config, read_yaml
from opengait_local3d.engine.config.paths import resolve_path
from opengait_local3d.modeling import build_network
from opengait_local3d.resources import CONFIG_DIR
from opengait_local3d.tools import ablations

CONFIGS = sorted(p for p in CONFIG_DIR.rglob("*.yaml") if p.name != "default.yaml")


def test_configs_are_found():
    names = {p.relative_to(CONFIG_DIR).as_posix() for p in CONFIGS}
    assert {"3dlocal_casiab.yaml", "3dlocal_casiab_128.yaml", "3dlocal_oumvlp.yaml", "gaitset_casiab.yaml",
            "gaitpart_casiab.yaml"} <= names
    assert len([n for n in names if n.startswith("ablations/")]) == 15


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(CONFIG_DIR).as_posix())
def test_config_loads_and_builds_its_model(path):
    cfgs = load_config(path)
    network = build_network(cfgs["model_cfg"])
    assert sum(p.numel() for p in network.parameters()) > 0


def test_ablation_files_are_what_the_generator_writes():
    generated = ablations.generate()
    assert {p.name for p in generated} == {p.name for p in (CONFIG_DIR / "ablations").glob("*.yaml")}
    for path, text in generated.items():
        assert path.read_text() == text, f"{path} is stale: run python -m {ablations.MODULE}"


# The paper's rows, written out plainly: (local_blocks, parts, mode, feature_extraction).
ALL = ["head", "torso", "left_arm", "right_arm", "left_leg", "right_leg"]
EXPECTED_ROWS = {
    "table3_a": ([], ALL, "mixture", True),
    "table3_b": ([1], ALL, "mixture", True),
    "table3_c": ([2], ALL, "mixture", True),
    "table3_d": ([3], ALL, "mixture", True),
    "table3_e": ([2, 3], ALL, "mixture", True),
    "table3_f": ([1, 2, 3], ALL, "mixture", True),
    "table4_gaussian": ([1, 2, 3], ALL, "gaussian", True),
    "table4_trilinear": ([1, 2, 3], ALL, "trilinear", True),
    "table4_mixture": ([1, 2, 3], ALL, "mixture", True),
    "table5_a": ([], ALL, "mixture", True),
    "table5_b": ([1, 2, 3], ["head"], "mixture", False),
    "table5_c": ([1, 2, 3], ["head", "left_arm", "right_arm"], "mixture", False),
    "table5_d": ([1, 2, 3], ["head", "torso", "left_arm", "right_arm"], "mixture", False),
    "table5_e": ([1, 2, 3], ALL, "mixture", False),
    "table5_f": ([1, 2, 3], ALL, "mixture", True),
}


@pytest.mark.parametrize("row", sorted(EXPECTED_ROWS))
def test_ablation_differs_from_the_base_only_in_its_row(row):
    base = read_yaml(CONFIG_DIR / "3dlocal_casiab.yaml")
    config = read_yaml(CONFIG_DIR / "ablations" / f"3dlocal_{row}.yaml")
    local_blocks, parts, mode, feature_extraction = EXPECTED_ROWS[row]
    assert config["model_cfg"]["local_blocks"] == local_blocks
    assert config["model_cfg"]["local3d"] == {**base["model_cfg"]["local3d"], "parts": parts, "mode": mode,
                                              "feature_extraction": feature_extraction}
    assert config["trainer_cfg"]["save_name"] == config["evaluator_cfg"]["save_name"] == f"3DLocal_{row}"
    for section in ("model_cfg", "trainer_cfg", "evaluator_cfg"):
        for cfg in (base, config):
            cfg[section] = {k: v for k, v in cfg[section].items() if k not in ("local_blocks", "local3d", "save_name")}
    assert config == base


def test_partitions_follow_the_protocols():
    casia = json.loads((CONFIG_DIR / "partitions" / "CASIA-B.json").read_text())
    assert casia["TRAIN_SET"] == [f"{i:03d}" for i in range(1, 75)]
    assert casia["TEST_SET"] == [f"{i:03d}" for i in range(75, 125)]
    ou = json.loads((CONFIG_DIR / "partitions" / "OUMVLP.json").read_text())
    assert len(ou["TRAIN_SET"]) == 5153 and len(ou["TEST_SET"]) == 5154
    assert not set(ou["TRAIN_SET"]) & set(ou["TEST_SET"])
    assert sorted(ou["TRAIN_SET"] + ou["TEST_SET"]) == [f"{i:05d}" for i in range(1, 10308)]


def test_paper_settings_of_the_main_configs():
    casia = yaml.safe_load((CONFIG_DIR / "3dlocal_casiab.yaml").read_text())
    ou = yaml.safe_load((CONFIG_DIR / "3dlocal_oumvlp.yaml").read_text())
    assert casia["optimizer_cfg"] == {"solver": "Adam", "lr": 1e-4, "weight_decay": 0.0}
    assert casia["trainer_cfg"]["total_iter"] == 120000 and casia["trainer_cfg"]["sampler"]["batch_size"] == [8, 16]
    assert ou["trainer_cfg"]["total_iter"] == 250000 and ou["trainer_cfg"]["sampler"]["batch_size"] == [32, 16]
    assert ou["scheduler_cfg"]["milestones"] == [150000] and ou["scheduler_cfg"]["gamma"] == 0.1
    assert ou["model_cfg"]["channels"] == [2 * c for c in casia["model_cfg"]["channels"]]


def test_configs_command_copies_every_config_and_never_overwrites(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a folder without configs/, as a user's
    out = tmp_path / "my-configs"
    assert cli.main(["configs", "--out", str(out)]) == 0
    shipped = {p.relative_to(CONFIG_DIR).as_posix(): p.read_bytes() for p in CONFIG_DIR.rglob("*") if p.is_file()}
    copied = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert copied == shipped and "3dlocal_casiab.yaml" in copied and "partitions/OUMVLP.json" in copied
    assert f"{len(shipped)} of {len(shipped)} files written" in capsys.readouterr().out

    edited = out / "3dlocal_casiab.yaml"
    edited.write_text(edited.read_text().replace("your_path", "/data/CASIA-B-pkl"))
    assert cli.main(["configs", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "kept  3dlocal_casiab.yaml" in printed and "0 of" in printed
    assert "/data/CASIA-B-pkl" in edited.read_text()
    # a copied config runs from anywhere: its partition path resolves against the package's configs
    data_cfg = load_config(edited)["data_cfg"]
    assert data_cfg["dataset_root"] == "/data/CASIA-B-pkl"
    assert resolve_path(data_cfg["dataset_partition"], "p") == CONFIG_DIR / "partitions" / "CASIA-B.json"
