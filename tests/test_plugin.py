"""install-plugin / uninstall-plugin against a fake OpenGait checkout built here, and the config name checks.

The fake checkout has what the plugin relies on: OpenGait's required files, a registry package that imports
every module of its folder and exposes every class (as OpenGait's does), a stand-in ``BaseModel`` with
OpenGait's ``init_parameters`` behaviour, its own GaitSet/GaitPart/GaitGL, and partition files.
"""
from __future__ import annotations

import ast
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import OPENGAIT_COMMIT
from opengait_local3d import cli
from opengait_local3d.opengait_plugin import PluginError, config_problems, install, load_opengait_names, uninstall
from opengait_local3d.opengait_plugin.configs import INSTALL_DIR, ROOT_CONFIGS, is_engine_only, opengait_meant_configs
from opengait_local3d.opengait_plugin.manifest import MANIFEST_NAME
from opengait_local3d.opengait_plugin.shim import SHIM_FILENAME
from opengait_local3d.resources import CONFIG_DIR

PINNED_COMMIT = OPENGAIT_COMMIT
REPOSITORY = Path(__file__).resolve().parent.parent
SHIM = f"opengait/modeling/models/{SHIM_FILENAME}"

STAND_IN_BASE_MODEL = '''"""Stand-in for OpenGait's BaseModel: builds the network, then OpenGait's init_parameters."""
from torch import nn


class BaseModel(nn.Module):
    def __init__(self, cfgs, training):
        super().__init__()
        self.cfgs = cfgs
        self.build_network(cfgs["model_cfg"])
        self.init_parameters()
        self.train(training)

    def build_network(self, model_cfg):
        pass

    def init_parameters(self):
        """OpenGait's scheme: Xavier-uniform convs and Linears, zero biases, BN weights ~ N(1, 0.02)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) and m.affine:
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
'''

STAND_IN_REGISTRY = '''"""Stand-in for OpenGait's registry: import every module of this folder, expose every class it holds."""
import importlib
import inspect
import pkgutil
from pathlib import Path

for _info in pkgutil.iter_modules([str(Path(__file__).parent)]):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in dir(_module):
        if inspect.isclass(getattr(_module, _name)):
            globals()[_name] = getattr(_module, _name)
'''

STAND_IN_MODEL = '''from ..base_model import BaseModel


class {name}(BaseModel):
    """OpenGait's own {name} (stand-in)."""
'''


def make_fake_opengait(root: Path) -> Path:
    """A minimal OpenGait checkout at ``root`` (partitions copied from ours, whose content equals OpenGait's)."""
    files = {
        "opengait/main.py": "# stand-in for OpenGait's launcher\n",
        "opengait/modeling/base_model.py": STAND_IN_BASE_MODEL,
        "opengait/modeling/models/__init__.py": STAND_IN_REGISTRY,
        "opengait/modeling/models/gaitset.py": STAND_IN_MODEL.format(name="GaitSet"),
        "opengait/modeling/models/gaitpart.py": STAND_IN_MODEL.format(name="GaitPart"),
        "opengait/modeling/models/gaitgl.py": STAND_IN_MODEL.format(name="GaitGL"),
        "configs/default.yaml": "model_cfg:\n  model: Baseline\n",
        "datasets/CASIA-B/CASIA-B.json": (CONFIG_DIR / "partitions" / "CASIA-B.json").read_text(),
        "datasets/OUMVLP/OUMVLP.json": (CONFIG_DIR / "partitions" / "OUMVLP.json").read_text(),
        "datasets/CASIA-B/README.md": "not a partition\n",
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


TINY_CONFIG = {
    "data_cfg": {"dataset_name": "CASIA-B", "dataset_root": "your_path", "dataset_partition": "configs/partitions/tiny.json"},
    "loss_cfg": [{"type": "TripletLoss", "margin": 0.2, "log_prefix": "triplet"},
                 {"type": "CrossEntropyLoss", "scale": 16, "log_prefix": "softmax"}],
    "model_cfg": {"model": "Local3DCNN", "channels": [2, 2, 4, 4, 4, 4], "focal_halving": [0, 1, 1]},
    "trainer_cfg": {"sampler": {"type": "TripletSampler", "batch_size": [2, 2], "sample_type": "fixed_ordered",
                                "frames_num_fixed": 8, "frames_skip_num": 2},
                    "transform": [{"type": "Compose", "trf_cfg": [{"type": "BaseSilCuttingTransform"},
                                                                   {"type": "RandomHorizontalFlip", "prob": 0.5}]}]},
    "evaluator_cfg": {"eval_func": "evaluate_indoor_dataset", "metric": "euc",
                      "sampler": {"type": "InferenceSampler", "batch_size": 1, "sample_type": "all_ordered"}},
    "optimizer_cfg": {"solver": "Adam", "lr": 1e-4},
    "scheduler_cfg": {"scheduler": "MultiStepLR", "milestones": []},
}


def write_config(path: Path, cfgs: dict, comment: str = "# a comment the copy keeps\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comment + yaml.safe_dump(cfgs, sort_keys=False))
    return path


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return make_fake_opengait(tmp_path / "OpenGait")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """Our configs/ in miniature: two OpenGait-meant configs, one engine-only, one partition (CASIA-B's)."""
    configs = tmp_path / "project" / "configs"
    (configs / "partitions").mkdir(parents=True)
    shutil.copy(CONFIG_DIR / "partitions" / "CASIA-B.json", configs / "partitions" / "tiny.json")
    write_config(configs / "3dlocal_tiny.yaml", TINY_CONFIG)
    write_config(configs / "ablations" / "3dlocal_tiny_b.yaml", TINY_CONFIG)
    engine_only = {**TINY_CONFIG, "trainer_cfg": {"transform": [{"type": "EngineOnlyResize"}]}}
    write_config(configs / "synth" / "3dlocal_synth.yaml", engine_only)
    return configs


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---- install ---------------------------------------------------------------------------------------


def test_install_writes_the_shim_and_the_opengait_configs_only(checkout, config_dir):
    before = snapshot(checkout)
    actions = install(checkout, config_dir)
    written = {f"{INSTALL_DIR.as_posix()}/3dlocal_tiny.yaml", f"{INSTALL_DIR.as_posix()}/ablations/3dlocal_tiny_b.yaml", SHIM}
    assert {(a.path, a.outcome) for a in actions} == {(path, "wrote") for path in written}
    after = snapshot(checkout)
    assert set(after) == set(before) | written | {MANIFEST_NAME}
    assert all(after[path] == before[path] for path in before)  # nothing of OpenGait's touched
    manifest = json.loads(after[MANIFEST_NAME])["files"]
    assert manifest == {path: hashlib.sha256(after[path]).hexdigest() for path in written}


def test_installed_config_points_at_opengait_partition_and_keeps_everything_else(checkout, config_dir):
    install(checkout, config_dir)
    source = (config_dir / "3dlocal_tiny.yaml").read_text()
    copy = (checkout / INSTALL_DIR / "3dlocal_tiny.yaml").read_text()
    assert copy.startswith("# Installed by `opengait-local3d install-plugin`")
    assert "# a comment the copy keeps" in copy
    assert "opengait/main.py --cfgs configs/3dlocal/3dlocal_tiny.yaml --phase train" in copy
    installed, original = yaml.safe_load(copy), yaml.safe_load(source)
    assert installed["data_cfg"]["dataset_partition"] == "./datasets/CASIA-B/CASIA-B.json"
    assert (checkout / installed["data_cfg"]["dataset_partition"]).is_file()
    assert installed["data_cfg"]["dataset_root"] == "your_path"  # left for the user
    original["data_cfg"]["dataset_partition"] = installed["data_cfg"]["dataset_partition"]
    assert installed == original


def test_shim_holds_only_our_models_from_the_installed_package(checkout, config_dir):
    install(checkout, config_dir)
    tree = ast.parse((checkout / SHIM).read_text())
    imports = [(node.module, [(alias.name, alias.asname) for alias in node.names]) for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom)]
    assert imports == [("opengait_local3d.opengait_plugin.binding", [("OpenGaitHost", name)])
                       for name in ("Local3DCNN", "GaitGLLocal3D")]
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]


def test_install_twice_changes_nothing(checkout, config_dir):
    install(checkout, config_dir)
    first = snapshot(checkout)
    actions = install(checkout, config_dir)
    assert {a.outcome for a in actions} == {"unchanged"}
    assert snapshot(checkout) == first


def test_dry_run_changes_nothing(checkout, config_dir):
    before = snapshot(checkout)
    actions = install(checkout, config_dir, dry_run=True)
    assert {a.outcome for a in actions} == {"wrote"}
    assert snapshot(checkout) == before


def test_a_config_the_user_edited_is_kept_by_install_and_uninstall(checkout, config_dir):
    install(checkout, config_dir)
    edited = checkout / INSTALL_DIR / "3dlocal_tiny.yaml"
    edited.write_text(edited.read_text().replace("your_path", "/data/CASIA-B-pkl"))
    mine = edited.read_text()
    (config_dir / "3dlocal_tiny.yaml").write_text((config_dir / "3dlocal_tiny.yaml").read_text() + "# v2\n")
    outcomes = {a.path: a.outcome for a in install(checkout, config_dir)}
    assert outcomes[edited.relative_to(checkout).as_posix()] == "kept" and edited.read_text() == mine
    outcomes = {a.path: a.outcome for a in uninstall(checkout)}
    assert outcomes == {edited.relative_to(checkout).as_posix(): "kept",
                        f"{INSTALL_DIR.as_posix()}/ablations/3dlocal_tiny_b.yaml": "removed", SHIM: "removed"}
    assert edited.read_text() == mine
    assert not (checkout / INSTALL_DIR / "ablations").exists()  # emptied folders go
    assert [a.outcome for a in uninstall(checkout)] == ["kept"]  # still recorded, still kept


def test_an_unedited_installed_config_is_updated_when_ours_changes(checkout, config_dir):
    install(checkout, config_dir)
    (config_dir / "3dlocal_tiny.yaml").write_text((config_dir / "3dlocal_tiny.yaml").read_text() + "# v2\n")
    outcomes = {a.path: a.outcome for a in install(checkout, config_dir)}
    assert outcomes[f"{INSTALL_DIR.as_posix()}/3dlocal_tiny.yaml"] == "updated"
    assert (checkout / INSTALL_DIR / "3dlocal_tiny.yaml").read_text().endswith("# v2\n")


def test_a_config_we_no_longer_ship_is_removed_on_install(checkout, config_dir):
    install(checkout, config_dir)
    (config_dir / "ablations" / "3dlocal_tiny_b.yaml").unlink()
    outcomes = {a.path: a.outcome for a in install(checkout, config_dir)}
    assert outcomes[f"{INSTALL_DIR.as_posix()}/ablations/3dlocal_tiny_b.yaml"] == "removed"
    manifest = json.loads((checkout / MANIFEST_NAME).read_text())["files"]
    assert f"{INSTALL_DIR.as_posix()}/ablations/3dlocal_tiny_b.yaml" not in manifest


def test_install_refuses_to_overwrite_a_file_it_did_not_write(checkout, config_dir):
    theirs = checkout / INSTALL_DIR / "3dlocal_tiny.yaml"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("model_cfg: {model: Mine}\n")
    before = snapshot(checkout)
    with pytest.raises(PluginError, match="3dlocal_tiny.yaml exists and was not written by install-plugin"):
        install(checkout, config_dir)
    assert snapshot(checkout) == before  # nothing written, not even the shim


def test_an_interrupted_install_is_adopted_not_refused(checkout, config_dir):
    install(checkout, config_dir)
    (checkout / MANIFEST_NAME).unlink()  # as if the run stopped before saving its manifest
    assert {a.outcome for a in install(checkout, config_dir)} == {"unchanged"}
    assert (checkout / MANIFEST_NAME).is_file()


@pytest.mark.parametrize("name", ["Local3DCNN", "GaitGLLocal3D"])
def test_install_refuses_when_another_registry_module_defines_one_of_our_models(checkout, config_dir, name):
    (checkout / "opengait/modeling/models/authors_code.py").write_text(f"class {name}:\n    pass\n")
    with pytest.raises(PluginError, match=f"authors_code.py defines class {name}"):
        install(checkout, config_dir)
    assert not (checkout / SHIM).exists()


def test_install_refuses_a_config_with_names_opengait_lacks(checkout, config_dir):
    bad = {**TINY_CONFIG, "loss_cfg": {"type": "TripletLos", "margin": 0.2, "log_prefix": "triplet"}}
    write_config(config_dir / "3dlocal_bad.yaml", bad)
    with pytest.raises(PluginError, match=r"3dlocal_bad.yaml is not runnable by OpenGait:\n  loss_cfg.type: "
                                          r"'TripletLos' is not a loss OpenGait defines; did you mean 'TripletLoss'\?"):
        install(checkout, config_dir)


def test_install_refuses_a_partition_opengait_does_not_have(checkout, config_dir):
    partition = json.loads((config_dir / "partitions" / "tiny.json").read_text())
    partition["TRAIN_SET"] = partition["TRAIN_SET"][:-1]
    (config_dir / "partitions" / "tiny.json").write_text(json.dumps(partition))
    with pytest.raises(PluginError, match="matches none of OpenGait's partition files"):
        install(checkout, config_dir)


@pytest.mark.parametrize("missing", ["opengait/main.py", "opengait/modeling/models/__init__.py", "configs/default.yaml"])
def test_refuses_a_folder_that_is_not_an_opengait_checkout(checkout, config_dir, missing):
    (checkout / missing).unlink()
    with pytest.raises(PluginError, match=f"is not an OpenGait checkout: it lacks {missing}"):
        install(checkout, config_dir)
    with pytest.raises(PluginError, match="is not an OpenGait checkout"):
        uninstall(checkout)


def test_refuses_a_registry_that_does_not_import_every_module(checkout, config_dir):
    (checkout / "opengait/modeling/models/__init__.py").write_text("from .gaitset import GaitSet\n")
    with pytest.raises(PluginError, match="no longer imports every module"):
        install(checkout, config_dir)


def test_checkout_from_the_environment_variable(checkout, config_dir, monkeypatch):
    monkeypatch.delenv("OPENGAIT_ROOT", raising=False)
    with pytest.raises(PluginError, match="pass --opengait PATH or set OPENGAIT_ROOT"):
        install(None, config_dir)
    monkeypatch.setenv("OPENGAIT_ROOT", str(checkout))
    install(None, config_dir)
    assert (checkout / SHIM).is_file()


def test_uninstall_removes_everything_it_wrote_and_only_that(checkout, config_dir):
    before = snapshot(checkout)
    install(checkout, config_dir)
    assert {a.outcome for a in uninstall(checkout)} == {"removed"}
    assert snapshot(checkout) == before
    assert (checkout / "opengait/modeling/models").is_dir() and (checkout / "configs").is_dir()
    assert uninstall(checkout) == []


def test_the_real_configs_install_into_the_fake_checkout(checkout):
    """Every OpenGait-meant config we ship translates: its names exist in OpenGait, its partition is OpenGait's."""
    actions = install(checkout)
    expected = {f"{INSTALL_DIR.as_posix()}/{p.as_posix()}" for p in opengait_meant_configs(CONFIG_DIR)} | {SHIM}
    expected |= {f"configs/{name}" for name in ROOT_CONFIGS}
    assert {a.path for a in actions} == expected
    for path in expected - {SHIM}:
        partition = yaml.safe_load((checkout / path).read_text())["data_cfg"]["dataset_partition"]
        assert partition in ("./datasets/CASIA-B/CASIA-B.json", "./datasets/OUMVLP/OUMVLP.json"), path


def test_gaitgl_with_local_paths_is_installed_and_the_gaitgl_baselines_are_not():
    """OpenGait has its own GaitGL configs; ours with 3D local paths (model GaitGLLocal3D) are what it lacks."""
    meant = {p.as_posix() for p in opengait_meant_configs(CONFIG_DIR)}
    assert {"gaitgl_local3d_casiab.yaml", "gaitgl_local3d_oumvlp.yaml"} <= meant
    assert not {"gaitgl_casiab.yaml", "gaitgl_oumvlp.yaml", "gaitset_casiab.yaml", "gaitpart_casiab.yaml"} & meant
    for name in ("gaitgl_local3d_casiab.yaml", "gaitgl_local3d_oumvlp.yaml"):
        assert yaml.safe_load((CONFIG_DIR / name).read_text())["model_cfg"]["model"] == "GaitGLLocal3D"


def test_the_papers_main_configs_are_also_at_opengaits_config_root(checkout):
    """The mission's command, ``opengait/main.py --cfgs configs/3dlocal_casiab.yaml``, finds its config."""
    assert ROOT_CONFIGS == ("3dlocal_casiab.yaml", "3dlocal_casiab_phase1.yaml", "3dlocal_casiab_128.yaml",
                            "3dlocal_oumvlp.yaml", "3dlocal_oumvlp_phase1.yaml")
    before = snapshot(checkout)
    install(checkout)
    manifest = json.loads((checkout / MANIFEST_NAME).read_text())["files"]
    for name in ROOT_CONFIGS:
        at_root, beside = (checkout / "configs" / name).read_text(), (checkout / INSTALL_DIR / name).read_text()
        assert f"opengait/main.py --cfgs configs/{name} --phase train" in at_root
        assert yaml.safe_load(at_root) == yaml.safe_load(beside)  # the same config, its own header
        assert manifest[f"configs/{name}"] == hashlib.sha256(at_root.encode()).hexdigest()
    assert {a.outcome for a in install(checkout)} == {"unchanged"}
    assert {a.outcome for a in uninstall(checkout)} == {"removed"}
    assert snapshot(checkout) == before  # OpenGait's configs/ folder and files untouched


def test_install_refuses_a_users_own_config_at_the_root_name(checkout):
    theirs = checkout / "configs" / "3dlocal_casiab.yaml"
    theirs.write_text("model_cfg: {model: Mine}\n")
    with pytest.raises(PluginError, match=r"configs/3dlocal_casiab.yaml exists and was not written by install-plugin"):
        install(checkout)
    assert theirs.read_text() == "model_cfg: {model: Mine}\n" and not (checkout / SHIM).exists()


# ---- the command line ------------------------------------------------------------------------------


def test_cli_install_and_uninstall(checkout, capsys, monkeypatch):
    assert cli.main(["install-plugin", "--opengait", str(checkout), "--dry-run"]) == 0
    assert "dry run (nothing changed)" in capsys.readouterr().out and not (checkout / SHIM).exists()
    assert cli.main(["install-plugin", "--opengait", str(checkout)]) == 0
    out = capsys.readouterr().out
    assert f"wrote  {SHIM}" in out and "set data_cfg.dataset_root" in out
    assert cli.main(["uninstall-plugin", "--opengait", str(checkout)]) == 0
    assert f"removed  {SHIM}" in capsys.readouterr().out and not (checkout / SHIM).exists()


def test_cli_refusal_is_one_clear_line_and_status_2(tmp_path, capsys):
    assert cli.main(["install-plugin", "--opengait", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path} is not an OpenGait checkout") and "Traceback" not in err


# ---- names OpenGait defines ------------------------------------------------------------------------


def test_the_names_file_is_of_the_pinned_commit_and_lists_what_the_plugin_relies_on():
    names = load_opengait_names()
    assert names.commit == PINNED_COMMIT
    assert PINNED_COMMIT in (REPOSITORY / "third_party" / "README.md").read_text()
    assert {"GaitSet", "GaitPart", "GaitGL", "Baseline", "GLN"} <= names.models
    assert not {"Local3DCNN", "GaitGLLocal3D"} & names.models  # our registry names shadow none of OpenGait's
    assert names.losses["TripletLoss"] == {"init": ["margin", "loss_term_weight"], "forward": ["embeddings", "labels"]}
    assert names.losses["CrossEntropyLoss"]["forward"] == ["logits", "labels"]
    assert {"TripletSampler", "InferenceSampler"} <= names.samplers.keys()
    assert {"BaseSilCuttingTransform", "RandomHorizontalFlip", "Compose"} <= names.transforms.keys()
    assert names.evaluators["evaluate_indoor_dataset"] == ["metric", "cross_view_gallery"]


def test_config_problems_finds_each_kind_of_mistake():
    assert config_problems(TINY_CONFIG) == []
    bad = json.loads(json.dumps(TINY_CONFIG))
    bad["model_cfg"]["model"] = "Local3DCN"
    bad["loss_cfg"][0]["margn"] = 0.2
    bad["trainer_cfg"]["sampler"]["type"] = "TripletSamplr"
    bad["trainer_cfg"]["transform"][0]["trf_cfg"][1]["type"] = "RandomHorizontalFlp"
    bad["evaluator_cfg"]["sampler"]["batch_sise"] = 1
    bad["evaluator_cfg"]["eval_func"] = "evaluate_indoor"
    bad["optimizer_cfg"]["solver"] = "Adamm"
    bad["scheduler_cfg"]["scheduler"] = "MultiStepLr"
    assert sorted(config_problems(bad)) == sorted([
        "model_cfg.model: 'Local3DCN' is not a model OpenGait defines; did you mean 'Local3DCNN'?",
        "loss_cfg[0].margn: TripletLoss takes no argument 'margn'; did you mean 'margin'? (OpenGait would silently "
        "drop it)",
        "trainer_cfg.sampler.type: 'TripletSamplr' is not a sampler OpenGait defines; did you mean 'TripletSampler'?",
        "trainer_cfg.transform[0].trf_cfg[1].type: 'RandomHorizontalFlp' is not a transform OpenGait defines; "
        "did you mean 'RandomHorizontalFlip'?",
        "evaluator_cfg.sampler.batch_sise: InferenceSampler takes no argument 'batch_sise'; did you mean "
        "'batch_size'? (OpenGait would silently drop it)",
        "evaluator_cfg.eval_func: 'evaluate_indoor' is not an evaluator function OpenGait defines; "
        "did you mean 'evaluate_indoor_dataset'?",
        "optimizer_cfg.solver: 'Adamm' is not an optimizer in torch.optim; did you mean 'Adam'?",
        "scheduler_cfg.scheduler: 'MultiStepLr' is not a scheduler in torch.optim.lr_scheduler; "
        "did you mean 'MultiStepLR'?",
    ])


CONFIGS = sorted(p.relative_to(CONFIG_DIR) for p in CONFIG_DIR.rglob("*.yaml"))


@pytest.mark.parametrize("relative", CONFIGS, ids=lambda p: p.as_posix())
def test_every_config_uses_only_opengait_names_unless_it_is_marked_engine_only(relative):
    """Engine-only configs are marked by living under configs/synth/; every other one must run in OpenGait."""
    problems = config_problems(yaml.safe_load((CONFIG_DIR / relative).read_text()))
    if is_engine_only(relative):
        assert relative not in opengait_meant_configs(CONFIG_DIR)
    else:
        assert problems == [], f"{relative} uses names OpenGait lacks; move it under configs/synth/ if engine-only"
