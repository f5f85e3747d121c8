"""Regenerate ``opengait_local3d/opengait_plugin/opengait_names.json`` from an OpenGait checkout.

The file lists the names an OpenGait config may use at the checkout's commit (models, losses,
samplers, transforms, evaluator functions) and the arguments each accepts. It is read statically,
with :mod:`ast`, so OpenGait's own dependencies need not be installed::

    git clone https://github.com/ShiqiYu/OpenGait /tmp/OpenGait
    python third_party/make_opengait_names.py --opengait /tmp/OpenGait

Arguments are ``null`` where a class inherits ``__init__`` from outside the files read.
"""
from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "opengait_local3d" / "opengait_plugin" / "opengait_names.json"


def _arguments(function: ast.FunctionDef, skip: int) -> list[str]:
    """Keyword-passable argument names of ``function``, less the first ``skip`` positional ones."""
    positional = [a.arg for a in function.args.posonlyargs + function.args.args][skip:]
    return positional + [a.arg for a in function.args.kwonlyargs]


def _methods(node: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    return {item.name: item for item in node.body if isinstance(item, ast.FunctionDef)}


def _definitions(files: list[Path]) -> tuple[dict[str, ast.ClassDef], dict[str, ast.FunctionDef]]:
    """Top-level classes and functions defined in ``files``."""
    classes: dict[str, ast.ClassDef] = {}
    functions: dict[str, ast.FunctionDef] = {}
    for path in files:
        for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
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


def _callables(files: list[Path], skip_class: int, skip_function: int | None) -> dict[str, list[str] | None]:
    """Each top-level class (its ``__init__`` arguments) and, unless ``skip_function`` is None, function."""
    classes, functions = _definitions(files)
    found = {name: _method_arguments(name, "__init__", classes, skip_class) for name in classes}
    if skip_function is not None:
        found.update({name: _arguments(node, skip_function) for name, node in functions.items()})
    return dict(sorted(found.items()))


def _models(modeling: Path) -> list[str]:
    """Classes of the registry's modules that derive from ``BaseModel``, directly or through another model.

    Base classes may also come from ``modeling/multidataset_model.py``.
    """
    registry = sorted((modeling / "models").glob("*.py"))
    classes, _ = _definitions(registry + [modeling / "multidataset_model.py"])
    defined, _ = _definitions(registry)

    def is_model(name: str, seen: frozenset[str] = frozenset()) -> bool:
        bases = [ast.unparse(base).split(".")[-1] for base in classes[name].bases]
        seen = seen | {name}  # a class may subclass an imported namesake: no cycles
        return "BaseModel" in bases or any(b in classes and b not in seen and is_model(b, seen) for b in bases)

    return sorted(name for name in defined if is_model(name))


def _collate_keys(path: Path) -> list[str]:
    """Keys ``CollateFn`` reads from the sampler config (``sample_config['k']`` or ``.get('k')``)."""
    keys = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "sample_config":
            keys.add(ast.literal_eval(node.slice))
        elif isinstance(node, ast.Call) and ast.unparse(node.func) == "sample_config.get":
            keys.add(ast.literal_eval(node.args[0]))
    return sorted(keys)


def _losses(folder: Path) -> dict[str, dict[str, list[str] | None]]:
    classes, _ = _definitions(sorted(folder.glob("*.py")))
    return {
        name: {
            "init": _method_arguments(name, "__init__", classes, skip=1),
            "forward": _method_arguments(name, "forward", classes, skip=1),
        }
        for name in sorted(classes)
    }


def _commit(root: Path) -> str:
    result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{root}: not a git checkout ({result.stderr.strip()}); the commit must be recorded")
    return result.stdout.strip()


def collect(root: Path, commit: str) -> dict:
    """Everything the data file holds, read from the OpenGait source tree at ``root`` (of ``commit``)."""
    source = root / "opengait"
    return {
        "opengait_commit": commit,
        "generated_by": "third_party/make_opengait_names.py",
        "models": _models(source / "modeling"),
        "losses": _losses(source / "modeling" / "losses"),
        # OpenGait builds samplers as Sampler(dataset, **args): dataset is not a config key.
        "samplers": _callables([source / "data" / "sampler.py"], skip_class=2, skip_function=None),
        "collate_keys": _collate_keys(source / "data" / "collate_fn.py"),
        "transforms": _callables([source / "data" / "transform.py"], skip_class=1, skip_function=0),
        # Evaluator functions are called as eval_func(data, dataset, **args).
        "evaluators": _callables([source / "evaluation" / "evaluator.py"], skip_class=1, skip_function=2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opengait", type=Path, required=True, help="an OpenGait checkout (a work tree)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"where to write (default: {OUTPUT})")
    args = parser.parse_args()
    if not (args.opengait / "opengait" / "modeling" / "models").is_dir():
        parser.error(f"--opengait {args.opengait}: no opengait/modeling/models/ there; not an OpenGait checkout")
    text = json.dumps(collect(args.opengait, _commit(args.opengait)), indent=1) + "\n"
    temporary = args.output.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
