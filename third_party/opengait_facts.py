"""Regenerate what this package records about OpenGait at one commit, from an OpenGait git repository.

Two generated files, both read statically (``git show`` and :mod:`ast`; nothing of OpenGait is imported, so
its dependencies need not be installed, and a bare mirror works as well as a checkout)::

    python third_party/opengait_facts.py --opengait PATH [--commit REV]

* ``opengait_local3d/config/opengait_keys.py``: the config keys OpenGait's own configs use, per section,
  so that the engine loads OpenGait's yaml files (keys it does not implement are reported and ignored).
  Files without a ``model_cfg`` (e.g. pretreatment settings) are not engine configs and are skipped.
* ``opengait_local3d/config/opengait_names.json``: the names a config may use (models, losses,
  samplers, transforms, evaluator functions) with the arguments each accepts, for the plugin's config check.
  Arguments are ``null`` where a class inherits ``__init__`` from outside the files read.

The names file records the commit (``opengait_commit``), the one place it is written: the keys module, the tests
and ``third_party/make_golden.py`` read it from there. ``third_party/README.md`` says which one is pinned.
"""
from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

PACKAGE = Path(__file__).resolve().parent.parent / "opengait_local3d"
KEYS_MODULE = PACKAGE / "config" / "opengait_keys.py"
NAMES_FILE = PACKAGE / "config" / "opengait_names.json"
#: Sections whose own keys are recorded; the sampler and transform keys are recorded apart.
PLAIN_SECTIONS = ("data_cfg", "trainer_cfg", "evaluator_cfg", "loss_cfg", "optimizer_cfg", "scheduler_cfg")


class Repository:
    """The files of an OpenGait git repository at one commit."""

    def __init__(self, path: Path, commit: str = "HEAD"):
        self.path = path
        self.commit = self._git("rev-parse", f"{commit}^{{commit}}").strip()

    def _git(self, *args: str) -> str:
        result = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"{self.path}: git {' '.join(args)} failed ({result.stderr.strip()}); expected an OpenGait "
                     "git repository holding the commit")
        return result.stdout

    def files(self, folder: str, suffixes: tuple[str, ...]) -> list[str]:
        """Paths under ``folder`` (recursively) ending with one of ``suffixes``, sorted."""
        listing = self._git("ls-tree", "-r", "--name-only", self.commit, folder).split()
        return sorted(path for path in listing if path.endswith(suffixes))

    def read(self, path: str) -> str:
        return self._git("show", f"{self.commit}:{path}")


# ---- config keys ------------------------------------------------------------------------------------------


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


def read_configs(repo: Repository) -> tuple[list[tuple[str, dict]], list[str]]:
    """([(path, config)] of OpenGait's engine configs, skipped paths) at the repository's commit."""
    engine_configs, skipped = [], []
    for path in repo.files("configs", (".yaml", ".yml")):
        cfg = yaml.safe_load(repo.read(path))
        if isinstance(cfg, dict) and "model_cfg" in cfg:
            engine_configs.append((path, cfg))
        else:
            skipped.append(path)
    return engine_configs, skipped


def render_keys_module(keys: Mapping[str, set[str]], n_files: int, skipped: Sequence[str]) -> str:
    """The text of ``opengait_keys.py``."""
    lines = [
        '"""Config keys that OpenGait\'s own configs use (generated: do not edit).',
        "",
        "Regenerate with ``python third_party/opengait_facts.py --opengait PATH``.",
        f"Source: {n_files} engine configs under ``configs/`` at the pinned commit, :data:`OPENGAIT_COMMIT`; skipped",
        "(no model_cfg): " + ", ".join(f"``{path}``" for path in skipped) + ".",
        '"""',
        "",
        "import json",
        "from pathlib import Path",
        "",
        "#: the generated names file (``third_party/opengait_facts.py``), which records the pinned commit",
        'OPENGAIT_NAMES_FILE = Path(__file__).with_name("opengait_names.json")',
        "#: the OpenGait commit the plugin, these keys and names, and the golden fixtures are of",
        'OPENGAIT_COMMIT: str = json.loads(OPENGAIT_NAMES_FILE.read_text(encoding="utf-8"))["opengait_commit"]',
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


# ---- names and their arguments ----------------------------------------------------------------------------


def _arguments(function: ast.FunctionDef, skip: int) -> list[str]:
    """Keyword-passable argument names of ``function``, less the first ``skip`` positional ones."""
    positional = [a.arg for a in function.args.posonlyargs + function.args.args][skip:]
    return positional + [a.arg for a in function.args.kwonlyargs]


def _methods(node: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    return {item.name: item for item in node.body if isinstance(item, ast.FunctionDef)}


def _definitions(repo: Repository, files: list[str]) -> tuple[dict[str, ast.ClassDef], dict[str, ast.FunctionDef]]:
    """Top-level classes and functions defined in ``files``."""
    classes: dict[str, ast.ClassDef] = {}
    functions: dict[str, ast.FunctionDef] = {}
    for path in files:
        for node in ast.parse(repo.read(path), filename=path).body:
            if isinstance(node, ast.ClassDef):
                classes[node.name] = node
            elif isinstance(node, ast.FunctionDef):
                functions[node.name] = node
    return classes, functions


def _method_arguments(name: str, method: str, classes: dict[str, ast.ClassDef], skip: int) -> list[str] | None:
    """Arguments of ``name.method``, following base classes defined in the same files.

    ``[]`` for ``__init__`` of a class whose bases are all ``object``; ``None`` when the method comes
    from a class outside the files read.
    """
    node = classes[name]
    if method in _methods(node):
        return _arguments(_methods(node)[method], skip)
    bases = [base.id if isinstance(base, ast.Name) else ast.unparse(base) for base in node.bases]
    if method == "__init__" and all(base == "object" for base in bases):
        return []
    for base in bases:
        if base in classes:
            return _method_arguments(base, method, classes, skip)
    return None


def _callables(repo: Repository, files: list[str], skip_class: int, skip_function: int | None
               ) -> dict[str, list[str] | None]:
    """Each top-level class (its ``__init__`` arguments) and, unless ``skip_function`` is None, function."""
    classes, functions = _definitions(repo, files)
    found = {name: _method_arguments(name, "__init__", classes, skip_class) for name in classes}
    if skip_function is not None:
        found.update({name: _arguments(node, skip_function) for name, node in functions.items()})
    return dict(sorted(found.items()))


def _models(repo: Repository) -> list[str]:
    """Classes of the registry's modules that derive from ``BaseModel``, directly or through another model.

    Base classes may also come from ``modeling/multidataset_model.py``.
    """
    registry = repo.files("opengait/modeling/models", (".py",))
    classes, _ = _definitions(repo, registry + ["opengait/modeling/multidataset_model.py"])
    defined, _ = _definitions(repo, registry)

    def is_model(name: str, seen: frozenset[str] = frozenset()) -> bool:
        bases = [ast.unparse(base).split(".")[-1] for base in classes[name].bases]
        seen = seen | {name}  # a class may subclass an imported namesake: no cycles
        return "BaseModel" in bases or any(b in classes and b not in seen and is_model(b, seen) for b in bases)

    return sorted(name for name in defined if is_model(name))


def _collate_keys(repo: Repository) -> list[str]:
    """Keys ``CollateFn`` reads from the sampler config (``sample_config['k']`` or ``.get('k')``)."""
    keys = set()
    for node in ast.walk(ast.parse(repo.read("opengait/data/collate_fn.py"))):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "sample_config":
            keys.add(ast.literal_eval(node.slice))
        elif isinstance(node, ast.Call) and ast.unparse(node.func) == "sample_config.get":
            keys.add(ast.literal_eval(node.args[0]))
    return sorted(keys)


def _losses(repo: Repository) -> dict[str, dict[str, list[str] | None]]:
    classes, _ = _definitions(repo, repo.files("opengait/modeling/losses", (".py",)))
    return {
        name: {
            "init": _method_arguments(name, "__init__", classes, skip=1),
            "forward": _method_arguments(name, "forward", classes, skip=1),
        }
        for name in sorted(classes)
    }


def collect_names(repo: Repository) -> dict:
    """Everything ``opengait_names.json`` holds, read at the repository's commit."""
    return {
        "opengait_commit": repo.commit,
        "generated_by": "third_party/opengait_facts.py",
        "models": _models(repo),
        "losses": _losses(repo),
        # OpenGait builds samplers as Sampler(dataset, **args): dataset is not a config key.
        "samplers": _callables(repo, ["opengait/data/sampler.py"], skip_class=2, skip_function=None),
        "collate_keys": _collate_keys(repo),
        "transforms": _callables(repo, ["opengait/data/transform.py"], skip_class=1, skip_function=0),
        # Evaluator functions are called as eval_func(data, dataset, **args).
        "evaluators": _callables(repo, ["opengait/evaluation/evaluator.py"], skip_class=1, skip_function=2),
    }


def render_names(repo: Repository) -> str:
    """The text of ``opengait_names.json``."""
    return json.dumps(collect_names(repo), indent=1) + "\n"


def render_keys(repo: Repository) -> str:
    """The text of ``opengait_keys.py``."""
    configs, skipped = read_configs(repo)
    return render_keys_module(collect_keys(cfg for _, cfg in configs), len(configs), skipped)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opengait", type=Path, required=True, help="an OpenGait git repository (checkout or mirror)")
    parser.add_argument("--commit", default="HEAD", help="the commit to read (default: HEAD)")
    args = parser.parse_args(argv)
    repo = Repository(args.opengait, args.commit)
    for path, text in ((KEYS_MODULE, render_keys(repo)), (NAMES_FILE, render_names(repo))):
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
        print(f"wrote {path} ({repo.commit})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
