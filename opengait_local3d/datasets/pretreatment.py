"""Raw silhouette frames (PNG folders) -> OpenGait's pkl layout: what ``opengait-local3d pretreat`` runs.

Convention:
    Input layouts (``--dataset``):

    * ``casiab``: ``RAW/<id>/<type>/<view>/<frame>.png`` (CASIA-B as downloaded, and any dataset
      arranged the same way).
    * ``oumvlp``: ``RAW/Silhouette_<view>-<seq>/<id>/<frame>.png`` (OU-MVLP as extracted), read
      directly, without a rearranging step.

    Output: ``OUT/<id>/<type>/<view>/<view>.pkl`` holding ``uint8 [T, size, size]``, each frame
    normalised as OpenGait's pretreatment does (:mod:`opengait_local3d.datasets.silhouette`). Frames are
    taken in file-name order. Unreadable or non-image files, empty folders and near-empty frames
    are counted and reported, never fatal; a pkl is written to a temporary name and renamed, so an
    interrupted run leaves no half-written pkl. Sequences with fewer than 5 frames get a warning.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from .silhouette import MIN_SEQUENCE_FRAMES, normalize_sequence, save_sequence, sequence_path
from ..utils.parallel import parallel_map, resolve_workers

DATASETS = ("casiab", "oumvlp")
_OUMVLP_FOLDER = re.compile(r"^Silhouette_(\d+)-(\d+)$")


@dataclass(frozen=True)
class SequenceSource:
    """One raw sequence: its (id, type, view) key and the folder holding its frames."""

    key: tuple[str, str, str]
    folder: Path


@dataclass
class SequenceResult:
    """What became of one sequence."""

    key: tuple[str, str, str]
    frames: int = 0                 # frames written
    near_empty: int = 0             # frames skipped as near-empty
    unreadable: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # sub-folders inside the sequence folder


@dataclass
class PretreatReport:
    """Summary of a run; ``sequences`` in key order."""

    sequences: list[SequenceResult]
    outside_layout: list[str]       # entries of RAW that do not fit the layout

    @property
    def written(self) -> list[SequenceResult]:
        return [s for s in self.sequences if s.frames > 0]

    @property
    def empty(self) -> list[SequenceResult]:
        """Sequences with no frame at all (empty folders, or only unreadable files)."""
        return [s for s in self.sequences if s.frames == 0 and s.near_empty == 0]

    @property
    def all_near_empty(self) -> list[SequenceResult]:
        return [s for s in self.sequences if s.frames == 0 and s.near_empty > 0]

    @property
    def short(self) -> list[SequenceResult]:
        """Written sequences with fewer than ``MIN_SEQUENCE_FRAMES`` frames."""
        return [s for s in self.written if s.frames < MIN_SEQUENCE_FRAMES]


def list_sequences(raw: Path, dataset: str = "casiab") -> tuple[list[SequenceSource], list[str]]:
    """Find the sequence folders of ``raw`` in the given layout.

    Returns:
        The sequences sorted by key, and the entries that do not fit the layout.

    Raises:
        ValueError: if ``dataset`` is not one of :data:`DATASETS`.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    sources, outside = [], []
    if dataset == "casiab":
        for subject in _entries(raw, outside):
            for seq_type in _entries(subject, outside):
                for view in _entries(seq_type, outside):
                    sources.append(SequenceSource((subject.name, seq_type.name, view.name), view))
    else:
        for folder in _entries(raw, outside):
            match = _OUMVLP_FOLDER.match(folder.name)
            if match is None:
                outside.append(str(folder))
                continue
            view, seq = match.groups()
            for subject in _entries(folder, outside):
                sources.append(SequenceSource((subject.name, seq, view), subject))
    return sorted(sources, key=lambda s: s.key), outside


def _entries(folder: Path, outside: list[str]) -> list[Path]:
    """Sub-folders of ``folder`` (sorted); anything else is recorded in ``outside``."""
    folders = []
    for entry in sorted(folder.iterdir()):
        (folders if entry.is_dir() else outside).append(entry if entry.is_dir() else str(entry))
    return folders


def read_frame(path: Path) -> np.ndarray | None:
    """Decode an image file as ``uint8 [H, W]`` grey, or ``None`` if it is not a readable image."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)


def pretreat_sequence(source: SequenceSource, output: Path, size: int = 64) -> SequenceResult:
    """Normalise one sequence folder and write its pkl (only if at least one frame is valid)."""
    result = SequenceResult(source.key)
    frames = []
    for path in sorted(source.folder.iterdir()):
        if path.is_dir():
            result.ignored.append(str(path))
            continue
        frame = read_frame(path)
        if frame is None:
            result.unreadable.append(str(path))
        else:
            frames.append(frame)
    normalised = normalize_sequence(frames, size)
    result.near_empty = normalised.skipped
    result.frames = len(normalised.frames)
    if result.frames:
        save_sequence(sequence_path(output, *source.key), normalised.frames)
    return result


def pretreat(raw: str | os.PathLike, output: str | os.PathLike, size: int = 64, workers: int | None = None,
             dataset: str = "casiab", progress: bool = True) -> PretreatReport:
    """Convert every sequence of ``raw`` into ``output``.

    Raises:
        FileNotFoundError: if ``raw`` is not a directory or holds no sequence folder.
        FileExistsError: if ``output`` is a file, or ``raw`` itself or a folder inside it (the pkls would land
            among the raw frames, and a later run would read them as input).
        ValueError: on a bad ``size``, ``workers`` or ``dataset``.
    """
    raw, output = Path(raw), Path(output)
    if not raw.is_dir():
        raise FileNotFoundError(f"input folder {raw} does not exist or is not a directory")
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"output {output} is a file; the output is a folder (created if absent)")
    if output.resolve().is_relative_to(raw.resolve()):
        where = "the input folder" if output.resolve() == raw.resolve() else "inside the input folder"
        raise FileExistsError(f"output {output} is {where} {raw}: the pkls would be written among the raw frames; "
                              "choose a folder outside it")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    workers = resolve_workers(workers)
    sources, outside = list_sequences(raw, dataset)
    if not sources:
        layout = "<id>/<type>/<view>/<frame>.png" if dataset == "casiab" else "Silhouette_<view>-<seq>/<id>/<frame>.png"
        raise FileNotFoundError(f"no sequence folders in {raw}: expected {layout} (--dataset {dataset})")
    results = parallel_map(partial(pretreat_sequence, output=output, size=size), sources, workers,
                           desc="Pretreating", unit="seq", progress=progress)
    return PretreatReport(sorted(results, key=lambda r: r.key), outside)


#: How many examples of each problem the summary prints (all with --verbose).
EXAMPLES = 5


def format_report(report: PretreatReport, output: Path, verbose: bool = False) -> str:
    """Human-readable summary: what was written, and every kind of problem with examples."""
    limit = None if verbose else EXAMPLES
    written = report.written
    lines = [f"Wrote {len(written)} sequences ({sum(s.frames for s in written)} frames) to {output}."]

    def section(title: str, items: list[str], count: str | None = None) -> None:
        if not items:
            return
        lines.append(f"{title}: {count or len(items)}")
        lines.extend(f"  {item}" for item in items[:limit])
        if limit is not None and len(items) > limit:
            lines.append(f"  ... {len(items) - limit} more (--verbose lists all)")

    def name(result: SequenceResult) -> str:
        return "/".join(result.key)

    near_empty = [f"{name(s)}: {s.near_empty}" for s in report.sequences if s.near_empty]
    section("Near-empty frames skipped", near_empty,
            f"{sum(s.near_empty for s in report.sequences)} (in {len(near_empty)} sequences)")
    section("Unreadable or non-image files skipped", [p for s in report.sequences for p in s.unreadable])
    section("Sequences with no frame (empty folder or no readable image), not written",
            [name(s) for s in report.empty])
    section("Sequences whose every frame is near-empty, not written", [name(s) for s in report.all_near_empty])
    section(f"Warning: sequences with fewer than {MIN_SEQUENCE_FRAMES} frames",
            [f"{name(s)}: {s.frames}" for s in report.short])
    section("Entries outside the layout, ignored",
            report.outside_layout + [p for s in report.sequences for p in s.ignored])
    return "\n".join(lines)
