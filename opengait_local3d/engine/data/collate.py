"""Batches of sequences with OpenGait's sample types, frames chosen by vectorised index arithmetic.

``sample_type`` is ``<frames>_<order>``:

* frames: ``fixed`` (``frames_num_fixed`` per sequence -> ``[n, s, h, w]``), ``unfixed`` (a random count in
  ``[frames_num_min, frames_num_max]`` per sequence -> packed ``[1, sum(s), h, w]`` with ``seqL``) or
  ``all`` (every frame, at most ``frames_all_limit`` if set -> packed).
* order: ``unordered`` (random frames in random order), ``ordered`` (sorted random frames from a random
  window of ``frames + frames_skip_num`` consecutive frames, GaitPart's sampling) or ``allordered`` (random
  frames from the whole sequence, kept in temporal order; OpenGait's code at the pinned commit parses this
  name so that it samples like ``unordered``, we keep the order the name promises). ``all`` is always in order.

A sequence shorter than the frames it needs is repeated as OpenGait does (sampling with replacement;
``ordered`` tiles the sequence) and counted in :attr:`Batch.short_count`.
"""
from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import torch

from ...utils.checks import integer_at_least
from ...errors import ConfigError, DataError
from .dataset import Sample
from .draws import random_positions

__all__ = ["Batch", "CollateFn", "COLLATE_KEYS"]

#: sampler config keys read by the collate (the rest go to the sampler class)
COLLATE_KEYS = frozenset({"sample_type", "frames_num_fixed", "frames_num_min", "frames_num_max",
                          "frames_skip_num", "frames_all_limit"})


class Batch(NamedTuple):
    """A collated batch, before transforms.

    ``seqs`` holds one uint8 tensor per modality: ``[n, s, h, w]`` (fixed) or ``[1, sum(s), h, w]`` (packed,
    with ``seqL [1, n]``); tensors, so that loader workers hand them over through shared memory.
    ``indices`` are the dataset indices, ``batch_index`` and ``seed`` the sampler's.
    """

    seqs: list[torch.Tensor]
    labels: np.ndarray
    types: list[str]
    views: list[str]
    seqL: np.ndarray | None
    indices: np.ndarray
    batch_index: int
    seed: int
    short_count: int


class CollateFn:
    """Collate :class:`~opengait_local3d.engine.data.dataset.Sample` s into a :class:`Batch`.

    Args:
        label_set: the dataset's sorted ids; labels become their positions.
        sampler_cfg: the sampler section (``sample_type`` and the ``frames_*`` keys).
        where: the config path of ``sampler_cfg``, for messages.

    The frames of a batch depend only on ``(samples, key.seed)``: a resumed run draws the same frames.
    """

    def __init__(self, label_set: Sequence[str], sampler_cfg: Mapping[str, Any], where: str = "sampler"):
        self.label_index = {label: i for i, label in enumerate(label_set)}
        sample_type = sampler_cfg.get("sample_type")
        frames, _, order = str(sample_type).partition("_")
        if frames not in ("fixed", "unfixed", "all") or order not in ("ordered", "unordered", "allordered"):
            raise ConfigError(f"{where}.sample_type: {sample_type!r} is not one of fixed_/unfixed_/all_ followed by "
                              f"ordered, unordered or allordered (e.g. fixed_ordered, all_ordered)")
        self.frames, self.order = frames, order

        def count(key: str, minimum: int, default: int | None = None) -> int:
            return integer_at_least(sampler_cfg.get(key, default), minimum, f"{where}.{key}",
                                    ConfigError)

        self.frames_all_limit = count("frames_all_limit", -1, -1)
        if frames == "fixed":
            self.frames_min = self.frames_max = count("frames_num_fixed", 1)
        elif frames == "unfixed":
            self.frames_min, self.frames_max = count("frames_num_min", 1), count("frames_num_max", 1)
            if self.frames_min > self.frames_max:
                raise ConfigError(f"{where}: frames_num_min ({self.frames_min}) > frames_num_max ({self.frames_max})")
        self.skip = count("frames_skip_num", 0) if frames != "all" and order == "ordered" else 0

    @property
    def clip_length(self) -> int | None:
        """The fewest frames a sampled clip takes (``None`` for ``all``)."""
        return None if self.frames == "all" else self.frames_min

    def __call__(self, samples: Sequence[Sample]) -> Batch:
        keys = [s.key for s in samples]
        lengths = np.array([len(s.frames[0]) for s in samples], dtype=np.int64)
        rng = np.random.default_rng(keys[0].seed)
        positions, counts, short = self._positions(lengths, rng)
        seqs = [_gather([s.frames[m] for s in samples], positions, counts, packed=self.frames != "fixed",
                        names=[s.info.paths[m] for s in samples])
                for m in range(len(samples[0].frames))]
        return Batch(
            seqs=seqs,
            labels=np.array([self.label_index[s.info.label] for s in samples], dtype=np.int64),
            types=[s.info.type for s in samples],
            views=[s.info.view for s in samples],
            seqL=None if self.frames == "fixed" else counts[None, :],
            indices=np.array([k.index for k in keys], dtype=np.int64),
            batch_index=keys[0].batch_index,
            seed=keys[0].seed,
            short_count=short,
        )

    def _positions(self, lengths: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
        """(frame positions ``[n, max count]``, counts ``[n]``, number of sequences repeated)."""
        n = len(lengths)
        if self.frames == "all":
            counts = lengths if self.frames_all_limit < 0 else np.minimum(lengths, self.frames_all_limit)
            return np.broadcast_to(np.arange(counts.max()), (n, counts.max())), counts, 0
        counts = rng.integers(self.frames_min, self.frames_max + 1, size=n)
        if self.order == "ordered":
            window = counts + self.skip
            tiled = lengths * -(-window // lengths)  # OpenGait repeats a short sequence to cover the window
            start = np.floor(rng.random(n) * (tiled - window + 1)).astype(np.int64)
            chosen = _sorted_prefix(random_positions(window, counts, rng), counts)
            return (chosen + start[:, None]) % lengths[:, None], counts, int((lengths < window).sum())
        positions = random_positions(lengths, counts, rng)
        if self.order == "allordered":
            positions = _sorted_prefix(positions, counts)
        return positions, counts, int((lengths < counts).sum())


def _sorted_prefix(positions: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sort the first ``counts[i]`` entries of each row; the padding after them becomes 0."""
    padding = np.arange(positions.shape[1]) >= counts[:, None]
    ordered = np.sort(np.where(padding, np.iinfo(np.int64).max, positions), axis=1)
    return np.where(padding, 0, ordered)


def _gather(arrays: list[np.ndarray], positions: np.ndarray, counts: np.ndarray, packed: bool,
            names: list[str]) -> torch.Tensor:
    """Frames ``positions`` of each array: ``[n, s, h, w]``, or packed ``[1, sum(counts), h, w]``.

    Row ``i`` of ``positions`` uses its first ``counts[i]`` entries.
    """
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) > 1:
        listing = ", ".join(f"{name} {list(a.shape[1:])}" for name, a in zip(names, arrays))
        raise DataError(f"frames of different sizes in one batch: {listing}")
    frame_shape = arrays[0].shape[1:]
    out = np.empty((int(counts.sum()), *frame_shape), dtype=arrays[0].dtype)
    starts = np.cumsum(counts) - counts
    # One gather per sequence, straight into the batch: only the chosen frames are copied, once (joining the
    # sequences first would copy all their frames). The positions are in range by construction, and
    # mode="clip" lets numpy write into ``out`` without an intermediate buffer.
    for array, rows, start, count in zip(arrays, positions, starts, counts):
        np.take(array, rows[:count], axis=0, out=out[start:start + count], mode="clip")
    return torch.from_numpy(out[None] if packed else out.reshape(len(arrays), -1, *frame_shape))
