"""Golden outputs of OpenGait's own networks and evaluator, written as small fixtures for the tests.

The tests in ``tests/test_golden_opengait.py`` run this project's GaitSet, GaitPart and GaitGL, and its
evaluator, on the same weights and inputs and compare with what OpenGait computed, without OpenGait installed.
This script produces those fixtures from an OpenGait checkout at the pinned commit (see ``README.md`` here)::

    python third_party/make_golden.py --opengait /path/to/OpenGait           # writes tests/data/golden_*.npz
    python third_party/make_golden.py --opengait /path/to/OpenGait --check   # compares instead of writing

It needs a Python with torch, numpy, this package and OpenGait's imports (torchvision, einops, opencv,
tensorboard); OpenGait's model registry is not imported, so the requirements of its other models are not.
It runs on CPU: OpenGait's ``.cuda()`` calls become no-ops for the run (patches of torch made at run time,
as ``opengait_smoke.py`` does; no OpenGait file is changed or copied).

What it writes (``np.savez_compressed``, no pickled objects):

* ``golden_opengait_<model>.npz`` for each of :data:`GOLDEN_MODELS`: the OpenGait config the network was
  built from (``config``, JSON: the whole file, so the config tests can load it too), ``weights`` (JSON: one
  entry per floating-point ``state_dict`` entry of OpenGait's network, ``{"key", "shape", "seed", "low",
  "high"}``; the values are ``numpy.random.RandomState(seed).uniform(low, high, shape)`` cast to float32,
  RandomState's stream being frozen by numpy's compatibility policy), the input ``sils`` (uint8
  ``[2, 10, 64, 44]``, fed as ``float32(sils) / 255``), and OpenGait's inference embeddings in eval mode for
  the fixed-length batch (``embeddings_fixed``) and for the same silhouettes packed as OpenGait's test
  loader packs variable-length sequences, ``[1, 10 + 7, 64, 44]`` with ``seqL = [[10, 7]]``
  (``embeddings_packed``; sequence 1 keeps its first 7 frames). GaitGL's are each sequence run alone
  (:data:`ONE_SEQUENCE_AT_TEST`).
  The weights are generated rather than stored: OpenGait's CASIA-B GaitSet alone holds 2.6 M parameters.
* ``golden_opengait_evaluator.npz``: fixed random test-set features (CASIA-B-shaped and OU-MVLP-shaped) and,
  for each evaluation case, OpenGait's ``evaluate_indoor_dataset`` result (``result_<case>``, JSON), its
  per-cell rank-1 tables as OpenGait rounds them (``cells_<case>``, ``[condition, probe view, gallery view]``,
  single-view cases) and, for the cross-view case, its unrounded per-view rank-1 and mAP
  (``per_view_<case>``, ``[condition, view, (rank-1, mAP)]``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import types
import zlib
from pathlib import Path

import numpy as np

from opengait_local3d.config.opengait_keys import OPENGAIT_COMMIT as PINNED_COMMIT

DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data"
#: model -> (module of opengait/modeling/models, OpenGait config building it); outputs are taken in eval mode.
GOLDEN_MODELS = {
    "GaitSet": ("gaitset", "configs/gaitset/gaitset.yaml"),
    "GaitPart": ("gaitpart", "configs/gaitpart/gaitpart.yaml"),
    "GaitGL": ("gaitgl", "configs/gaitgl/gaitgl.yaml"),
}
#: models whose OpenGait forward takes one sequence per call at test time and ignores ``seqL`` there (GaitGL
#: raises on a batch of more than one): their golden outputs are each sequence run alone, at its full length
#: (``embeddings_fixed``) and at its packed length (``embeddings_packed``), which is what packing must give.
ONE_SEQUENCE_AT_TEST = {"GaitGL"}
WEIGHT_SEED = 20210814  # any fixed number; each tensor's seed is this plus the CRC-32 of its key
SEQUENCES, FRAMES, PACKED_LENGTHS = 2, 10, (10, 7)
#: evaluation cases: name -> (features, dataset, metric, cross_view_gallery)
EVALUATION_CASES = {
    "casiab_euc": ("casiab", "CASIA-B", "euc", False),
    "casiab_cos": ("casiab", "CASIA-B", "cos", False),
    "casiab_cross_view_euc": ("casiab", "CASIA-B", "euc", True),
    "oumvlp_euc": ("oumvlp", "OUMVLP", "euc", False),
}


# ---- inputs and weights: OpenGait-independent, deterministic ---------------------------------------------

def weight_entry(key: str, shape: tuple[int, ...]) -> dict:
    """The generation rule of one ``state_dict`` tensor: Xavier-uniform bounds from torch's fans for weights
    (so activations keep a sensible scale through the layers), ``[0.5, 1.5]`` for BatchNorm scales and
    running variances, ``[5.5, 7.5]`` for GeM exponents, ``[-0.5, 0.5]`` for other vectors (biases, running
    means)."""
    if len(shape) >= 2:
        receptive = int(np.prod(shape[2:], dtype=np.int64))
        bound = float(np.sqrt(6.0 / (shape[1] * receptive + shape[0] * receptive)))
        low, high = -bound, bound
    elif key.endswith(("running_var", "weight")):
        low, high = 0.5, 1.5
    elif key.endswith(".p"):  # a GeM exponent: near OpenGait's initial 6.5 (a p near 0 is ill-conditioned)
        low, high = 5.5, 7.5
    else:
        low, high = -0.5, 0.5
    return {"key": key, "shape": list(shape), "seed": WEIGHT_SEED + zlib.crc32(key.encode()), "low": low, "high": high}


def generate(entry: dict) -> np.ndarray:
    """The float32 values an entry of ``weights`` describes."""
    return np.random.RandomState(entry["seed"]).uniform(entry["low"], entry["high"], entry["shape"]).astype(np.float32)


def walking_silhouettes(sequences: int = SEQUENCES, frames: int = FRAMES, height: int = 64, width: int = 44,
                        seed: int = 0) -> np.ndarray:
    """uint8 ``[sequences, frames, height, width]``: a head, a torso and two swinging legs per frame, drawn at
    2x2 supersampling so that the edges are grey, each sequence with its own phase, build and drift; no two
    frames of a sequence are alike (the legs differ and the gait period is not a divisor of the clip)."""
    rng = np.random.RandomState(seed)
    ys, xs = np.mgrid[0:2 * height, 0:2 * width] / 2.0 + 0.25
    out = np.zeros((sequences, frames, height, width))
    for n in range(sequences):
        phase, build, drift = rng.uniform(0, 2 * np.pi), rng.uniform(0.8, 1.2), rng.uniform(-0.4, 0.4)
        for t in range(frames):
            angle, cx = phase + 2 * np.pi * t / 13, 22 + drift * t
            mask = (((xs - cx) / 4) ** 2 + ((ys - 8 - np.cos(2 * angle)) / 5) ** 2 <= 1) \
                | (((xs - cx) / (7 * build)) ** 2 + ((ys - 24) / 12) ** 2 <= 1)
            for foot in (cx + 8 * np.sin(angle), cx - 6 * np.sin(angle)):  # points within 3 px of hip-foot
                s = np.clip(((xs - cx) * (foot - cx) + (ys - 34) * 28) / ((foot - cx) ** 2 + 28 ** 2), 0, 1)
                mask |= (xs - cx - s * (foot - cx)) ** 2 + (ys - 34 - s * 28) ** 2 <= 9
            out[n, t] = mask.reshape(height, 2, width, 2).mean((1, 3))
    return np.round(out * 255).astype(np.uint8)


def test_set(kind: str, seed: int) -> dict:
    """Complete test sets (every subject, type and view present, as OpenGait's evaluator needs): clustered
    random features ``[N, 8, 3]`` float32 with 7 subjects, so that a cell has 14 (CASIA-B) or 7 (OU-MVLP)
    probes and its rank-1 needs rounding."""
    rng = np.random.RandomState(seed)
    if kind == "casiab":
        kinds = [f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"]
        views = ["000", "054", "090"]
    else:
        kinds, views = ["00", "01"], ["000", "030", "090", "180"]
    subjects = [f"{i:03d}" for i in range(1, 8)]
    rows = [(s, k, v) for s in subjects for k in kinds for v in views]
    centre = {s: rng.normal(size=(8, 3)) for s in subjects}
    shift = {v: rng.normal(size=(8, 3)) * 0.6 for v in views}
    features = np.stack([centre[s] + shift[v] + rng.normal(size=(8, 3)) for s, _, v in rows]).astype(np.float32)
    return {"embeddings": features, "labels": [r[0] for r in rows], "types": [r[1] for r in rows],
            "views": [r[2] for r in rows]}


# ---- OpenGait, on CPU ---------------------------------------------------------------------------------------

def import_opengait(root: Path, workdir: Path) -> None:
    """Make OpenGait's packages importable on CPU, without its model registry (which imports every model)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from opengait_smoke import import_torchvision, run_cuda_code_on_cpu  # this folder's CPU patches

    import torch
    run_cuda_code_on_cpu()
    import_torchvision()
    sys.path.insert(0, str(root / "opengait"))
    if not torch.distributed.is_initialized():  # OpenGait's message manager asks for the rank
        torch.distributed.init_process_group("gloo", init_method=f"file://{workdir / 'process_group'}",
                                             rank=0, world_size=1)
    registry = types.ModuleType("modeling.models")  # the package, without its __init__ importing every model
    registry.__path__ = [str(root / "opengait" / "modeling" / "models")]
    sys.modules["modeling.models"] = registry
    from utils import get_msg_mgr
    get_msg_mgr().init_logger(str(workdir), False)


def embed(network, ipts: list, labels, seqL=None):
    """OpenGait's inference embeddings of one batch: ``ipts = [sils [n, s, h, w]]`` -> ``[n, c, p]``."""
    return network((ipts, labels, None, None, seqL))["inference_feat"]["embeddings"]


def golden_network(root: Path, model: str) -> dict[str, np.ndarray]:
    """OpenGait's ``model`` built by its own ``build_network`` from its config, with generated weights, and its
    embeddings of the fixed and packed inputs."""
    import importlib

    import torch
    import yaml
    from torch import nn

    module, config = GOLDEN_MODELS[model]
    cfgs = yaml.safe_load((root / config).read_text())
    network_class = getattr(importlib.import_module(f"modeling.models.{module}"), model)
    # OpenGait's BaseModel.__init__ builds loaders, optimizer and logger from a dataset; of the network it
    # only calls build_network(model_cfg) and init_parameters(), whose values the generated weights replace.
    network = network_class.__new__(network_class)
    nn.Module.__init__(network)
    network.cfgs = cfgs  # GaitGL picks its layout by data_cfg.dataset_name
    network.build_network(cfgs["model_cfg"])
    state = network.state_dict()
    weights = [weight_entry(key, tuple(value.shape)) for key, value in state.items() if value.is_floating_point()]
    network.load_state_dict({**state, **{e["key"]: torch.from_numpy(generate(e)) for e in weights}})
    network.eval()

    sils = walking_silhouettes()
    frames = torch.from_numpy(sils.astype(np.float32) / np.float32(255))
    labels = torch.arange(SEQUENCES)
    packed = torch.cat([frames[i, :length] for i, length in enumerate(PACKED_LENGTHS)])[None]
    seqL = torch.tensor([PACKED_LENGTHS])
    with torch.no_grad():
        if model in ONE_SEQUENCE_AT_TEST:
            def each_alone(lengths):  # sequence i cut to lengths[i], one call each
                return torch.cat([embed(network, [frames[i:i + 1, :n]], labels[:1]) for i, n in enumerate(lengths)])
            fixed, packed_out = each_alone([FRAMES] * SEQUENCES), each_alone(PACKED_LENGTHS)
        else:
            fixed = embed(network, [frames], labels)
            packed_out = embed(network, [packed], labels, seqL)
    return {"opengait_commit": np.array(PINNED_COMMIT), "config": np.array(json.dumps(cfgs)),
            "weights": np.array(json.dumps(weights)), "sils": sils,
            "packed_lengths": np.array(PACKED_LENGTHS), "embeddings_fixed": fixed.numpy(),
            "embeddings_packed": packed_out.numpy()}


def golden_evaluator() -> dict[str, np.ndarray]:
    """OpenGait's ``evaluate_indoor_dataset`` on fixed features, with the per-cell tables it computes inside."""
    from evaluation import evaluator

    sets = {"casiab": test_set("casiab", seed=1), "oumvlp": test_set("oumvlp", seed=2)}
    out: dict[str, np.ndarray] = {"opengait_commit": np.array(PINNED_COMMIT)}
    for kind, data in sets.items():
        for field in ("embeddings", "labels", "types", "views"):
            out[f"{kind}_{field}"] = np.asarray(data[field])
    de_diag, compute = evaluator.de_diag, evaluator.compute_ACC_mAP
    for case, (kind, dataset, metric, cross_view) in EVALUATION_CASES.items():
        cells, per_view = [], []

        def record_cells(acc, each_angle=False):  # called with each condition's rounded [V, V] table
            cells.append(np.array(acc))
            return de_diag(acc, each_angle)

        def record_per_view(*args, **kwargs):  # called per (condition, probe view): (rank-1, mAP), unrounded
            result = compute(*args, **kwargs)
            per_view.append(result[:2])
            return result

        evaluator.de_diag, evaluator.compute_ACC_mAP = record_cells, record_per_view
        try:
            result = evaluator.evaluate_indoor_dataset(dict(sets[kind]), dataset, metric=metric,
                                                       cross_view_gallery=cross_view)
        finally:
            evaluator.de_diag, evaluator.compute_ACC_mAP = de_diag, compute
        out[f"result_{case}"] = np.array(json.dumps({k: float(v) for k, v in result.items()}))
        if cross_view:
            out[f"per_view_{case}"] = np.array(per_view, dtype=np.float64).reshape(-1, len(set(sets[kind]["views"])), 2)
        else:
            out[f"cells_{case}"] = np.stack(cells)
    return out


# ---- main ---------------------------------------------------------------------------------------------------

def checkout_commit(root: Path) -> str | None:
    """The commit checked out at ``root`` if it is a git work tree, else ``None``."""
    result = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def compare(path: Path, new: dict[str, np.ndarray]) -> list[str]:
    """Differences between the fixture at ``path`` and ``new``: exact, except floating-point arrays, which
    may differ by float32 rounding on another machine (relative 1e-5)."""
    if not path.is_file():
        return [f"{path.name}: missing"]
    with np.load(path) as old:
        if set(old.files) != set(new):
            return [f"{path.name}: entries {sorted(old.files)} != {sorted(new)}"]
        return [f"{path.name}: {key} differs" for key in new
                if not (np.allclose(old[key], new[key], rtol=1e-5, atol=1e-7) if new[key].dtype.kind == "f"
                        else np.array_equal(old[key], new[key]))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opengait", metavar="PATH", default=os.environ.get("OPENGAIT_ROOT"),
                        help="OpenGait source at the pinned commit: the folder holding opengait/ and configs/ "
                             "(default: $OPENGAIT_ROOT)")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="where the fixtures go (default: tests/data)")
    parser.add_argument("--check", action="store_true", help="compare with the fixtures there instead of writing")
    args = parser.parse_args(argv)
    if not args.opengait or not (Path(args.opengait) / "opengait" / "main.py").is_file():
        parser.error("pass --opengait PATH (or set OPENGAIT_ROOT) to an OpenGait source tree")
    root = Path(args.opengait).resolve()
    commit = checkout_commit(root)
    if commit not in (None, PINNED_COMMIT):
        parser.error(f"{root} is at commit {commit}, not the pinned {PINNED_COMMIT}")

    with tempfile.TemporaryDirectory(prefix="make_golden_") as workdir:
        import_opengait(root, Path(workdir))
        fixtures = {f"golden_opengait_{model.lower()}.npz": golden_network(root, model) for model in GOLDEN_MODELS}
        fixtures["golden_opengait_evaluator.npz"] = golden_evaluator()
    problems = []
    for name, arrays in fixtures.items():
        path = args.out / name
        if args.check:
            problems += compare(path, arrays)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, **arrays)
            print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.check and not problems:
        print(f"the fixtures in {args.out} are what OpenGait {PINNED_COMMIT[:10]} computes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
