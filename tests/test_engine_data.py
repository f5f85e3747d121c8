"""The pkl-layout dataset and every bad-input case, with errors naming the file or key."""
from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
import torch.utils.data

from conftest import CASIA_B_TYPES, write_partition, write_pkl, write_pkl_dataset
from opengait_local3d.engine.data import CollateFn, GaitDataset, SampleKey, load_sequence
from opengait_local3d.errors import ConfigError, DataError


def data_cfg(root, partition, **extra):
    return {"dataset_name": "CASIA-B", "dataset_root": str(root), "dataset_partition": str(partition), **extra}


def test_sequences_in_partition_order_with_opengait_attributes(tiny_casiab):
    test = GaitDataset(data_cfg(tiny_casiab.root, tiny_casiab.partition), training=False)
    n_per_id = len(CASIA_B_TYPES) * 2
    assert len(test) == len(tiny_casiab.test_ids) * n_per_id
    assert test.label_list == [i for i in tiny_casiab.test_ids for _ in range(n_per_id)]
    assert test.types_list[:4] == ["bg-01", "bg-01", "bg-02", "bg-02"]  # sorted by name, views inside
    assert test.views_list[:4] == ["000", "090", "000", "090"]
    assert test.label_set == sorted(tiny_casiab.test_ids)
    assert test.indices_dict["006"] == list(range(n_per_id, 2 * n_per_id))
    sample = test[SampleKey(3, batch_index=7, seed=11)]
    expected = load_sequence(tiny_casiab.root / "005" / "bg-02" / "090" / "090.pkl")
    np.testing.assert_array_equal(sample.frames[0], expected)
    assert (sample.info.label, sample.info.type, sample.info.view, sample.key.seed) == ("005", "bg-02", "090", 11)
    train = GaitDataset(data_cfg(tiny_casiab.root, tiny_casiab.partition), training=True)
    assert train.label_set == list(tiny_casiab.train_ids)


def test_cache_holds_the_same_arrays_and_longest_sequence_agrees(tiny_casiab):
    plain = GaitDataset(data_cfg(tiny_casiab.root, tiny_casiab.partition), training=True)
    cached = GaitDataset(data_cfg(tiny_casiab.root, tiny_casiab.partition, cache=True), training=True)
    assert all(d is not None for d in cached.seqs_data)
    for i in (0, 5, len(plain) - 1):
        np.testing.assert_array_equal(plain[i].frames[0], cached[i].frames[0])
    true_longest = max(len(plain[i].frames[0]) for i in range(len(plain)))
    assert plain.longest_sequence()[0] == cached.longest_sequence()[0] == true_longest


def test_data_in_use_selects_pkl_files(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a.pkl", "b.pkl", "c.pkl"):
        write_pkl(tmp_path / "data" / "001" / "nm-01" / "000" / name, rng.integers(0, 255, (5, 4, 4), dtype=np.uint8))
    partition = write_partition(tmp_path / "p.json", ["001"], ["001"])
    by_mask = GaitDataset(data_cfg(tmp_path / "data", partition, data_in_use=[True, False, True]), training=True)
    by_index = GaitDataset(data_cfg(tmp_path / "data", partition, data_in_use=[2]), training=True)
    assert [p.rsplit("/", 1)[1] for p in by_mask.seqs_info[0].paths] == ["a.pkl", "c.pkl"]
    assert len(by_mask[0].frames) == 2
    assert [p.rsplit("/", 1)[1] for p in by_index.seqs_info[0].paths] == ["c.pkl"]
    with pytest.raises(ConfigError, match="data_cfg.data_in_use: expected a list of bools or of indices"):
        GaitDataset(data_cfg(tmp_path / "data", partition, data_in_use="all"), training=True)


@pytest.fixture
def small_copy(tiny_casiab, tmp_path):
    """A writable copy of two ids (001 train, 005 test)."""
    root = tmp_path / "data"
    for label in ("001", "005"):
        shutil.copytree(tiny_casiab.root / label, root / label)
    return root, write_partition(tmp_path / "p.json", ["001"], ["005"])


def test_missing_root_and_partition_problems_are_named(small_copy, tmp_path):
    root, partition = small_copy
    with pytest.raises(DataError, match=rf"data_cfg.dataset_root: {tmp_path / 'nowhere'} is not a directory"):
        GaitDataset(data_cfg(tmp_path / "nowhere", partition), training=True)
    with pytest.raises(ConfigError, match=r"data_cfg.dataset_partition: .*nope.json does not exist"):
        GaitDataset(data_cfg(root, tmp_path / "nope.json"), training=True)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match=r"bad.json: cannot read the partition JSON"):
        GaitDataset(data_cfg(root, tmp_path / "bad.json"), training=True)
    (tmp_path / "keys.json").write_text('{"TRAIN": ["001"]}')
    with pytest.raises(DataError, match=r"keys.json: expected .*no list TRAIN_SET"):
        GaitDataset(data_cfg(root, tmp_path / "keys.json"), training=True)
    absent = write_partition(tmp_path / "absent.json", ["001", "002", "003"], ["005"])
    with pytest.raises(DataError, match=r"absent.json: 2 of the 3 TRAIN_SET ids are absent from data_cfg.dataset_root "
                                        r".*: 002, 003"):
        GaitDataset(data_cfg(root, absent), training=True)
    (root / "009").mkdir()
    empty = write_partition(tmp_path / "empty.json", ["009"], ["005"])
    with pytest.raises(DataError, match=r"no .pkl sequences for the 1 ids of TRAIN_SET"):
        GaitDataset(data_cfg(root, empty), training=True)


@pytest.mark.parametrize("content, message", [
    (b"\x80\x04\x95garbage", r"corrupt pkl \("),
    (b"", r"corrupt pkl \(EOFError"),
    (pickle.dumps(np.zeros((0, 16, 16), np.uint8)), r"empty sequence \(0 frames\)"),
    (pickle.dumps(np.zeros((4, 16, 16), np.float32)), r"dtype float32, expected uint8"),
    (pickle.dumps(np.zeros((4, 16, 16, 3), np.uint8)), r"shape \[4, 16, 16, 3\] has rank 4, expected \[T, H, W\]"),
    (pickle.dumps([1, 2, 3]), r"holds a list, expected a uint8 array"),
])
def test_bad_pkl_is_named_when_the_dataset_opens(small_copy, content, message):
    root, partition = small_copy
    bad = root / "001" / "nm-03" / "090" / "090.pkl"
    good = load_sequence(root / "001" / "nm-01" / "000" / "000.pkl")
    bad.write_bytes(content)
    for cache in (False, True):  # pkl headers only, or the arrays the cache loads
        with pytest.raises(DataError, match=rf"^{root}: 1 pkl file\(s\) of the 20 TRAIN_SET sequences cannot be used "
                                            rf"\(expected uint8 \[T, 16, 16\], as the others\); fix or remove them:\n"
                                            rf"  001/nm-03/090/090.pkl: {message}"):
            GaitDataset(data_cfg(root, partition, cache=cache), training=True)
    bad.write_bytes(pickle.dumps(good))  # a file that goes bad after the dataset opened: named when loaded
    dataset = GaitDataset(data_cfg(root, partition), training=True)
    bad.write_bytes(content)
    index = next(i for i, info in enumerate(dataset.seqs_info) if info.paths[0] == str(bad))
    with pytest.raises(DataError, match=rf"^{bad}: {message}"):
        dataset[index]


def test_every_file_of_another_frame_size_or_length_is_named_at_open(small_copy):
    root, partition = small_copy
    rng = np.random.default_rng(0)
    write_pkl(root / "001" / "nm-02" / "000" / "000.pkl", rng.integers(0, 255, (9, 20, 20), dtype=np.uint8))
    write_pkl(root / "001" / "bg-01" / "090" / "090.pkl", rng.integers(0, 255, (9, 16, 12), dtype=np.uint8))
    write_pkl(root / "001" / "cl-01" / "000" / "second.pkl", rng.integers(0, 255, (3, 16, 16), dtype=np.uint8))
    with pytest.raises(DataError) as raised:
        GaitDataset(data_cfg(root, partition), training=True)
    assert str(raised.value).splitlines()[1:] == [
        "  001/bg-01/090/090.pkl: frames of 16x12",
        "  001/cl-01/000: 2 pkl files (000.pkl, second.pkl), the others hold 1 (one per input)",
        "  001/nm-02/000/000.pkl: frames of 20x20",
    ]
    assert "Traceback" not in str(raised.value)


def test_what_the_scan_passes_over_is_listed_and_logged(small_copy, caplog):
    root, partition = small_copy
    shutil.copy(root / "001" / "nm-01" / "000" / "000.pkl", root / "001" / "stray.pkl")
    shutil.copy(root / "001" / "nm-01" / "000" / "000.pkl", root / "001" / "nm-01" / "stray.pkl")
    (root / "001" / "nm-01" / "180").mkdir()
    dataset = GaitDataset(data_cfg(root, partition), training=True)
    assert dataset.skipped == ["001/stray.pkl: a pkl outside <id>/<type>/<view>/",
                               "001/nm-01/stray.pkl: a pkl outside <id>/<type>/<view>/",
                               "001/nm-01/180: no .pkl file"]
    assert "skipped 3 entries of TRAIN_SET: 001/stray.pkl: a pkl outside" in caplog.text
    assert len(dataset) == 20 and dataset.frame_sizes == ((16, 16),)


def test_error_in_a_loader_worker_keeps_only_our_message(small_copy):
    root, partition = small_copy
    bad = root / "001" / "nm-01" / "000" / "000.pkl"
    dataset = GaitDataset(data_cfg(root, partition), training=True)
    bad.write_bytes(b"junk")  # after the dataset opened (which would have named it)
    collate = CollateFn(dataset.label_set, {"sample_type": "all_ordered"})
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=[[SampleKey(i) for i in range(len(dataset))]],
                                         collate_fn=collate, num_workers=1)
    with pytest.raises(DataError) as raised:
        next(iter(loader))
    assert str(raised.value).startswith(f"{bad}: corrupt pkl")
    assert "Traceback" not in str(raised.value)


def test_frames_of_different_sizes_in_one_batch_are_named(tmp_path):
    write_pkl_dataset(tmp_path / "data", ["001", "002"], types=["nm-01"], views=["000"], size=(16, 16))
    dataset = GaitDataset(data_cfg(tmp_path / "data", write_partition(tmp_path / "p.json", ["001", "002"], [])),
                          training=True)
    write_pkl_dataset(tmp_path / "data", ["002"], types=["nm-01"], views=["000"], size=(32, 32))  # after opening
    collate = CollateFn(dataset.label_set, {"sample_type": "all_ordered"})
    with pytest.raises(DataError, match=r"frames of different sizes in one batch: .*001.* \[16, 16\], .*002.* \[32, 32\]"):
        collate([dataset[0], dataset[1]])
