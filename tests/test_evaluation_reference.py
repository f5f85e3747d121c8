"""Evaluation against a brute-force reference: plain loops over probes, distances with numpy, and the
protocols written out here (OpenGait's evaluator: CASIA-B gallery nm-01..04 and probes NM nm-05/06, BG
bg-01/02, CL cl-01/02; OU-MVLP gallery '01', probe '00'; the cross-view-gallery protocol's CASIA-B probes
nm-01, bg-01, cl-01 against nm-02, bg-02, cl-02)."""
import numpy as np
import pytest

from opengait_local3d.engine.evaluation import (
    as_test_set, evaluate_indoor_dataset, get_protocol, single_view_rank1)

KEY = "scalar/test_accuracy/"
#: (dataset, cross_view_gallery) -> (gallery types, {condition: probe types}), conditions in report order
PROTOCOLS = {
    ("CASIA-B", False): (["nm-01", "nm-02", "nm-03", "nm-04"],
                         {"NM": ["nm-05", "nm-06"], "BG": ["bg-01", "bg-02"], "CL": ["cl-01", "cl-02"]}),
    ("OUMVLP", False): (["01"], {"NM": ["00"]}),
    ("CASIA-B", True): (["nm-02", "bg-02", "cl-02"], {"NM": ["nm-01"], "BG": ["bg-01"], "CL": ["cl-01"]}),
    ("OUMVLP", True): (["01"], {"NM": ["00"]}),
}


def random_test_set(dataset, seed):
    """Clustered random embeddings [N, c=6, p=3] with ~15% of the sequences dropped."""
    rng = np.random.default_rng(seed)
    if dataset == "CASIA-B":
        types = [f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"]
        views = ["000", "018", "036", "054"]
    else:
        types, views = ["00", "01"], ["000", "015", "030", "090", "180"]
    subjects = [f"{i:03d}" for i in range(7)]
    rows = [(s, t, v) for s in subjects for t in types for v in views if rng.random() > 0.15]
    centre = {s: rng.normal(size=(6, 3)) for s in subjects}
    view_shift = {v: rng.normal(size=(6, 3)) * 0.5 for v in views}
    emb = np.stack([centre[s] + view_shift[v] + rng.normal(size=(6, 3)) * 0.9 for s, _, v in rows])
    return {"embeddings": emb.astype(np.float32), "labels": [r[0] for r in rows],
            "types": [r[1] for r in rows], "views": [r[2] for r in rows]}


def reference_distance(x, y, metric):
    """OpenGait's distance between two [c, p] embeddings, in float64 without matrix products."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    if metric == "euc":
        return np.mean([np.sqrt(np.sum((x[:, k] - y[:, k]) ** 2)) for k in range(x.shape[1])])
    return 1 - np.mean([x[:, k] @ y[:, k] / np.linalg.norm(x[:, k]) / np.linalg.norm(y[:, k])
                        for k in range(x.shape[1])])


def reference_single_view(data, dataset, metric):
    """{(condition, probe view, gallery view): (correct, probes, probes with a gallery match)}."""
    gallery_types, conditions = PROTOCOLS[dataset, False]
    n = len(data["labels"])
    cells = {}
    for i in range(n):
        condition = next((c for c, types in conditions.items() if data["types"][i] in types), None)
        if condition is None:
            continue
        for gallery_view in sorted(set(data["views"])):
            gallery = [j for j in range(n) if data["types"][j] in gallery_types
                       and data["views"][j] == gallery_view]
            key = (condition, data["views"][i], gallery_view)
            correct, total, matched = cells.get(key, (0, 0, 0))
            if gallery:
                dists = [reference_distance(data["embeddings"][i], data["embeddings"][j], metric) for j in gallery]
                correct += data["labels"][gallery[int(np.argmin(dists))]] == data["labels"][i]
                total += 1
                matched += any(data["labels"][j] == data["labels"][i] for j in gallery)
            cells[key] = (correct, total, matched)
    return cells


def reference_figures(cells, conditions, views):
    """Mean over probe views of the mean over gallery views, for the three figures."""
    figures = {}
    for condition in conditions:
        for suffix, identical, matched in (("@R1", False, False), ("@R1-identical-included", True, False),
                                           ("@R1-gallery-matched", False, True)):
            per_view = []
            for pv in views:
                values = []
                for gv in views:
                    correct, total, num_matched = cells.get((condition, pv, gv), (0, 0, 0))
                    denominator = num_matched if matched else total
                    if (identical or gv != pv) and denominator:
                        values.append(100 * correct / denominator)
                if values:
                    per_view.append(np.mean(values))
            figures[KEY + condition + suffix] = np.mean(per_view)
    return figures


@pytest.mark.parametrize("dataset", ["CASIA-B", "OUMVLP"])
@pytest.mark.parametrize("metric", ["euc", "cos"])
def test_single_view_matches_brute_force(dataset, metric):
    data = random_test_set(dataset, seed=1 if metric == "euc" else 2)
    cells = reference_single_view(data, dataset, metric)
    conditions = list(PROTOCOLS[dataset, False][1])
    views = sorted(set(data["views"]))
    result = evaluate_indoor_dataset(data, dataset, metric=metric)
    assert result == pytest.approx(reference_figures(cells, conditions, views))
    assert 20 < result[KEY + "NM@R1"] < 100  # a case where ranking matters

    matrices = single_view_rank1(as_test_set(data), get_protocol(dataset), metric, chunk=5)  # several probe chunks
    assert matrices.conditions == conditions and matrices.views == views
    for c, condition in enumerate(conditions):
        for i, pv in enumerate(views):
            for j, gv in enumerate(views):
                correct, total, matched = cells.get((condition, pv, gv), (0, 0, 0))
                expected = 100 * correct / total if total else np.nan
                np.testing.assert_allclose(matrices.accuracy[c, i, j], expected, err_msg=str((condition, pv, gv)))
                assert matrices.matched_counts[c, i, j] == matched


def test_gallery_matched_figure_differs_when_gallery_is_missing():
    data = random_test_set("OUMVLP", seed=1)
    result = evaluate_indoor_dataset(data, "OUMVLP")
    assert result[KEY + "NM@R1-gallery-matched"] > result[KEY + "NM@R1"]


def reference_cross_view(data, dataset, metric):
    """{(condition, probe view): (rank-1 hits, probes, sum of AP, probes with a match)} (OpenGait's rule)."""
    gallery_types, conditions = PROTOCOLS[dataset, True]
    n = len(data["labels"])
    labels, views = data["labels"], data["views"]
    cells = {}
    for i in range(n):
        condition = next((c for c, types in conditions.items() if data["types"][i] in types), None)
        if condition is None:
            continue
        gallery = [j for j in range(n) if data["types"][j] in gallery_types
                   and not (views[j] == views[i] and labels[j] == labels[i])]
        dists = [reference_distance(data["embeddings"][i], data["embeddings"][j], metric) for j in gallery]
        hits = [labels[gallery[k]] == labels[i] for k in np.argsort(dists, kind="stable")]
        ap, found = 0.0, 0
        for rank, hit in enumerate(hits, start=1):
            if hit:
                found += 1
                ap += found / rank
        r1, total, ap_sum, valid = cells.get((condition, views[i]), (0, 0, 0.0, 0))
        cells[(condition, views[i])] = (r1 + hits[0], total + 1, ap_sum + (ap / found if found else 0),
                                        valid + bool(found))
    return cells


@pytest.mark.parametrize("dataset", ["CASIA-B", "OUMVLP"])
@pytest.mark.parametrize("metric", ["euc", "cos"])
def test_cross_view_gallery_matches_brute_force(dataset, metric):
    data = random_test_set(dataset, seed=3)
    cells = reference_cross_view(data, dataset, metric)
    expected = {}
    for condition in PROTOCOLS[dataset, True][1]:
        rows = [cells[k] for k in sorted(cells) if k[0] == condition]
        expected[KEY + condition + "-Rank@1"] = np.mean([100 * r1 / total for r1, total, _, _ in rows])
        expected[KEY + condition + "-mAP"] = np.mean([100 * ap / valid for _, _, ap, valid in rows if valid])
    assert evaluate_indoor_dataset(data, dataset, metric=metric, cross_view_gallery=True) == pytest.approx(expected)
