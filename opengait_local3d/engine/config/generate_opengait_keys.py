"""Regenerate :mod:`opengait_keys` from an OpenGait git repository (a checkout or a bare mirror).

The engine accepts every config key that OpenGait's own configs use, so that OpenGait's yaml files load
(keys this engine does not implement are reported and ignored). This script records those keys::

    python -m opengait_local3d.engine.config.generate_opengait_keys --opengait PATH [--commit REV]

It reads ``configs/**/*.yaml`` at the commit with ``git`` and rewrites ``opengait_keys.py`` atomically.
Files without a ``model_cfg`` (e.g. pretreatment settings) are not engine configs and are skipped.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from ..atomic import atomic_write

OUTPUT = Path(__file__).with_name("opengait_keys.py")
#: Sections whose own keys are recorded; the sampler and transform keys are recorded apart.
PLAIN_SECTIONS = ("data_cfg", "trainer_cfg", "evaluator_cfg", "loss_cfg", "optimizer_cfg", "scheduler_cfg")


def collect_keys(configs: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Union of the keys per section over ``configs``.

    Sections: ``""`` (top level), the plain sections, ``"sampler"`` (trainer and evaluator samplers) and
    ``"transform"`` (every transform entry, nested ``trf_cfg`` entries included).
    """
    keys: dict[str, set[str]] = defaultdict(set)
    for cfg in configs:
        keys[""] |= set(cfg)
        for section in PLAIN_SECTIONS:
            for entry in _entries(cfg.get(section)):
                keys[section] |= set(entry)
        for engine in ("trainer_cfg", "evaluator_cfg"):
            section = cfg.get(engine) or {}
            if not isinstance(section, Mapping):
                continue
            for sampler in _entries(section.get("sampler")):
                keys["sampler"] |= set(sampler)
            for transform in _transform_entries(section.get("transform")):
                keys["transform"] |= set(transform)
    return dict(keys)


def _entries(value: Any) -> list[Mapping[str, Any]]:
    """A section given as a dict or a list of dicts, as a list of dicts."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, Mapping)]


def _transform_entries(value: Any) -> list[Mapping[str, Any]]:
    """Every transform dict in a transform config, descending into lists and ``trf_cfg``."""
    if isinstance(value, Mapping):
        return [value, *_transform_entries(value.get("trf_cfg"))]
    if isinstance(value, list):
        return [entry for item in value for entry in _transform_entries(item)]
    return []


def read_configs(repo: Path, commit: str) -> tuple[str, list[tuple[str, dict]], list[str]]:
    """Return (full commit hash, [(path, config)] of engine configs, skipped paths) at ``commit``."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                              text=True).stdout

    full = git("rev-parse", f"{commit}^{{commit}}").strip()
    paths = sorted(p for p in git("ls-tree", "-r", "--name-only", full, "configs").split()
                   if p.endswith((".yaml", ".yml")))
    engine_configs, skipped = [], []
    for path in paths:
        cfg = yaml.safe_load(git("show", f"{full}:{path}"))
        if isinstance(cfg, dict) and "model_cfg" in cfg:
            engine_configs.append((path, cfg))
        else:
            skipped.append(path)
    return full, engine_configs, skipped


def render_module(keys: Mapping[str, set[str]], commit: str, n_files: int, skipped: Sequence[str]) -> str:
    """The text of ``opengait_keys.py``."""
    lines = [
        '"""Config keys that OpenGait\'s own configs use (generated: do not edit).',
        "",
        "Regenerate with ``python -m opengait_local3d.engine.config.generate_opengait_keys --opengait PATH``.",
        f"Source: {n_files} engine configs under ``configs/`` at the commit below; skipped (no model_cfg):",
        *(f"``{path}``" + ("," if i < len(skipped) - 1 else ".") for i, path in enumerate(skipped)),
        '"""',
        "",
        f'OPENGAIT_COMMIT = "{commit}"',
        "",
        "#: section (\"\" = top level, \"sampler\", \"transform\") -> keys used there",
        "OPENGAIT_KEYS: dict[str, frozenset[str]] = {",
    ]
    for section in sorted(keys):
        lines.append(f'    "{section}": frozenset({{')
        lines.extend(f'        "{key}",' for key in sorted(keys[section]))
        lines.append("    }),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opengait", type=Path, required=True, help="OpenGait git checkout or bare mirror")
    parser.add_argument("--commit", default="HEAD", help="commit to read (default: HEAD)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"module to write (default: {OUTPUT})")
    args = parser.parse_args(argv)
    commit, configs, skipped = read_configs(args.opengait, args.commit)
    keys = collect_keys(cfg for _, cfg in configs)
    with atomic_write(args.output, "w") as handle:
        handle.write(render_module(keys, commit, len(configs), skipped))
    print(f"{args.output}: keys of {len(configs)} configs at {commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
