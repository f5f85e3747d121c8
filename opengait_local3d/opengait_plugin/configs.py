"""Our OpenGait-meant configs, as install-plugin places them in a checkout.

Convention:
    * Meant for OpenGait: ``configs/3dlocal_*.yaml``, ``configs/gaitgl_local3d_*.yaml`` (GaitGL with 3D local
      paths, model ``GaitGLLocal3D``) and ``configs/ablations/*.yaml``; they are copied to
      ``<checkout>/configs/3dlocal/`` (ablations to ``configs/3dlocal/ablations/``). The paper's
      main configs (:data:`ROOT_CONFIGS`, Tables 1 and 2) are also copied to OpenGait's config root, so
      ``opengait/main.py --cfgs configs/3dlocal_casiab.yaml`` finds them there.
    * Engine-only: everything under ``configs/synth/`` (names OpenGait lacks, tiny synthetic
      settings); never copied. The baselines (``gaitset_casiab.yaml``, ``gaitpart_casiab.yaml``,
      ``gaitgl_*.yaml``) are not copied either: OpenGait has its own.
    * In the copy, ``data_cfg.dataset_partition`` points at OpenGait's own partition file with the
      same content (``./datasets/CASIA-B/CASIA-B.json``, relative to the checkout root, where
      OpenGait runs); ``dataset_root`` is left as written for the user to set; a header comment
      says how to run it. Nothing else changes, comments included.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from .checkout import PluginError
from .names import config_problems

INSTALL_DIR = Path("configs") / "3dlocal"
#: configs also placed at OpenGait's config root (``configs/<name>``): the paper's Table 1 and 2 models and the
#: first phases of their staged recipes
ROOT_CONFIGS = ("3dlocal_casiab.yaml", "3dlocal_casiab_phase1.yaml", "3dlocal_casiab_128.yaml", "3dlocal_oumvlp.yaml",
                "3dlocal_oumvlp_phase1.yaml")
OPENGAIT_CONFIG_PATTERNS = ("3dlocal_*.yaml", "gaitgl_local3d_*.yaml", "ablations/*.yaml")
ENGINE_ONLY_DIRS = ("synth",)

_HEADER = """\
# Installed by `opengait-local3d install-plugin` from opengait-local3d's configs/{source}.
# Set data_cfg.dataset_root to your pkl dataset, then, from the OpenGait checkout's root:
#   torchrun --nproc_per_node=NGPU opengait/main.py --cfgs {target} --phase train
#   torchrun --nproc_per_node=NGPU opengait/main.py --cfgs {target} --phase test
# OpenGait's test phase needs evaluator_cfg.sampler.batch_size == NGPU.
"""


def opengait_meant_configs(config_dir: Path) -> list[Path]:
    """Configs (relative to ``config_dir``) that install-plugin copies, sorted."""
    found = {path.relative_to(config_dir) for pattern in OPENGAIT_CONFIG_PATTERNS for path in config_dir.glob(pattern)}
    return sorted(found)


def is_engine_only(relative: Path) -> bool:
    """Whether a config (relative to ``configs/``) is for our engine only."""
    return relative.parts[0] in ENGINE_ONLY_DIRS


def installed_paths(relative: Path) -> list[Path]:
    """Where the config ``configs/<relative>`` goes, relative to the checkout root: ``configs/3dlocal/``, and
    ``configs/`` itself for :data:`ROOT_CONFIGS`."""
    return [INSTALL_DIR / relative] + ([Path("configs") / relative] if relative.as_posix() in ROOT_CONFIGS else [])


def _partition_key(path: Path) -> str | None:
    """A canonical form of a partition file's sets, or None if ``path`` is no partition file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not {"TRAIN_SET", "TEST_SET"} <= data.keys():
        return None
    return json.dumps({key: sorted(map(str, ids)) for key, ids in data.items()}, sort_keys=True)


def opengait_partitions(root: Path) -> dict[str, str]:
    """``{canonical content: './datasets/...json'}`` for every partition file of the checkout."""
    partitions = {}
    for path in sorted((root / "datasets").glob("**/*.json")):
        key = _partition_key(path)
        if key is not None:
            partitions.setdefault(key, "./" + path.relative_to(root).as_posix())
    return partitions


def _opengait_partition(value: str, source: Path, project_root: Path, root: Path, partitions: dict[str, str]) -> str:
    """OpenGait's partition file with the content of ours at ``value``."""
    ours = Path(value) if Path(value).is_absolute() else project_root / value
    if not ours.is_file():
        if (root / value).is_file():
            return value
        raise PluginError(f"{source}: data_cfg.dataset_partition {value!r} exists neither in {project_root} "
                          f"nor in the OpenGait checkout {root}")
    key = _partition_key(ours)
    if key is None:
        raise PluginError(f"{ours}: not a partition file (a JSON object with TRAIN_SET and TEST_SET)")
    if key not in partitions:
        raise PluginError(
            f"{source}: its partition {ours} matches none of OpenGait's partition files under {root / 'datasets'}; "
            "OpenGait would train and test on other subjects. Add that partition to the checkout first."
        )
    return partitions[key]


def _set_data_value(text: str, key: str, value: str, source: Path) -> str:
    """``text`` with ``data_cfg.<key>`` set to ``value``, keeping everything else (comments too)."""
    pattern = re.compile(rf"^(?P<indent>[ \t]+){re.escape(key)}:[ \t]*[^#\n]*?(?P<comment>[ \t]+#.*)?$", re.MULTILINE)
    matches = list(pattern.finditer(text))
    if len(matches) != 1:
        raise PluginError(f"{source}: expected one '{key}:' line, found {len(matches)}")
    match = matches[0]
    line = f"{match['indent']}{key}: {value}{match['comment'] or ''}"
    updated = text[: match.start()] + line + text[match.end():]
    expected = yaml.safe_load(text)
    expected["data_cfg"][key] = value
    if yaml.safe_load(updated) != expected:
        raise PluginError(f"{source}: could not set data_cfg.{key} without changing anything else")
    return updated


def translate_config(config_dir: Path, relative: Path, root: Path, partitions: dict[str, str], target: Path) -> str:
    """The text install-plugin writes for ``config_dir/relative`` at ``target`` of the checkout at ``root``.

    Raises:
        PluginError: the config uses a name OpenGait lacks (it would then belong under
            ``configs/synth/``), or its partition has no OpenGait counterpart.
    """
    source = config_dir / relative
    text = source.read_text(encoding="utf-8")
    cfgs = yaml.safe_load(text)
    if not isinstance(cfgs, dict):
        raise PluginError(f"{source}: expected a mapping of config sections")
    problems = config_problems(cfgs)
    if problems:
        raise PluginError(f"{source} is not runnable by OpenGait:\n  " + "\n  ".join(problems))
    partition = (cfgs.get("data_cfg") or {}).get("dataset_partition")
    if partition is not None:
        theirs = _opengait_partition(str(partition), source, config_dir.parent, root, partitions)
        text = _set_data_value(text, "dataset_partition", theirs, source)
    header = _HEADER.format(source=relative.as_posix(), target=target.as_posix())
    return header + text
