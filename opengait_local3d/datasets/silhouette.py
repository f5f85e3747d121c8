"""Silhouette normalisation and the OpenGait pkl layout, shared by ``pretreat`` and ``synth``.

Convention:
    A raw frame is a grey ``uint8`` image ``[H, W]`` (0 = background). A normalised frame is
    ``uint8 [size, size]``: the rows that hold the silhouette, resized (cubic) to ``size`` rows
    keeping the aspect ratio, then placed so that the column where the cumulative column mass first
    exceeds half the total sits at column ``size // 2``, padded with zeros or cut to ``size`` columns.
    These are the facts of OpenGait's ``datasets/pretreatment.py``, so pkls written here match it.
    A sequence is stored as ``<root>/<id>/<type>/<view>/<view>.pkl`` holding ``uint8 [T, size, size]``.
"""
from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from ..utils.atomic import atomic_write

#: A frame whose mass (sum / 255) is at most this many full pixels is skipped as near-empty
#: (OpenGait skips frames whose sum is at most 10000, i.e. about 39 white pixels).
MIN_FOREGROUND_PIXELS = 10000 / 255

#: OpenGait warns about sequences with fewer valid frames than this.
MIN_SEQUENCE_FRAMES = 5


def normalize_frame(frame: np.ndarray, size: int = 64,
                    min_foreground: float = MIN_FOREGROUND_PIXELS) -> np.ndarray | None:
    """Crop, resize and centre one silhouette frame.

    Args:
        frame: ``uint8 [H, W]`` silhouette, 0 = background.
        size: side of the output square.
        min_foreground: frames with ``frame.sum() / 255 <= min_foreground`` are near-empty.

    Returns:
        ``uint8 [size, size]``, or ``None`` for a near-empty frame.

    Raises:
        ValueError: if ``frame`` is not a 2D uint8 array or ``size`` is not positive.

    Example:
        >>> frame = np.zeros((100, 80), np.uint8); frame[10:90, 30:50] = 255
        >>> out = normalize_frame(frame, size=64)
        >>> out.shape, int(out[:, 32].min()), int(out[:, :24].max())
        ((64, 64), 255, 0)
    """
    if not isinstance(frame, np.ndarray) or frame.ndim != 2 or frame.dtype != np.uint8:
        got = f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"normalize_frame expects a uint8 [H, W] array, got {got}")
    if size < 1:
        raise ValueError(f"normalize_frame: size must be positive, got {size}")
    if frame.sum(dtype=np.int64) <= min_foreground * 255:
        return None
    rows = np.flatnonzero(frame.any(axis=1))
    crop = frame[rows[0]:rows[-1] + 1]
    width = max(1, int(size * crop.shape[1] / crop.shape[0]))
    resized = cv2.resize(crop, (width, size), interpolation=cv2.INTER_CUBIC)
    column_mass = resized.sum(axis=0, dtype=np.int64).cumsum()
    if column_mass[-1] == 0:
        return None
    centre = int(np.searchsorted(column_mass, column_mass[-1] / 2, side="right"))
    left = centre - size // 2
    out = np.zeros((size, size), np.uint8)
    src_start, src_stop = max(left, 0), min(left + size, width)
    out[:, src_start - left:src_stop - left] = resized[:, src_start:src_stop]
    return out


@dataclass
class NormalizedSequence:
    """A normalised sequence: ``frames`` ``uint8 [T, size, size]`` and how many frames were skipped."""

    frames: np.ndarray
    skipped: int


def normalize_sequence(frames: Iterable[np.ndarray], size: int = 64,
                       min_foreground: float = MIN_FOREGROUND_PIXELS) -> NormalizedSequence:
    """Normalise every frame of a sequence, dropping near-empty ones.

    Args:
        frames: ``uint8 [H, W]`` silhouettes (sizes may differ between frames).
        size: side of the output square.
        min_foreground: see :func:`normalize_frame`.

    Returns:
        The kept frames as ``uint8 [T, size, size]`` (``T`` may be 0) and the skipped count.
    """
    kept, skipped = [], 0
    for frame in frames:
        normalised = normalize_frame(frame, size, min_foreground)
        if normalised is None:
            skipped += 1
        else:
            kept.append(normalised)
    array = np.stack(kept) if kept else np.zeros((0, size, size), np.uint8)
    return NormalizedSequence(array, skipped)


def sequence_path(root: str | os.PathLike, subject: str, seq_type: str, view: str) -> Path:
    """``<root>/<subject>/<seq_type>/<view>/<view>.pkl``, OpenGait's layout."""
    return Path(root) / subject / seq_type / view / f"{view}.pkl"


def save_sequence(path: str | os.PathLike, frames: np.ndarray, atomic: bool = True) -> None:
    """Pickle ``uint8 [T, size, size]`` to ``path``, creating its folders.

    With ``atomic`` (the default) the pkl goes to a temporary file that is synced and renamed, so a
    reader never sees a half-written pkl: an interrupted write leaves ``path`` as it was. Writers
    that mark their own completion (SynthGait writes its marker last) pass ``atomic=False`` and skip
    the per-file sync, which dominates the cost of thousands of small pkls.
    """
    if atomic:
        with atomic_write(path) as handle:
            pickle.dump(frames, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(frames, handle, protocol=pickle.HIGHEST_PROTOCOL)


def load_sequence(path: str | os.PathLike) -> np.ndarray:
    """The uint8 array ``[T, H, W]`` in the pkl ``path`` (written by :func:`save_sequence` or OpenGait's pretreatment).

    Raises:
        ValueError: naming ``path``, if it is unreadable or corrupt, not an array, not uint8, not of rank 3,
            or empty.
    """
    with _opened(path) as handle:
        return _checked(_unpickled(handle, path), path)


def sequence_shape(path: str | os.PathLike) -> tuple[int, int, int]:
    """The shape ``[T, H, W]`` of the sequence in the pkl ``path``, read without reading its frames from disk.

    The pickle is unpickled as :func:`load_sequence` does, except that the one large payload it holds (the
    frames) is skipped by a seek and stands in as zeros: one small read per file, whatever its length.

    Raises:
        ValueError: as :func:`load_sequence` (a truncated file included).
    """
    with _opened(path) as handle:
        return _checked(_unpickled(_SkippingReader(handle), path), path).shape


def _opened(path: str | os.PathLike):
    try:
        return open(path, "rb")
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None


def _unpickled(handle: object, path: str | os.PathLike) -> object:
    try:
        return pickle.Unpickler(handle).load()
    except Exception as err:  # pickle raises many types on a truncated or foreign file
        raise ValueError(f"{path}: corrupt pkl ({type(err).__name__}: {err}); re-run the pretreatment") from None


def _checked(data: object, path: str | os.PathLike) -> np.ndarray:
    if not isinstance(data, np.ndarray):
        raise ValueError(f"{path}: holds a {type(data).__name__}, expected a uint8 array [T, H, W]")
    if data.dtype != np.uint8:
        raise ValueError(f"{path}: dtype {data.dtype}, expected uint8 silhouettes [T, H, W] (0..255)")
    if data.ndim != 3:
        raise ValueError(f"{path}: shape {list(data.shape)} has rank {data.ndim}, expected [T, H, W]")
    if len(data) == 0:
        raise ValueError(f"{path}: empty sequence (0 frames)")
    return data


class _SkippingReader:
    """A binary file for the unpickler whose large reads (an array's payload) seek past the bytes and return
    zeros; reads that would pass the end of the file are real, so a truncated pkl still fails."""

    LARGE = 1 << 16

    def __init__(self, handle: io.BufferedReader):
        self.handle = handle
        self.size = os.fstat(handle.fileno()).st_size

    def _skips(self, n: int) -> bool:
        return n > self.LARGE and self.handle.tell() + n <= self.size

    def read(self, n: int = -1) -> bytes:
        if n is not None and self._skips(n):
            self.handle.seek(n, os.SEEK_CUR)
            return bytes(n)
        return self.handle.read(n)

    def readinto(self, buffer: memoryview) -> int:
        n = len(buffer)
        if self._skips(n):
            self.handle.seek(n, os.SEEK_CUR)
            return n
        return self.handle.readinto(buffer)

    def readline(self) -> bytes:
        return self.handle.readline()

    def peek(self, n: int = 0) -> bytes:
        return self.handle.peek(n)
