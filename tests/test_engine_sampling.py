"""Samplers, the collate's sample types, and transforms: contents, determinism, distribution over ranks."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from opengait_local3d.engine.data import (CollateFn, InferenceSampler, Sample, SampleKey, SequenceInfo,
                                          TripletSampler, get_transform)
from opengait_local3d.engine.data.draws import random_positions


def frame_numbered(lengths, size=4):
    """Samples whose frame t is filled with the value t (so gathered frames reveal their positions)."""
    return [Sample([np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None], (n, size, size)).copy()],
                   SequenceInfo(f"{i:03d}", "nm-01", "000", (f"seq{i}.pkl",)), SampleKey(i, batch_index=3, seed=42))
            for i, n in enumerate(lengths)]


def collate(sample_type, lengths, seed=42, **keys):
    samples = frame_numbered(lengths)
    samples = [s._replace(key=s.key._replace(seed=seed)) for s in samples]
    fn = CollateFn([f"{i:03d}" for i in range(len(lengths))], {"sample_type": sample_type, **keys})
    batch = fn(samples)
    assert all(s.dtype == torch.uint8 for s in batch.seqs)
    return batch._replace(seqs=[s.numpy() for s in batch.seqs])


def test_random_positions_distinct_when_possible_with_replacement_otherwise():
    rng = np.random.default_rng(0)
    pools = np.array([10, 3, 7])
    rows = random_positions(pools, 5, rng)
    assert rows.shape == (3, 5)
    assert len(set(rows[0])) == 5 and len(set(rows[2])) == 5
    assert rows[1].max() < 3  # pool of 3 for 5 draws: with replacement
    assert all(rows[i].min() >= 0 and rows[i].max() < pools[i] for i in range(3))
    np.testing.assert_array_equal(rows, random_positions(pools, 5, np.random.default_rng(0)))


def test_fixed_unordered_draws_distinct_frames_and_repeats_short_sequences():
    batch = collate("fixed_unordered", [12, 3], frames_num_fixed=5)
    frames = batch.seqs[0][..., 0, 0]
    assert batch.seqs[0].shape == (2, 5, 4, 4) and batch.seqL is None
    assert len(set(frames[0])) == 5 and frames[0].max() < 12
    assert frames[1].max() < 3
    assert batch.short_count == 1
    assert batch.labels.tolist() == [0, 1] and batch.indices.tolist() == [0, 1]
    assert (batch.batch_index, batch.seed) == (3, 42)


def test_fixed_ordered_takes_sorted_frames_from_a_window_and_tiles_short_sequences():
    lengths = [40, 40, 40, 5]
    for seed in range(20):
        frames = collate("fixed_ordered", lengths, seed=seed, frames_num_fixed=6, frames_skip_num=3).seqs[0][..., 0, 0]
        for row in frames[:3].astype(int):
            assert np.all(np.diff(row) > 0) and row[-1] - row[0] < 6 + 3  # inside a 9-frame window
        # 5 frames tiled to cover the 9-frame window: 6 frames drawn from the repeated sequence
        assert np.all(frames[3] < 5) and len(frames[3]) == 6
    assert collate("fixed_ordered", lengths, frames_num_fixed=6, frames_skip_num=3).short_count == 1


def test_fixed_allordered_keeps_temporal_order():
    frames = collate("fixed_allordered", [30, 30], frames_num_fixed=8).seqs[0][..., 0, 0].astype(int)
    assert np.all(np.diff(frames, axis=1) > 0)


def test_unfixed_packs_variable_counts_with_seqL():
    batch = collate("unfixed_unordered", [20, 20, 20, 20], frames_num_min=3, frames_num_max=7)
    counts = batch.seqL[0]
    assert batch.seqs[0].shape == (1, counts.sum(), 4, 4)
    assert counts.min() >= 3 and counts.max() <= 7
    pieces = np.split(batch.seqs[0][0, :, 0, 0], np.cumsum(counts)[:-1])
    assert all(len(set(p)) == len(p) for p in pieces)


def test_all_ordered_packs_whole_sequences_up_to_the_limit():
    batch = collate("all_ordered", [5, 3, 7])
    np.testing.assert_array_equal(batch.seqL, [[5, 3, 7]])
    np.testing.assert_array_equal(batch.seqs[0][0, :, 0, 0], [0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6])
    limited = collate("all_ordered", [5, 3, 7], frames_all_limit=4)
    np.testing.assert_array_equal(limited.seqL, [[4, 3, 4]])
    np.testing.assert_array_equal(limited.seqs[0][0, :, 0, 0], [0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3])


def test_frame_choice_is_a_function_of_the_batch_seed():
    a = collate("fixed_ordered", [30, 17, 9], seed=5, frames_num_fixed=6, frames_skip_num=2).seqs[0]
    b = collate("fixed_ordered", [30, 17, 9], seed=5, frames_num_fixed=6, frames_skip_num=2).seqs[0]
    c = collate("fixed_ordered", [30, 17, 9], seed=6, frames_num_fixed=6, frames_skip_num=2).seqs[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def fake_dataset(members_per_label):
    labels = [f"{i:03d}" for i in range(len(members_per_label))]
    indices, start = {}, 0
    for label, m in zip(labels, members_per_label):
        indices[label] = list(range(start, start + m))
        start += m
    return SimpleNamespace(label_set=labels, indices_dict=indices)


def test_triplet_batches_hold_p_ids_of_k_sequences_each():
    dataset = fake_dataset([5, 5, 2, 6, 5])
    owner = {i: label for label, members in dataset.indices_dict.items() for i in members}
    sampler = TripletSampler(dataset, [3, 4], seed=1)
    for b in range(20):
        batch = [k.index for k in sampler.batch(b)]
        groups = [batch[i:i + 4] for i in range(0, 12, 4)]
        ids = [owner[g[0]] for g in groups]
        assert len(set(ids)) == 3
        for label, group in zip(ids, groups):
            assert all(owner[i] == label for i in group)
            if len(dataset.indices_dict[label]) >= 4:
                assert len(set(group)) == 4  # without replacement when the id has enough sequences


def test_triplet_batches_are_reproducible_and_split_over_ranks():
    dataset = fake_dataset([4] * 6)
    single = TripletSampler(dataset, [4, 2], batch_shuffle=True, seed=3)
    ranks = [TripletSampler(dataset, [4, 2], batch_shuffle=True, seed=3, rank=r, world_size=2) for r in range(2)]
    for b in (0, 1, 57):
        whole = [k.index for k in single.batch(b)]
        assert whole == [k.index for k in TripletSampler(dataset, [4, 2], batch_shuffle=True, seed=3).batch(b)]
        shares = [[k.index for k in r.batch(b)] for r in ranks]
        assert shares[0] == whole[0::2] and shares[1] == whole[1::2]
        assert {k.batch_index for k in ranks[1].batch(b)} == {b}
        assert ranks[0].batch(b)[0].seed != ranks[1].batch(b)[0].seed  # each rank its own frame choice
    assert [k.index for k in single.batch(0)] != [k.index for k in single.batch(1)]
    single.start_batch = 57
    assert next(iter(single)) == single.batch(57)
    with pytest.raises(ValueError, match=r"batch_size 3 x 1 = 3 is not divisible by the 2 processes"):
        TripletSampler(dataset, [3, 1], world_size=2)
    with pytest.raises(ValueError, match=r"batch_size must be \[P, K\]"):
        TripletSampler(dataset, 8)


@pytest.mark.parametrize("size, batch_size, world_size", [(10, 1, 1), (10, 4, 1), (10, 3, 2), (7, 16, 3), (5, 2, 4)])
def test_inference_sampler_covers_every_sequence_once(size, batch_size, world_size):
    dataset = SimpleNamespace(lengths=np.arange(size) % 3 + 1)
    seen = []
    for rank in range(world_size):
        sampler = InferenceSampler(dataset, batch_size, rank=rank, world_size=world_size)
        batches = list(sampler)
        assert len(batches) == len(sampler)
        assert all(0 < len(b) <= -(-batch_size // world_size) for b in batches)
        seen += [k.index for b in batches for k in b]
    assert sorted(seen) == list(range(size))


def test_inference_sampler_batches_equal_lengths_together_longest_first():
    dataset = SimpleNamespace(lengths=np.array([3, 5, 3, 5, 3, 5, 4]))
    batches = [[k.index for k in batch] for batch in InferenceSampler(dataset, 3)]
    assert batches == [[1, 3, 5], [6, 0, 2], [4]]  # 5 5 5 | 4 3 3 | 3, ties in dataset order
    shares = [[[k.index for k in b] for b in InferenceSampler(dataset, 4, rank=r, world_size=2)] for r in (0, 1)]
    assert shares == [[[1, 3], [0, 2]], [[5, 6], [4]]]  # chunks of 2 dealt in turn


def test_transforms_cut_divide_and_flip_whole_sequences():
    x = torch.arange(2 * 3 * 2 * 64, dtype=torch.float32).reshape(2, 3, 2, 64)
    cut, = get_transform([{"type": "BaseSilCuttingTransform"}], "t")
    torch.testing.assert_close(cut(x), x[..., 10:-10] / 255.0)
    sil, = get_transform({"type": "BaseSilTransform", "divsor": 2.0}, "t")
    torch.testing.assert_close(sil(x), x / 2)
    flip, = get_transform([{"type": "RandomHorizontalFlip", "prob": 0.5}], "t")
    generator = torch.Generator().manual_seed(0)
    decisions = torch.rand(2, generator=torch.Generator().manual_seed(0)) < 0.5
    out = flip(x, None, generator)
    for i in range(2):
        torch.testing.assert_close(out[i], x[i].flip(-1) if decisions[i] else x[i])
    # packed: one decision per sequence, applied to all its frames
    packed, seqL = x.reshape(1, 6, 2, 64), torch.tensor([[4, 2]])
    decisions = torch.rand(2, generator=torch.Generator().manual_seed(1)) < 0.5
    out = flip(packed, seqL, torch.Generator().manual_seed(1))
    for frame in range(6):
        flipped = decisions[0] if frame < 4 else decisions[1]
        torch.testing.assert_close(out[0, frame], packed[0, frame].flip(-1) if flipped else packed[0, frame])
    always, = get_transform([{"type": "Compose", "trf_cfg": [{"type": "BaseSilCuttingTransform", "cutting": 2},
                                                               {"type": "RandomHorizontalFlip", "prob": 1.0}]}], "t")
    torch.testing.assert_close(always(x), (x[..., 2:-2] / 255.0).flip(-1))


def test_engine_only_resize():
    resize, = get_transform([{"type": "Resize", "size": [8, 6]}], "t")
    x = torch.rand(2, 5, 16, 12)
    out = resize(x)
    assert out.shape == (2, 5, 8, 6)
    expected = torch.nn.functional.interpolate(x[1, 2][None, None], size=(8, 6), mode="bilinear", antialias=True)
    torch.testing.assert_close(out[1, 2], expected[0, 0])
