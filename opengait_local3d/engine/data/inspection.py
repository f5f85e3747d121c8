"""Every sequence file read once when a dataset opens, so that a bad one fails the run before its first batch.

Without the dataset cache only each pkl's header is read (:func:`~opengait_local3d.datasets.silhouette.
sequence_shape`: one small read per file); with it, the arrays the cache loads anyway. The files of a set must
hold uint8 ``[T, H, W]`` arrays of one frame size per input (the size most of them have), and the files of one
sequence the same number of frames. A :class:`DataError` names each file that does not, by its
``<id>/<type>/<view>/<file>`` under the dataset root.
"""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm import tqdm

from ...datasets import silhouette
from ...errors import DataError

__all__ = ["Inspection", "inspect_sequences", "SHOWN_PROBLEMS"]

#: the files an error lists (the rest are counted)
SHOWN_PROBLEMS = 20
#: threads reading headers (the reads wait on the disk, not the interpreter)
_READERS = 8


@dataclass(frozen=True)
class Inspection:
    """What the files hold: ``lengths`` (frames per sequence), ``frame_sizes`` (``(h, w)`` per input) and, with
    the cache, ``arrays`` (per sequence, one array per input)."""

    lengths: np.ndarray
    frame_sizes: tuple[tuple[int, int], ...]
    arrays: list[list[np.ndarray]] | None


def inspect_sequences(root: Path, sequences: Sequence[Sequence[str]], set_name: str, load: bool) -> Inspection:
    """Read the shape of every file of ``sequences`` (per sequence, its pkl paths), loading the arrays if ``load``.

    Raises:
        DataError: listing each unreadable file, and each whose dtype, rank, frame size or frame count differs.
    """
    paths = [path for files in sequences for path in files]
    read: Callable[[str], object] = silhouette.load_sequence if load else silhouette.sequence_shape
    with ThreadPoolExecutor(_READERS) as pool:
        results = list(tqdm(pool.map(_attempt(read), paths), total=len(paths), leave=False, unit="file",
                            desc="Loading" if load else "Reading pkl headers", disable=len(paths) < 1000))
    problems = {path: result for path, result in zip(paths, results) if isinstance(result, str)}
    shapes = {path: np.shape(result) if load else result
              for path, result in zip(paths, results) if path not in problems}
    inputs = Counter(len(files) for files in sequences).most_common(1)[0][0]
    for files in sequences:
        if len(files) != inputs:
            problems[str(Path(files[0]).parent)] = (f"{len(files)} pkl files ({', '.join(Path(p).name for p in files)})"
                                                    f", the others hold {inputs} (one per input)")
    kept = [files for files in sequences if len(files) == inputs]
    sizes = tuple(_frame_size([files[index] for files in kept], shapes, problems) for index in range(inputs))
    for files in kept:
        if len({shapes[path][0] for path in files if path in shapes}) > 1:
            problems.setdefault(files[0], "its files hold different numbers of frames (" + ", ".join(
                f"{Path(path).name}: {shapes[path][0]}" for path in files if path in shapes) + ")")
    if problems:
        raise DataError(_report(root, problems, len(sequences), set_name, sizes))
    loaded = dict(zip(paths, results))
    return Inspection(np.array([shapes[files[0]][0] for files in sequences], dtype=np.int64), sizes,
                      [[loaded[path] for path in files] for files in sequences] if load else None)


def _frame_size(paths: list[str], shapes: dict[str, tuple[int, ...]], problems: dict[str, str]) -> tuple[int, int]:
    """The frame size most of ``paths`` (one input of every sequence) have; the others go to ``problems``."""
    counts = Counter(shapes[path][1:] for path in paths if path in shapes)
    size = counts.most_common(1)[0][0] if counts else (0, 0)
    for path in paths:
        if path in shapes and shapes[path][1:] != size:
            problems[path] = f"frames of {_size(shapes[path][1:])}"
    return size


def _attempt(read: Callable[[str], object]) -> Callable[[str], object]:
    """``read`` whose ``ValueError`` becomes its message without the path (the report names the file)."""
    def attempt(path: str) -> object:
        try:
            return read(path)
        except ValueError as err:
            return str(err).removeprefix(f"{path}: ")
    return attempt


def _size(size: tuple[int, ...]) -> str:
    return "x".join(map(str, size))


def _report(root: Path, problems: dict[str, str], sequences: int, set_name: str,
            sizes: tuple[tuple[int, int], ...]) -> str:
    expected = ", ".join(f"[T, {h}, {w}]" for h, w in sizes)
    lines = [f"{root}: {len(problems)} pkl file(s) of the {sequences} {set_name} sequences cannot be used "
             f"(expected uint8 {expected}, as the others); fix or remove them:"]
    for path, problem in sorted(problems.items())[:SHOWN_PROBLEMS]:
        lines.append(f"  {Path(path).relative_to(root).as_posix()}: {problem}")
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"  ... and {len(problems) - SHOWN_PROBLEMS} more")
    return "\n".join(lines)
