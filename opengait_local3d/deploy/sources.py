"""What ``enroll`` and ``identify`` read: a folder in OpenGait's pkl layout, the same layout of silhouette frames
(PNG), or one sequence (a pkl file, or a folder of its frames), turned into a pkl layout the engine reads.

Frames go through :func:`~opengait_local3d.datasets.pretreatment.pretreat`, as ``opengait-local3d pretreat``
converts them (crop, resize to ``size`` rows, centre, pad or cut to ``size x size``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..datasets.pretreatment import PretreatReport, SequenceSource, pretreat, pretreat_sequence
from ..errors import DataError

__all__ = ["SINGLE_TYPE", "SequenceFolder", "sequence_folder"]

#: the type and view folder names of a sequence given alone
SINGLE_TYPE = "-"
_LAYOUTS = ("<id>/<type>/<view>/*.pkl, <id>/<type>/<view>/*.png (silhouette frames), a .pkl file or a folder of "
            "one sequence's frames")


@dataclass(frozen=True)
class SequenceFolder:
    """A pkl-layout root to embed.

    Attributes:
        root: the folder in the pkl layout (the input itself, or one written under the work folder).
        single: the input when it was one sequence (its id is the file's or folder's name, its type and
            view :data:`SINGLE_TYPE`), else ``None``.
        converted: what the conversion of frames did (``None`` when the input held pkls).
    """

    root: Path
    single: Path | None = None
    converted: PretreatReport | None = None


def sequence_folder(path: str | os.PathLike, workdir: str | os.PathLike, size: int = 64) -> SequenceFolder:
    """``path`` as a pkl-layout root, converting silhouette frames to ``size x size`` under ``workdir``.

    Raises:
        DataError: ``path`` does not exist, is empty, or holds no sequence in any of the layouts (named).
    """
    path, workdir = Path(path), Path(workdir)
    if path.is_file():
        if path.suffix != ".pkl":
            raise DataError(f"{path}: not a sequence (expected {_LAYOUTS})")
        return SequenceFolder(_linked(path.stem, [path], workdir), single=path)
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder")
    entries = list(os.scandir(path))
    if not entries:
        raise DataError(f"{path}: empty folder (expected {_LAYOUTS})")
    files = sorted(Path(e.path) for e in entries if e.is_file())
    pkls = [f for f in files if f.suffix == ".pkl"]
    if pkls:  # a view folder: one sequence, one pkl per input
        return SequenceFolder(_linked(path.name, pkls, workdir), single=path)
    if files:  # a folder of frames
        output = workdir / "pretreated"
        result = pretreat_sequence(SequenceSource((path.name, SINGLE_TYPE, SINGLE_TYPE), path), output, size)
        if not result.frames:
            raise DataError(f"{path}: no silhouette frame to read ({len(result.unreadable)} unreadable files, "
                            f"{result.near_empty} near-empty frames)")
        return SequenceFolder(output, single=path, converted=PretreatReport([result], []))
    if any(path.glob("*/*/*/*.pkl")):
        return SequenceFolder(path)
    if any(p.is_file() for p in path.glob("*/*/*/*")):
        output = workdir / "pretreated"
        report = pretreat(path, output, size=size, workers=1, progress=False)
        if not report.written:
            raise DataError(f"{path}: no silhouette frame to read in any sequence folder")
        return SequenceFolder(output, converted=report)
    raise DataError(f"{path}: no sequence found (expected {_LAYOUTS})")


def _linked(name: str, pkls: list[Path], workdir: Path) -> Path:
    """A pkl layout holding one sequence, ``<name>/-/-/``, its files linked to ``pkls``."""
    folder = workdir / "single" / name / SINGLE_TYPE / SINGLE_TYPE
    folder.mkdir(parents=True)
    for pkl in pkls:
        (folder / pkl.name).symlink_to(pkl.resolve())
    return workdir / "single"
