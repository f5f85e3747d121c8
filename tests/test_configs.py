"""Every shipped config loads, builds its model, and the ablation files match the paper's tables."""
from __future__ import annotations

import json

import pytest
import yaml

from opengait_local3d import cli
from opengait_local3d.engine.config.loading import load_config, read_yaml
from opengait_local3d.config.paths import resolve_path
from opengait_local3d.modeling import build_network
from opengait_local3d.resources import CONFIG_DIR
from opengait_local3d.tools import ablations

CONFIGS = sorted(p for p in CONFIG_DIR.rglob("*.yaml") if p.name != "default.yaml")


def test_configs_are_found():
    names = {p.relative_to(CONFIG_DIR).as_posix() for p in CONFIGS}
    assert {"3dlocal_casiab.yaml", "3dlocal_casiab_128.yaml", "3dlocal_oumvlp.yaml", "gaitset_casiab.yaml",
            "gaitpart_casiab.yaml"} <= names
    assert len([n for n in names if n.startswith("ablations/")]) == 15
    assert names == set(PARAMETER_COUNTS)  # one pinned count per config, none stale


#: parameters of each config's network. The Local3DCNN counts change with the 3D local block's design: after
#: a deliberate change, update them from the failure messages (they print the actual count), and the counts by
#: hand below.
PARAMETER_COUNTS = {
    "3dlocal_casiab.yaml": 2782640,
    "3dlocal_casiab_128.yaml": 2782640,
    "3dlocal_oumvlp.yaml": 11036464,
    "3dlocal_casiab_phase1.yaml": 1751840,  # the staged recipe's phase 1: Table 3 row a
    "3dlocal_oumvlp_phase1.yaml": 7190848,
    "ablations/3dlocal_table3_a.yaml": 1751840,
    "ablations/3dlocal_table3_b.yaml": 1783568,
    "ablations/3dlocal_table3_c.yaml": 1968560,
    "ablations/3dlocal_table3_d.yaml": 2534192,
    "ablations/3dlocal_table3_e.yaml": 2750912,
    "ablations/3dlocal_table3_f.yaml": 2782640,
    "ablations/3dlocal_table4_gaussian.yaml": 2782640,
    "ablations/3dlocal_table4_mixture.yaml": 2782640,
    "ablations/3dlocal_table4_trilinear.yaml": 2782640,
    "ablations/3dlocal_table5_a.yaml": 1751840,
    "ablations/3dlocal_table5_b.yaml": 1879976,
    "ablations/3dlocal_table5_c.yaml": 1906808,
    "ablations/3dlocal_table5_d.yaml": 1920224,
    "ablations/3dlocal_table5_e.yaml": 1947056,
    "ablations/3dlocal_table5_f.yaml": 2782640,
    "gaitgl_casiab.yaml": 3096673,  # GaitGL's: OpenGait's counts, by hand in test_modeling_gaitgl.py
    "gaitgl_local3d_casiab.yaml": 7102993,
    "gaitgl_local3d_oumvlp.yaml": 103142673,
    "gaitgl_oumvlp.yaml": 95620449,
    "gaitpart_casiab.yaml": 1204000,
    "gaitset_casiab.yaml": 2594592,
    "synth/3dlocal_synth.yaml": 473888,
    "synth/gaitgl_local3d_synth.yaml": 1622945,
    "synth/gaitgl_synth.yaml": 553265,
    "synth/gaitpart_synth.yaml": 186512,
    "synth/gaitset_synth.yaml": 386704,
}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(CONFIG_DIR).as_posix())
def test_config_loads_and_builds_its_model_with_the_pinned_parameter_count(path):
    name = path.relative_to(CONFIG_DIR).as_posix()
    network = build_network(load_config(path)["model_cfg"])
    count = sum(p.numel() for p in network.parameters())
    assert name in PARAMETER_COUNTS, f"{name}: add it to PARAMETER_COUNTS ({count} parameters)"
    assert count == PARAMETER_COUNTS[name], f"{name}: {count} parameters, pinned {PARAMETER_COUNTS[name]}"


def test_pinned_counts_of_the_networks_without_local_paths_are_their_layers_counted_by_hand():
    """GaitSet, GaitPart and Local3DCNN without 3D local paths (Table 3 a), at CASIA-B settings, from their
    layers: bias-free convs (c_in x c_out x k x k), one FC per part (p x c_in x c_out), GaitPart's MCM (per
    part: two conv1d pairs c -> c/4 (k 3) -> c (k 1, then k 3)), GLN's compact block (two BNs with weight and
    bias, a bias-free FC) and the bias-free classifier."""
    def convs(*layers):  # (c_in, c_out, k)
        return sum(c_in * c_out * k * k for c_in, c_out, k in layers)

    backbone = convs((1, 32, 5), (32, 32, 3), (32, 64, 3), (64, 64, 3), (64, 128, 3), (128, 128, 3))
    gaitset = backbone + convs((32, 64, 3), (64, 64, 3), (64, 128, 3), (128, 128, 3)) + 62 * 128 * 256
    mcm = 16 * (128 * 32 * 3 + 32 * 128 * 1 + 128 * 32 * 3 + 32 * 128 * 3)
    gaitpart = backbone + mcm + 16 * 128 * 128
    local3dcnn = gaitpart + 2 * 2048 + 2048 * 256 + 2 * 256 + 256 * 74
    assert PARAMETER_COUNTS["gaitset_casiab.yaml"] == gaitset
    assert PARAMETER_COUNTS["gaitpart_casiab.yaml"] == gaitpart
    assert PARAMETER_COUNTS["ablations/3dlocal_table3_a.yaml"] == local3dcnn


def test_pinned_counts_of_local3dcnn_with_local_paths_add_each_blocks_local_paths_counted_by_hand():
    """The 3D local paths of a block with input c_in and global output c, six parts, as docs/design.md
    ("Localization", "Feature extraction and fusion") describes them with Local3DBlock's defaults (width 32,
    pooling 2): the localization (BN2d over the c global channels, two bias-free 3x3 convs each followed by a
    BN2d, a frame head Linear(32 x 2 x 2 -> 6 per part) and a sequence head Linear(-> 2 per part), each with
    bias and a BatchNorm1d), one conv3d 3x3x3 with bias per part (c_in -> c / 2), and the fusion's 1x1x1 conv
    with bias over the global and the six local paths' channels (c + 6 x c / 2 -> c). Focal convs add no
    weights (one conv shared by the strips), so the global paths are table 3 a's."""
    parts, width = 6, 32

    def local_paths(c_in, c):
        features = width * 2 * 2
        localization = (2 * c + c * width * 9 + 2 * width + width * width * 9 + 2 * width
                        + (features + 1) * 6 * parts + 2 * 6 * parts + (features + 1) * 2 * parts + 2 * 2 * parts)
        extraction = parts * (c_in * 27 + 1) * (c // 2)
        fusion = (c + parts * c // 2) * c + c
        return localization + extraction + fusion

    plain = PARAMETER_COUNTS["ablations/3dlocal_table3_a.yaml"]
    blocks = [local_paths(1, 32), local_paths(32, 64), local_paths(64, 128)]
    assert PARAMETER_COUNTS["ablations/3dlocal_table3_b.yaml"] == plain + blocks[0]  # local_blocks [1]
    assert PARAMETER_COUNTS["ablations/3dlocal_table3_f.yaml"] == plain + sum(blocks)
    assert PARAMETER_COUNTS["3dlocal_casiab.yaml"] == plain + sum(blocks)


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


@pytest.mark.parametrize("name, total, batch, milestones", [("3dlocal_casiab", 120000, [8, 16], []),
                                                            ("3dlocal_oumvlp", 250000, [32, 16], [150000])])
def test_the_staged_recipe_keeps_the_papers_schedule_over_its_two_phases(name, total, batch, milestones):
    """Phase 1 (no local paths) and phase 2 (warm-started from phase 1's last checkpoint) together: the paper's
    iterations, batch, Adam at 1e-4 and learning-rate steps (Sec. 4.2); phase 2 differs from phase 1 only in its
    local paths, save name, schedule and warm start."""
    first = read_yaml(CONFIG_DIR / f"{name}_phase1.yaml")
    second = read_yaml(CONFIG_DIR / f"{name}.yaml")
    warm = first["trainer_cfg"]["total_iter"]
    assert warm + second["trainer_cfg"]["total_iter"] == total
    assert [m for m in first["scheduler_cfg"]["milestones"] if m <= warm] == []
    assert [warm + m for m in second["scheduler_cfg"]["milestones"]] == milestones
    for cfg in (first, second):
        assert cfg["optimizer_cfg"] == {"solver": "Adam", "lr": 1e-4, "weight_decay": 0.0}
        assert cfg["trainer_cfg"]["sampler"]["batch_size"] == batch and cfg["scheduler_cfg"]["gamma"] == 0.1
    save = first["trainer_cfg"]["save_name"]
    assert first["model_cfg"]["local_blocks"] == [] and second["model_cfg"]["local_blocks"] == [1, 2, 3]
    assert second["trainer_cfg"]["restore_hint"] == (f"output/{first['data_cfg']['dataset_name']}/Local3DCNN/{save}/"
                                                     f"checkpoints/{save}-{warm:05d}.pt")
    assert (second["trainer_cfg"]["restore_ckpt_strict"], second["trainer_cfg"]["optimizer_reset"]) == (False, True)
    assert second["evaluator_cfg"]["restore_hint"] == second["trainer_cfg"]["total_iter"]
    for cfg in (first, second):
        for section, keys in (("model_cfg", ("local_blocks",)), ("scheduler_cfg", ("milestones",)),
                              ("trainer_cfg", ("save_name", "total_iter", "restore_hint", "restore_ckpt_strict",
                                               "optimizer_reset", "scheduler_reset")),
                              ("evaluator_cfg", ("save_name", "restore_hint"))):
            cfg[section] = {k: v for k, v in cfg[section].items() if k not in keys}
    assert first == second


def test_paper_settings_of_the_main_configs():
    casia = yaml.safe_load((CONFIG_DIR / "3dlocal_casiab.yaml").read_text())
    ou = yaml.safe_load((CONFIG_DIR / "3dlocal_oumvlp.yaml").read_text())
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
