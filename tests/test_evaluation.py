"""Evaluation: hand-computed rank-1 cases, protocol checks, bad input, output files."""
import csv
import logging

import numpy as np
import pytest
import torch

from opengait_local3d.engine.evaluation import (
    check_test_set, distance_matrix, evaluate_indoor_dataset, get_protocol, prepare_features)

KEY = "scalar/test_accuracy/"


def sequences(rows):
    """rows of (label, type, view, features per part) -> OpenGait's data dict, embeddings [N, 1, p]."""
    return {"embeddings": np.array([[f] for *_, f in rows], dtype=np.float32),
            "labels": [r[0] for r in rows], "types": [r[1] for r in rows], "views": [r[2] for r in rows]}


# Embeddings of c = 1 feature and p = 2 parts, so a sequence is a point (x, y) and the distance is
# (|dx| + |dy|) / 2 (each part's Euclidean distance, averaged). Gallery nm-01 at views 000 and 090.
CASIA_B_CASE = sequences([
    ("A", "nm-01", "000", [0.0, 0.0]), ("B", "nm-01", "000", [1.4, -1.6]),
    ("A", "nm-01", "090", [10.0, 10.0]), ("B", "nm-01", "090", [13.0, 10.0]),
    # NM probes. Distances to (A000, B000 | A090, B090):
    ("A", "nm-05", "000", [0.2, 0.0]),    # .1, 1.4 -> A ok | 9.9, 11.4 -> A ok
    ("B", "nm-05", "000", [1.4, -1.2]),   # 1.3, .2 -> B ok | 9.9, 11.4 -> A wrong
    ("A", "nm-06", "090", [12.0, 8.0]),   # 10, 10.1 -> A ok | 2, 1.5 -> B wrong
    ("B", "nm-06", "090", [13.0, 11.0]),  # 12, 12.1 -> A wrong | 2, .5 -> B ok
    # BG probes, view 000 only. The first is nearer A by the part-averaged distance (1.5 < 1.6) but
    # nearer B by the Euclidean distance of the flattened features (3 > 2.26).
    ("A", "bg-01", "000", [3.0, 0.0]),    # 1.5, 1.6 -> A ok | 8.5, 10 -> A ok
    ("B", "bg-02", "000", [1.5, -1.5]),   # 1.5, .1 -> B ok | 10, 11.5 -> A wrong
    # CL probes; subject C has no gallery sequence at all.
    ("A", "cl-01", "000", [0.0, 1.0]),    # .5, 2 -> A ok | 9.5, 11 -> A ok
    ("A", "cl-01", "090", [10.0, 10.4]),  # 10.2, 10.3 -> A ok | .2, 1.7 -> A ok
    ("C", "cl-02", "090", [5.0, 5.0]),    # always wrong
])


def test_casia_b_hand_computed():
    result = evaluate_indoor_dataset(CASIA_B_CASE, "CASIA-B")
    # NM matrix (rows probe view, columns gallery view): [[100, 50], [50, 50]]
    # BG: [[100, 50], [-, -]]; CL: [[100, 100], [50, 50]], with C discarded [[100, 100], [100, 100]].
    assert result == pytest.approx({
        KEY + "NM@R1": (50 + 50) / 2, KEY + "BG@R1": 50.0, KEY + "CL@R1": (100 + 50) / 2,
        KEY + "NM@R1-identical-included": (75 + 50) / 2, KEY + "BG@R1-identical-included": 75.0,
        KEY + "CL@R1-identical-included": (100 + 50) / 2,
        KEY + "NM@R1-gallery-matched": 50.0, KEY + "BG@R1-gallery-matched": 50.0,
        KEY + "CL@R1-gallery-matched": 100.0,
    })


def test_casia_b_hand_computed_matrices():
    from opengait_local3d.engine.evaluation import as_test_set, single_view_rank1

    result = single_view_rank1(as_test_set(CASIA_B_CASE), get_protocol("CASIA-B"), "euc", chunk=2)
    nan = np.nan
    np.testing.assert_array_equal(result.accuracy, [[[100, 50], [50, 50]], [[100, 50], [nan, nan]],
                                                    [[100, 100], [50, 50]]])
    np.testing.assert_array_equal(result.matched_accuracy[2], [[100, 100], [100, 100]])
    np.testing.assert_array_equal(result.probe_counts, [[2, 2], [2, 0], [1, 2]])
    assert result.views == ["000", "090"] and result.conditions == ["NM", "BG", "CL"]


def test_oumvlp_hand_computed_gallery_matched():
    # Subject B has no gallery sequence ('01') at view 090.
    data = sequences([
        ("A", "01", "000", [0.0, 0.0]), ("A", "01", "090", [10.0, 10.0]), ("B", "01", "000", [5.0, 5.0]),
        ("A", "00", "000", [1.0, 1.0]),  # 000: A 1, B 4 -> ok | 090: A only -> ok
        ("B", "00", "000", [5.0, 4.0]),  # 000: A 4.5, B .5 -> ok | 090: A only -> wrong (no B there)
        ("B", "00", "090", [6.0, 6.0]),  # 000: A 6, B 1 -> ok | 090: A only -> wrong (no B there)
    ])
    result = evaluate_indoor_dataset(data, "OUMVLP")
    # matrix [[100, 50], [100, 0]]; discarding B at gallery view 090: [[100, 100], [100, -]]
    assert result == pytest.approx({KEY + "NM@R1": (50 + 100) / 2,
                                    KEY + "NM@R1-identical-included": (75 + 50) / 2,
                                    KEY + "NM@R1-gallery-matched": 100.0})


def test_cross_view_gallery_hand_computed():
    # CASIA-B cross-view protocol: probes nm-01/bg-01/cl-01, gallery nm-02/bg-02/cl-02 of all views;
    # the probe subject's gallery sequences at the probe's own view are left out.
    data = sequences([
        ("A", "nm-02", "000", [0.0, 0.0]), ("A", "cl-02", "090", [4.0, 4.0]),
        ("B", "bg-02", "000", [1.0, 1.0]), ("B", "nm-02", "090", [6.0, 6.0]),
        # A at 000: A000 left out; B000 .5, A090 3.5, B090 5.5 -> ranks: B, A, B: rank-1 wrong, AP 1/2
        ("A", "nm-01", "000", [0.5, 0.5]),
        # B at 090: B090 left out; A000 5, A090 1, B000 4 -> A, B, A: wrong, AP 1/2
        ("B", "bg-01", "090", [5.0, 5.0]),
        # A at 090: A090 left out; A000 1.5, B000 .5, B090 4.5 -> B, A, B: wrong, AP 1/2
        ("A", "cl-01", "090", [1.5, 1.5]),
        # B at 000: B000 left out; A000 2.5, A090 1.5, B090 3.5 -> A, A, B: wrong, AP 1/3
        ("B", "cl-01", "000", [2.5, 2.5]),
        # A at 090 again: A000 .25, B000 .75, B090 5.75 -> A first: rank-1 ok, AP 1
        ("A", "nm-01", "090", [0.25, 0.25]),
    ])
    result = evaluate_indoor_dataset(data, "CASIA-B", cross_view_gallery=True)
    assert result == pytest.approx({
        KEY + "NM-Rank@1": (0 + 100) / 2, KEY + "BG-Rank@1": 0.0, KEY + "CL-Rank@1": 0.0,
        KEY + "NM-mAP": (50 + 100) / 2, KEY + "BG-mAP": 50.0, KEY + "CL-mAP": (100 / 3 + 50) / 2,
    })


def test_cosine_metric_hand_computed():
    # One part, c = 2: the cosine distance sees directions only, the Euclidean one lengths too.
    data = sequences([
        ("A", "01", "000", [10.0, 0.0]), ("B", "01", "000", [0.0, 1.0]),
        ("A", "01", "090", [10.0, 1.0]), ("B", "01", "090", [1.0, 10.0]),
        ("A", "00", "090", [0.6, 0.4]),  # vs 000: cosine A .83, B .55 -> A; Euclidean A 9.41, B .85 -> B
        ("B", "00", "000", [1.0, 3.0]),  # vs 090: cosine A .41, B .98 -> B; Euclidean A 9.2, B 7 -> B
    ])
    data["embeddings"] = data["embeddings"].transpose(0, 2, 1)  # [N, c=2, p=1]
    assert evaluate_indoor_dataset(data, "OUMVLP", metric="cos")[KEY + "NM@R1"] == 100.0
    assert evaluate_indoor_dataset(data, "OUMVLP", metric="euc")[KEY + "NM@R1"] == 50.0


@pytest.mark.parametrize("metric", ["euc", "cos"])
def test_distance_matrix_matches_torch(metric):
    gen = torch.Generator().manual_seed(0)
    emb = torch.randn(23, 5, 3, generator=gen, dtype=torch.float64)
    gallery = prepare_features(emb, range(7, 23), metric, "gallery")
    got = distance_matrix(gallery, prepare_features(emb, range(7), metric, "probe"), block=3)  # last block partial
    x, y = emb[:7].permute(2, 0, 1), emb[7:].permute(2, 0, 1)
    if metric == "euc":
        expected = torch.cdist(y, x).mean(0)
    else:
        expected = 1 - torch.nn.functional.cosine_similarity(y[:, :, None], x[:, None], dim=-1).mean(0)
    torch.testing.assert_close(got, expected)


def test_distance_matrix_rejects_swapped_sides():
    emb = torch.ones(4, 2, 1)
    with pytest.raises(ValueError, match="gallery and probe features of one metric"):
        distance_matrix(prepare_features(emb, [0], "euc", "probe"), prepare_features(emb, [1], "euc", "gallery"))


def test_torch_and_numpy_inputs_agree_and_input_is_untouched():
    data = dict(CASIA_B_CASE, embeddings=torch.from_numpy(CASIA_B_CASE["embeddings"].copy()))
    before = data["embeddings"].clone()
    assert evaluate_indoor_dataset(data, "CASIA-B", metric="cos") == \
        evaluate_indoor_dataset(CASIA_B_CASE, "CASIA-B", metric="cos")
    assert torch.equal(data["embeddings"], before)


@pytest.mark.parametrize("name,canonical", [("CASIA-B", "CASIA-B"), ("casia_b", "CASIA-B"),
                                            ("OUMVLP", "OUMVLP"), ("OU-MVLP", "OUMVLP"),
                                            ("SynthGait", "CASIA-B")])
def test_dataset_spellings(name, canonical):
    assert get_protocol(name).dataset == canonical


def test_protocols_as_designed():
    casia = get_protocol("CASIA-B")
    assert casia.gallery_types == ("nm-01", "nm-02", "nm-03", "nm-04")
    assert dict(casia.conditions) == {"NM": ("nm-05", "nm-06"), "BG": ("bg-01", "bg-02"),
                                      "CL": ("cl-01", "cl-02")}
    assert get_protocol("OUMVLP").gallery_types == ("01",) and dict(get_protocol("OUMVLP").conditions) == {
        "NM": ("00",)}
    cross = get_protocol("CASIA-B", cross_view_gallery=True)
    assert cross.gallery_types == ("nm-02", "bg-02", "cl-02") and cross.probe_types == ("nm-01", "bg-01", "cl-01")


def test_unknown_dataset_suggests():
    with pytest.raises(ValueError, match="did you mean 'OUMVLP'"):
        get_protocol("OUMVLB")


@pytest.mark.parametrize("types,views,message", [
    (["nm-05", "bg-01", "cl-01"], ["000", "090", "000"], "no gallery sequences of type nm-01/nm-02/nm-03/nm-04"),
    (["nm-01", "nm-05", "bg-01"], ["000", "090", "000"],
     "CASIA-B test set has no probe sequences of type cl-01/cl-02 \\(condition CL\\)"),
    (["nm-01", "nm-05", "bg-02", "cl-02"], ["090"] * 4, "single view \\(090\\)"),
])
def test_check_test_set_names_what_is_missing(types, views, message):
    with pytest.raises(ValueError, match=message):
        check_test_set("CASIA-B", types, views)


def test_check_test_set_passes_and_lists_every_missing_condition():
    assert check_test_set("CASIA-B", ["nm-01", "nm-05", "bg-01", "cl-02"], ["000", "018", "000", "036"]).dataset \
        == "CASIA-B"
    with pytest.raises(ValueError, match="type bg-01/bg-02 \\(condition BG\\); no probe .* \\(condition CL\\)"):
        check_test_set("CASIA-B", ["nm-01", "nm-05"], ["000", "018"])
    with pytest.raises(ValueError, match="no gallery sequences of type nm-02/bg-02/cl-02"):
        check_test_set("CASIA-B", ["nm-01", "bg-01", "cl-01"], ["000"] * 3, cross_view_gallery=True)


def test_evaluate_applies_the_test_set_check():
    data = sequences([r for r in zip(CASIA_B_CASE["labels"], CASIA_B_CASE["types"], CASIA_B_CASE["views"],
                                     CASIA_B_CASE["embeddings"][:, 0].tolist()) if not r[1].startswith("cl")])
    with pytest.raises(ValueError, match="condition CL"):
        evaluate_indoor_dataset(data, "CASIA-B")


@pytest.mark.parametrize("change,message", [
    (lambda d: d.pop("views"), "lacks 'views'"),
    (lambda d: d.update(embeddings=d["embeddings"][:, 0]), "must be \\[N, c, p\\]"),
    (lambda d: d.update(labels=d["labels"][:-1]), "labels has 12"),
    (lambda d: d["embeddings"].__setitem__((3, 0, 1), np.nan), "NaN or infinite values in 1 sequence"),
    (lambda d: d.update(embeddings=d["embeddings"].astype(object)), "dtype object"),
])
def test_bad_data_is_named(change, message):
    data = {k: (v.copy() if isinstance(v, np.ndarray) else list(v)) for k, v in CASIA_B_CASE.items()}
    change(data)
    with pytest.raises(ValueError, match=message):
        evaluate_indoor_dataset(data, "CASIA-B")


def test_unknown_metric():
    with pytest.raises(ValueError, match="metric must be one of"):
        evaluate_indoor_dataset(CASIA_B_CASE, "CASIA-B", metric="l1")


def test_views_sort_by_angle():
    data = sequences([
        ("A", "01", "18", [0.0, 0.0]), ("A", "01", "108", [1.0, 1.0]), ("B", "01", "18", [5.0, 5.0]),
        ("B", "01", "108", [6.0, 6.0]),
        ("A", "00", "18", [1.0, 1.0]),  # 18: A 1, B 4 -> ok | 108: A 0, B 5 -> ok
        ("B", "00", "108", [0.2, 0.2]),  # 18: A .2 -> wrong | 108: A .8 -> wrong
    ])
    from opengait_local3d.engine.evaluation import as_test_set, single_view_rank1

    result = single_view_rank1(as_test_set(data), get_protocol("OUMVLP"), "euc")
    assert result.views == ["18", "108"]
    np.testing.assert_array_equal(result.accuracy[0], [[100, 100], [0, 0]])


def test_tables_are_logged_and_written(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="opengait_local3d.engine.evaluation"):
        result = evaluate_indoor_dataset(CASIA_B_CASE, "CASIA-B", output_dir=tmp_path / "out")
    log = caplog.text
    assert "identical views excluded" in log and "NM (nm-05/nm-06)" in log
    assert "BG: 1 of 2 cross-view" in log  # BG has no probes at view 090

    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "rank1_CASIA-B_euc.md", "rank1_CASIA-B_euc_matrices.csv", "rank1_CASIA-B_euc_summary.csv"]
    with open(out / "rank1_CASIA-B_euc_summary.csv", newline="") as handle:
        summary = list(csv.DictReader(handle))
    assert list(summary[0]) == ["figure", "Probe", "000", "090", "Mean"]
    by_row = {(r["figure"], r["Probe"].split()[0]): r for r in summary}
    assert float(by_row["identical-excluded", "CL"]["Mean"]) == pytest.approx(result[KEY + "CL@R1"])
    assert float(by_row["identical-excluded", "CL"]["090"]) == 50.0
    assert by_row["identical-excluded", "BG"]["090"] == ""  # undefined cell
    assert float(by_row["gallery-matched", "CL"]["Mean"]) == 100.0
    with open(out / "rank1_CASIA-B_euc_matrices.csv", newline="") as handle:
        matrices = list(csv.reader(handle))
    assert matrices[0] == ["condition", "Probe view", "000", "090", "Mean excl. identical"]
    assert matrices[1:3] == [["NM", "000", "100.0000", "50.0000", "50.0000"],
                             ["NM", "090", "50.0000", "50.0000", "50.0000"]]
    markdown = (out / "rank1_CASIA-B_euc.md").read_text()
    assert "| NM (nm-05/nm-06) | 75.00 | 50.00 | 62.50 |" in markdown  # identical included, then mean
    assert "| 090 | - | - | - |" in markdown  # BG matrix row without probes


def test_cross_view_tables_written(tmp_path):
    evaluate_indoor_dataset(CASIA_B_CASE | {"types": [t.replace("nm-05", "nm-01").replace("nm-06", "nm-02")
                                                      .replace("bg-02", "cl-02") for t in CASIA_B_CASE["types"]]},
                            "CASIA-B", metric="cos", cross_view_gallery=True, output_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cross_view_CASIA-B_cos.md",
                                                          "cross_view_CASIA-B_cos_summary.csv"]
    rows = (tmp_path / "cross_view_CASIA-B_cos_summary.csv").read_text().splitlines()
    assert rows[0] == "figure,Probe,000,090,Mean"
    assert [r.split(",")[0] for r in rows[1:]] == ["rank-1"] * 3 + ["mAP"] * 3
