"""Batch samplers: OpenGait's ``TripletSampler`` (P ids x K sequences) and ``InferenceSampler``.

Both yield lists of :class:`~opengait_local3d.engine.data.dataset.SampleKey`. Batch ``b`` is drawn from
``(seed, b)`` alone, identically on every rank (no broadcast needed), and each rank takes its slice; its
frame choice and augmentation use :func:`~opengait_local3d.engine.data.draws.batch_seed` of
``(seed, b, rank)``. A resumed run that starts at batch ``b`` therefore sees what the uninterrupted run saw.
"""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import torch.utils.data

from ...utils.checks import integer_at_least, require
from ...config.registries import section_registry
from .collate import COLLATE_KEYS
from .dataset import GaitDataset, SampleKey
from .draws import batch_seed, random_positions

__all__ = ["TripletSampler", "InferenceSampler", "SAMPLERS"]


class TripletSampler(torch.utils.data.Sampler):
    """Endless batches of P random ids x K random sequences each (OpenGait's ``TripletSampler``).

    Ids and sequences are drawn without replacement when there are enough, else with replacement.

    Args:
        dataset: the training dataset (``label_set`` and ``indices_dict``).
        batch_size: ``[P, K]``; ``P * K`` must be divisible by the world size.
        batch_shuffle: shuffle the P x K sequences of a batch (else grouped by id).
        seed, rank, world_size: supplied by the engine.

    Set :attr:`start_batch` before iterating to resume.
    """

    def __init__(self, dataset: GaitDataset, batch_size: Sequence[int], batch_shuffle: bool = False, *,
                 seed: int = 0, rank: int = 0, world_size: int = 1):
        require(isinstance(batch_size, (list, tuple)) and len(batch_size) == 2
                and all(isinstance(b, int) and b > 0 for b in batch_size),
                f"batch_size must be [P, K] (ids per batch, sequences per id), got {batch_size!r}")
        p, k = batch_size
        require((p * k) % world_size == 0, f"batch_size {p} x {k} = {p * k} is not divisible by the {world_size} processes")
        self.ids_per_batch, self.seqs_per_id = p, k
        self.batch_shuffle = bool(batch_shuffle)
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.start_batch = 0
        members = [dataset.indices_dict[label] for label in dataset.label_set]
        self.member_counts = np.array([len(m) for m in members], dtype=np.int64)
        self.members = np.zeros((len(members), self.member_counts.max()), dtype=np.int64)
        self.members[np.arange(self.members.shape[1]) < self.member_counts[:, None]] = np.concatenate(members)

    def batch(self, batch_index: int) -> list[SampleKey]:
        """This rank's share of batch ``batch_index``."""
        rng = np.random.default_rng([self.seed, batch_index])
        n_ids = len(self.member_counts)
        ids = random_positions(np.array([n_ids]), self.ids_per_batch, rng)[0]
        chosen = random_positions(self.member_counts[ids], self.seqs_per_id, rng)
        indices = np.take_along_axis(self.members[ids], chosen, axis=1).ravel()
        if self.batch_shuffle:
            indices = rng.permutation(indices)
        seed = batch_seed(self.seed, batch_index, self.rank)
        return [SampleKey(int(i), batch_index, seed) for i in indices[self.rank::self.world_size]]

    def __iter__(self) -> Iterator[list[SampleKey]]:
        batch_index = self.start_batch
        while True:
            yield self.batch(batch_index)
            batch_index += 1


class InferenceSampler(torch.utils.data.Sampler):
    """Every sequence once, longest first, split across ranks (any ``batch_size`` and world size work).

    The sequences, ordered by decreasing length (equal lengths in dataset order), are cut into consecutive chunks
    of ``ceil(batch_size / world_size)`` (OpenGait's per-rank batch when divisible) dealt to the ranks in turn.
    Nothing is padded or repeated. OpenGait keeps the dataset order; the order by length is this engine's:

    * a packed batch is encoded in one call per distinct length (each sequence as it would be alone), so batches
      of equal lengths are a few large calls instead of one small call per length (on the quick start's test set,
      40-50 frames per sequence, about 9 calls of 2 sequences per batch of 16 become 1-2 calls);
    * the longest sequences come first, so a batch too large for the device fails in the first seconds of a
      test, not at its end;
    * :meth:`~opengait_local3d.engine.base_model.BaseModel.inference` returns the features in dataset order, so
      nothing after it sees the batch order.
    """

    def __init__(self, dataset: GaitDataset, batch_size: int, *, seed: int = 0, rank: int = 0,
                 world_size: int = 1):
        per_rank = math.ceil(integer_at_least(batch_size, 1, "batch_size") / world_size)
        self.seed, self.rank = seed, rank
        order = np.argsort(-np.asarray(dataset.lengths), kind="stable")
        starts = range(0, len(order), per_rank)
        self.chunks = [(b, order[s:s + per_rank].tolist()) for b, s in enumerate(starts)][rank::world_size]

    def __iter__(self) -> Iterator[list[SampleKey]]:
        for batch_index, chunk in self.chunks:
            seed = batch_seed(self.seed, batch_index, self.rank)
            yield [SampleKey(i, batch_index, seed) for i in chunk]

    def __len__(self) -> int:
        return len(self.chunks)


#: ``sampler.type`` -> class
SAMPLERS = section_registry("sampler", "type", {"TripletSampler": TripletSampler, "InferenceSampler": InferenceSampler},
                            "sampler", supplied={"dataset", "seed", "rank", "world_size"}, reserved=COLLATE_KEYS)
