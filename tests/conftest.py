"""Shared fixtures: tiny datasets in OpenGait's pkl layout (``root/<id>/<type>/<view>/<name>.pkl``), and the
markers of tests that need what a machine may lack: ``needs_opengait`` (OpenGait's own source) and ``needs_cuda``
(a GPU).

OpenGait is found only through ``$OPENGAIT_ROOT``: a git repository (a checkout or a bare mirror) that holds
the pinned commit; a GPU is whatever ``torch.cuda.is_available()`` finds. Without it, the marked tests are skipped
with that reason, each has a twin that checks the same thing here (against data stored in this repository, or on
CPU; ``twin=`` names it; ``test_skips.py`` checks that the twin exists), and the run ends with a line counting the
skipped tests.
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
import torch

from opengait_local3d.config.opengait_keys import OPENGAIT_COMMIT
from opengait_local3d.engine import load_config

NEEDS_OPENGAIT = "needs_opengait"
NEEDS_CUDA = "needs_cuda"


@lru_cache(maxsize=1)
def opengait_repository() -> Path | None:
    """``$OPENGAIT_ROOT`` if it is a git repository holding :data:`OPENGAIT_COMMIT`, else ``None``."""
    root = os.environ.get("OPENGAIT_ROOT")
    if not root or not Path(root).is_dir():
        return None
    found = subprocess.run(["git", "-C", root, "cat-file", "-e", f"{OPENGAIT_COMMIT}^{{commit}}"], capture_output=True)
    return Path(root) if found.returncode == 0 else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skips = {}
    if opengait_repository() is None:
        skips[NEEDS_OPENGAIT] = pytest.mark.skip(
            reason=f"{NEEDS_OPENGAIT}: $OPENGAIT_ROOT is unset or not a git repository holding OpenGait commit "
                   f"{OPENGAIT_COMMIT[:10]}")
    if not torch.cuda.is_available():
        skips[NEEDS_CUDA] = pytest.mark.skip(reason=f"{NEEDS_CUDA}: torch sees no CUDA device")
    for item in items:
        for marker, skip in skips.items():
            if item.get_closest_marker(marker):
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    opengait = sum(NEEDS_OPENGAIT in report.keywords for report in skipped)
    cuda = sum(NEEDS_CUDA in report.keywords for report in skipped)
    terminalreporter.write_line(f"skipped: {opengait} marked {NEEDS_OPENGAIT} (each with a golden-fixture twin), "
                                f"{cuda} marked {NEEDS_CUDA} (each with a CPU twin), "
                                f"{len(skipped) - opengait - cuda} other")


@pytest.fixture(scope="session")
def opengait_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OpenGait's ``opengait/``, ``configs/`` and ``datasets/`` at the pinned commit, extracted from
    ``$OPENGAIT_ROOT`` into a temporary folder (whatever the repository's own checkout holds)."""
    repository = opengait_repository()
    assert repository is not None, f"only for tests marked {NEEDS_OPENGAIT}"
    target = tmp_path_factory.mktemp("opengait")
    archive = subprocess.run(["git", "-C", str(repository), "archive", OPENGAIT_COMMIT, "opengait", "configs",
                              "datasets"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


CASIA_B_TYPES = ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "bg-02", "cl-01", "cl-02")


def make_silhouettes(rng: np.random.Generator, frames: int, height: int, width: int, subject: int) -> np.ndarray:
    """A uint8 ``[frames, height, width]`` sequence (0/255): an ellipse whose width depends on ``subject``
    and whose centre sways over time, plus a few flipped pixels of noise."""
    yy, xx = np.mgrid[0:height, 0:width]
    t = np.arange(frames)[:, None, None]
    cx = width / 2 + 0.15 * width * np.sin(2 * np.pi * t / 6 + rng.uniform(0, 2 * np.pi))
    rx, ry = width * (0.12 + 0.04 * (subject % 5)), height * 0.4
    inside = ((xx - cx) / rx) ** 2 + ((yy - height / 2) / ry) ** 2 <= 1
    noise = rng.random(inside.shape) < 0.02
    return ((inside ^ noise) * 255).astype(np.uint8)


def write_pkl(path: Path, array: object) -> Path:
    """Pickle ``array`` to ``path`` (creating folders), as OpenGait's pretreatment does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(array, handle)
    return path


def write_pkl_dataset(root: Path, ids: Sequence[str], types: Sequence[str] = CASIA_B_TYPES,
                      views: Sequence[str] = ("000", "090"), frames: tuple[int, int] = (8, 12),
                      size: tuple[int, int] = (16, 16), seed: int = 0) -> Path:
    """Write one sequence per (id, type, view) with a random length in ``frames`` (inclusive)."""
    rng = np.random.default_rng(seed)
    for subject, label in enumerate(ids):
        for typ in types:
            for view in views:
                length = int(rng.integers(frames[0], frames[1] + 1))
                sils = make_silhouettes(rng, length, size[0], size[1], subject)
                write_pkl(root / label / typ / view / f"{view}.pkl", sils)
    return root


def write_partition(path: Path, train_ids: Sequence[str], test_ids: Sequence[str]) -> Path:
    """Write OpenGait's partition JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"TRAIN_SET": list(train_ids), "TEST_SET": list(test_ids)}))
    return path


@dataclass(frozen=True)
class TinyDataset:
    root: Path
    partition: Path
    train_ids: tuple[str, ...]
    test_ids: tuple[str, ...]


@pytest.fixture(scope="session")
def tiny_casiab(tmp_path_factory: pytest.TempPathFactory) -> TinyDataset:
    """CASIA-B's structure in miniature: 4 training and 3 test ids, all 10 types, 2 views, 8-12 frames of
    16 x 16. Read-only: tests that damage data make their own copy."""
    base = tmp_path_factory.mktemp("tiny_casiab")
    train_ids, test_ids = ("001", "002", "003", "004"), ("005", "006", "007")
    root = write_pkl_dataset(base / "data", train_ids + test_ids)
    partition = write_partition(base / "partition.json", train_ids, test_ids)
    return TinyDataset(root, partition, train_ids, test_ids)


#: tiny ``model_cfg`` of each network for 16 x 16 frames (two 2x2 poolings leave 4 x 4) and 4 training ids
TINY_MODEL_CFGS = {
    "GaitSet": {"model": "GaitSet", "in_channels": [1, 4, 4, 8], "bin_num": [4, 2, 1],
                "SeparateFCs": {"in_channels": 8, "out_channels": 4, "parts_num": 14}},
    "GaitPart": {"model": "GaitPart", "bin_num": [4],
                 "backbone_cfg": {"type": "Plain", "in_channels": 1,
                                  "layers_cfg": ["BC-4", "BC-4", "M", "FC-4-1", "FC-4-1", "M", "FC-8-1", "FC-8-1"]},
                 "SeparateFCs": {"in_channels": 8, "out_channels": 4, "parts_num": 4}},
    "Local3DCNN": {"model": "Local3DCNN", "channels": [2, 2, 4, 4, 4, 4], "focal_halving": [0, 1, 1], "bin_num": [4], "part_dim": 4,
                   "compact_dim": 8, "dropout": 0.5, "class_num": 4},
    "GaitGLLocal3D": {"model": "GaitGLLocal3D", "channels": [2, 4, 4], "bin_num": [4], "class_num": 4,
                      "local3d": {"localization_width": 4}},
}
TRIPLET_LOSS = {"type": "TripletLoss", "margin": 0.2, "log_prefix": "triplet"}


def tiny_engine_config(dataset: TinyDataset, model: str, output_root: Path, **sections: dict) -> dict:
    """An engine config for a few fast iterations of ``model`` on ``dataset``; ``sections`` are merged over
    it (a section's dict merges key by key)."""
    cfg = {
        "data_cfg": {"dataset_name": "CASIA-B", "dataset_root": str(dataset.root),
                     "dataset_partition": str(dataset.partition), "num_workers": 0},
        "model_cfg": TINY_MODEL_CFGS[model],
        "trainer_cfg": {"total_iter": 4, "save_iter": 2, "log_iter": 1, "save_name": "tiny",
                        "sampler": {"batch_size": [2, 2], "frames_num_fixed": 6, "frames_skip_num": 2,
                                    "sample_type": "fixed_ordered", "type": "TripletSampler"},
                        "transform": [{"type": "Compose", "trf_cfg": [{"type": "BaseSilCuttingTransform"},
                                                                       {"type": "RandomHorizontalFlip"}]}]},
        "evaluator_cfg": {"save_name": "tiny", "sampler": {"batch_size": 3}},
        "engine_cfg": {"output_root": str(output_root)},
    }
    if model in ("GaitSet", "GaitPart"):  # they have no classifier
        cfg["loss_cfg"] = TRIPLET_LOSS
    for section, value in sections.items():
        cfg[section] = {**cfg.get(section, {}), **value} if isinstance(value, dict) else value
    return cfg


def _leaves(tree: dict, prefix: tuple = ()) -> dict[tuple, object]:
    """Every non-dict value of a nested dict, keyed by its path."""
    out = {}
    for key, value in tree.items():
        out.update(_leaves(value, prefix + (key,)) if isinstance(value, dict) else {prefix + (key,): value})
    return out


def assert_loads_unchanged(user: dict) -> dict:
    """``load_config(user)``, checked to keep every value the user config sets (defaults only fill in the rest)."""
    cfgs = load_config(user)
    for path, value in _leaves(user).items():
        loaded = cfgs
        for key in path:
            loaded = loaded[key]
        assert loaded == value, f"{'.'.join(map(str, path))}: {value!r} loaded as {loaded!r}"
    return cfgs


@pytest.fixture
def recorded_losses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The total loss of every training step run in this process, in order."""
    from opengait_local3d.engine.loss_aggregator import LossAggregator

    losses: list[float] = []
    original = LossAggregator.forward

    def recording(self, training_feat):
        total, info = original(self, training_feat)
        losses.append(total.item())
        return total, info

    monkeypatch.setattr(LossAggregator, "forward", recording)
    return losses
