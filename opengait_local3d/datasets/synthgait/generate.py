"""The SynthGait dataset: CASIA-B's structure, parallel generation, partition and completion marker.

Convention:
    ``<out>/<id>/<type>/<view>/<view>.pkl`` holds ``uint8 [T, size, size]`` (OpenGait's layout), with
    ids ``001..``, types ``nm-01..06, bg-01..02, cl-01..02`` and views ``000..180`` in steps of 18.
    ``<out>/SynthGait.json`` is the partition (the first 60% of ids train, as CASIA-B's 74 of 124).
    ``<out>/.synthgait`` (the parameters, written first) marks a SynthGait output; ``.synthgait-complete``
    is written last. Every random draw comes from a stream keyed by (seed, subject[, type[, view]]),
    so the data depend on the seed only, never on the worker count or the order of work.
    ``realism`` (:class:`~.realism.Realism`) is part of the parameters; the default ("clean") is the
    generator's original output, and a marker of the clean data does not name it (older outputs stay
    reusable).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Sequence

import numpy as np

from ...utils.atomic import atomic_write
from ...utils.parallel import parallel_map, resolve_workers
from ..silhouette import save_sequence, sequence_path
from .body import sample_subject, sample_walk
from .realism import CLEAN, PRESETS, Realism
from .sequence import render_sequence

#: Bump when the generator's output changes, so that older outputs are regenerated, not reused.
GENERATOR_VERSION = 1
TYPES = tuple([f"nm-{i:02d}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"])
VIEWS = tuple(range(0, 181, 18))
PARTITION_FILE = "SynthGait.json"
OWNER_MARKER = ".synthgait"
COMPLETE_MARKER = ".synthgait-complete"
TRAIN_FRACTION = 0.6


@dataclass(frozen=True)
class SynthGaitSpec:
    """Everything the generated data depend on (compared to decide whether an output is reusable).

    ``realism`` also takes a preset name (``"clean"``, ``"hard"``), turned into its :class:`Realism`.
    """

    subjects: int = 124
    views: tuple[int, ...] = VIEWS
    frames: int = 40
    size: int = 64
    seed: int = 0
    version: int = GENERATOR_VERSION
    realism: Realism = CLEAN

    def __post_init__(self) -> None:
        object.__setattr__(self, "views", tuple(int(v) for v in self.views))
        if isinstance(self.realism, str):
            object.__setattr__(self, "realism", Realism.preset(self.realism))
        if not isinstance(self.realism, Realism):
            raise ValueError(f"realism must be a Realism or one of {', '.join(PRESETS)}, got {self.realism!r}")
        if self.subjects < 2:
            raise ValueError(f"subjects must be at least 2 (a train and a test id), got {self.subjects}")
        if not self.views or any(not 0 <= v < 360 for v in self.views) or len(set(self.views)) != len(self.views):
            raise ValueError(f"views must be distinct angles in degrees in [0, 360), got {list(self.views)}")
        if self.frames < 1:
            raise ValueError(f"frames must be positive, got {self.frames}")
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {self.size}")

    def ids(self) -> list[str]:
        """Subject ids ``001, 002, ...`` (more digits if needed)."""
        width = max(3, len(str(self.subjects)))
        return [f"{i:0{width}d}" for i in range(1, self.subjects + 1)]

    def partition(self) -> dict[str, list[str]]:
        """``{'TRAIN_SET': first ~60% of ids, 'TEST_SET': the rest}``."""
        ids = self.ids()
        train = min(max(1, round(TRAIN_FRACTION * len(ids))), len(ids) - 1)
        return {"TRAIN_SET": ids[:train], "TEST_SET": ids[train:]}


@dataclass(frozen=True)
class SynthGaitOutput:
    """Where a generated dataset is: ``root`` (``dataset_root``) and ``partition`` (``dataset_partition``)."""

    root: Path
    partition: Path
    reused: bool


def generate(out_dir: str | os.PathLike, subjects: int = 124, views: Sequence[int] = VIEWS, frames: int = 40,
             size: int = 64, seed: int = 0, workers: int | None = None, progress: bool = True,
             force: bool = False, realism: Realism | str = CLEAN) -> SynthGaitOutput:
    """Generate SynthGait into ``out_dir``, or reuse it if a complete output with the same parameters is there.

    Args:
        out_dir: output directory: absent, empty, or a previous SynthGait output.
        subjects: number of subject ids.
        views: camera azimuths in degrees (0 = walking towards the camera, 90 = side, 180 = from behind).
        frames: minimum frames per sequence (each has between ``frames`` and ``1.25 * frames``).
        size: side of the square silhouettes.
        seed: the data are a function of the parameters and this seed.
        workers: processes (default: CPUs available); 1 runs in this process.
        progress: show a tqdm bar.
        force: replace a SynthGait output of other parameters (without it, such an output is refused).
        realism: segmentation noise, identity spread and covariate variety: a :class:`Realism`
            (e.g. ``Realism.preset("hard", holes=3)``) or a preset name, ``"clean"`` (default) or ``"hard"``.

    Returns:
        The dataset root, its partition file, and whether an existing output was reused.

    Raises:
        ValueError: on a bad parameter.
        FileExistsError: if ``out_dir`` exists, is not empty, and is not a SynthGait output, or (without ``force``)
            is one of other parameters, complete or not.
    """
    spec = SynthGaitSpec(subjects=subjects, views=tuple(views), frames=frames, size=size, seed=seed, realism=realism)
    workers = resolve_workers(workers)
    root = Path(out_dir)
    result = SynthGaitOutput(root, root / PARTITION_FILE, reused=True)
    record = _record(spec)
    if _read_marker(root / COMPLETE_MARKER) == record:
        return result
    previous = _read_marker(root / OWNER_MARKER)
    if previous is not None and previous != record and not force:
        changed = ", ".join(f"{key} {previous.get(key)!r} (asked: {record.get(key)!r})"
                            for key in [*record, *(key for key in previous if key not in record)]
                            if previous.get(key) != record.get(key))
        raise FileExistsError(f"{root} holds a SynthGait of other parameters: {changed}; regenerating it would replace "
                              "it: choose another folder, remove it, or pass --force to opengait-local3d synth")
    _prepare_directory(root)
    _write_json(root / OWNER_MARKER, record)
    jobs = [(spec, subject, seq_type) for subject in range(spec.subjects) for seq_type in TYPES]
    parallel_map(partial(_generate_walk, root=root), jobs, workers, desc="SynthGait", unit="seq",
                 total=len(jobs) * len(spec.views), step=int, progress=progress)
    _write_json(root / PARTITION_FILE, spec.partition())
    _write_json(root / COMPLETE_MARKER, record)
    return SynthGaitOutput(root, root / PARTITION_FILE, reused=False)


def _prepare_directory(root: Path) -> None:
    """Make ``root`` ready: absent or empty, or a (partial or stale) SynthGait output whose files are removed.

    Only what SynthGait writes is removed (id folders, partition, markers); anything else stays.
    """
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"{root} exists and is not a directory")
    if root.is_dir() and any(root.iterdir()):
        if not (root / OWNER_MARKER).is_file():
            raise FileExistsError(f"{root} is not empty and is not a SynthGait output (no {OWNER_MARKER} marker); "
                                  "refusing to overwrite it: choose another --out or empty it")
        for entry in root.iterdir():
            if entry.is_dir() and entry.name.isdigit():
                shutil.rmtree(entry)
            elif entry.name in (PARTITION_FILE, OWNER_MARKER, COMPLETE_MARKER):
                entry.unlink()
    root.mkdir(parents=True, exist_ok=True)


def _record(spec: SynthGaitSpec) -> dict:
    """``spec`` as it reads back from JSON (tuples become lists), for comparison with a marker.

    Clean realism is left out, so that the clean data's marker is the one written before realism existed.
    """
    record = json.loads(json.dumps(asdict(spec)))
    if spec.realism == CLEAN:
        del record["realism"]
    return record


def _read_marker(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, payload: dict) -> None:
    with atomic_write(path, "w") as handle:
        json.dump(payload, handle, indent=2)


def _generate_walk(job: tuple[SynthGaitSpec, int, str], root: Path) -> int:
    """Render every view of one (subject, type) walk and write its pkls; returns the sequence count."""
    spec, subject_index, seq_type = job
    type_index = TYPES.index(seq_type)
    realism = spec.realism
    subject = sample_subject(np.random.default_rng([spec.seed, subject_index]), realism.identity_spread)
    walk = sample_walk(np.random.default_rng([spec.seed, subject_index, 1 + type_index]), subject, seq_type[:2],
                       realism.varied_covariates)
    subject_id = spec.ids()[subject_index]
    for view in spec.views:
        rng = np.random.default_rng([spec.seed, subject_index, 1 + type_index, 1000 + view])
        frames = render_sequence(walk, view, spec.frames, spec.size, rng, realism)
        save_sequence(sequence_path(root, subject_id, seq_type, f"{view:03d}"), frames, atomic=False)
    return len(spec.views)
