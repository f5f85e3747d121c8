"""``enroll`` and ``identify``: galleries, matching as the evaluator matches, thresholds, and bad input."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from conftest import TinyDataset, tiny_engine_config, write_pkl_dataset
from opengait_local3d.cli import main as cli_main
from opengait_local3d.datasets.synthgait import generate
from opengait_local3d.deploy.enrollment import enroll
from opengait_local3d.deploy.gallery import Gallery, GalleryModel, load_gallery
from opengait_local3d.deploy.identification import calibrate, identify, nearest_identities
from opengait_local3d.errors import OutputError
from opengait_local3d.engine.launcher import run

GALLERY_TYPES, PROBE_TYPES = ("nm-01", "nm-02", "nm-03", "nm-04"), ("nm-05", "nm-06")
ITERATION = 2


def _subset(root: Path, out: Path, ids, types) -> Path:
    """A pkl layout of ``ids`` x ``types`` of ``root``, its type folders linked."""
    for id_ in ids:
        for type_ in types:
            (out / id_).mkdir(parents=True, exist_ok=True)
            (out / id_ / type_).symlink_to(root / id_ / type_)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny SynthGait (3 training, 2 test ids, 3 views), GaitPart trained 2 iterations and tested at 2."""
    base = tmp_path_factory.mktemp("deploy")
    synth = generate(base / "SynthGait", subjects=5, views=(0, 90, 180), frames=8, size=16, workers=1,
                     progress=False)
    partition = json.loads(Path(synth.partition).read_text())
    dataset = TinyDataset(Path(synth.root), Path(synth.partition), tuple(partition["TRAIN_SET"]),
                          tuple(partition["TEST_SET"]))
    config = base / "gaitpart.yaml"
    config.write_text(yaml.safe_dump(tiny_engine_config(dataset, "GaitPart", base / "output",
                                                        trainer_cfg={"total_iter": ITERATION, "save_iter": ITERATION})))
    run(config, "train", device="cpu")
    tested = run(config, "test", iteration=ITERATION, device="cpu")
    gallery_dir = _subset(dataset.root, base / "known", dataset.test_ids, GALLERY_TYPES)
    probe_dir = _subset(dataset.root, base / "walks", dataset.test_ids, PROBE_TYPES)
    return dataset, config, tested, gallery_dir, probe_dir


def test_identify_top1_per_gallery_view_is_the_evaluators_rank1(trained, tmp_path):
    dataset, config, tested, gallery_dir, probe_dir = trained
    gallery = tmp_path / "gallery.npz"
    enroll(config, ITERATION, gallery_dir, gallery, device="cpu")
    matrices = {}  # the evaluator's own table: (probe view, gallery view) -> NM rank-1 (%)
    with open(next(tested.save_path.glob("rank1_CASIA-B_euc-*_matrices.csv"))) as handle:
        for row in csv.DictReader(handle):
            if row["condition"] == "NM":
                matrices.update({(row["Probe view"], view): float(row[view]) for view in ("000", "090", "180")})
    assert f"sha256 {load_gallery(gallery).model.config_sha256[:12]}" in row["config"]  # the same config

    cells = {}
    for gallery_view in ("000", "090", "180"):
        results, matched = identify(gallery, probe_dir, top=1, device="cpu", views=[gallery_view])
        assert set(matched.views) == {gallery_view} and len(results) == len(dataset.test_ids) * 2 * 3
        for probe_view in ("000", "090", "180"):
            top1 = [r.match == r.id for r in results if r.view == probe_view]
            cells[probe_view, gallery_view] = 100 * sum(top1) / len(top1)
    assert cells.keys() == matrices.keys()
    for cell, value in cells.items():
        assert value == pytest.approx(matrices[cell], abs=1e-4), cell  # the CSV holds 4 decimals
    per_probe_view = [np.mean([cells[p, g] for g in ("000", "090", "180") if g != p]) for p in ("000", "090", "180")]
    assert np.mean(per_probe_view) == pytest.approx(tested.metrics["scalar/test_accuracy/NM@R1"], abs=1e-9)


def test_enroll_appends_replaces_and_refuses_another_model(trained, tmp_path, capsys):
    dataset, config, _, gallery_dir, _ = trained
    first, second = (_subset(dataset.root, tmp_path / name, [id_], GALLERY_TYPES)
                     for name, id_ in (("a", dataset.test_ids[0]), ("b", dataset.test_ids[1])))
    gallery = tmp_path / "gallery.npz"
    assert enroll(config, ITERATION, first, gallery, device="cpu").added == 4 * 3
    result = enroll(config, ITERATION, second, gallery, device="cpu")
    assert (result.added, result.replaced, len(result.gallery)) == (12, 0, 24)
    whole = enroll(config, ITERATION, gallery_dir, tmp_path / "whole.npz", device="cpu").gallery
    saved = load_gallery(gallery)
    assert sorted(saved.keys()) == sorted(whole.keys())
    order = np.argsort(whole.keys(), axis=0)[:, 0]  # the same sequences embed the same, enrolled apart or together
    assert saved.model.iteration == ITERATION and saved.model.checkpoint.endswith(f"tiny-{ITERATION:05d}.pt")
    assert saved.model.config_sha256 == whole.model.config_sha256 and saved.model.metric == "euc"
    np.testing.assert_allclose(np.sort(saved.embeddings.reshape(24, -1), axis=0),
                               np.sort(whole.embeddings[order].reshape(24, -1), axis=0), rtol=1e-6)
    again = enroll(config, ITERATION, second, gallery, device="cpu")
    assert (again.added, again.replaced, len(again.gallery)) == (12, 12, 24)

    other = tmp_path / "gaitset.yaml"
    other.write_text(yaml.safe_dump(tiny_engine_config(dataset, "GaitSet", tmp_path / "output")))
    with pytest.raises(OutputError, match=r"a gallery of GaitPart .* embedded by GaitSet"):
        enroll(other, 0, first, gallery, device="cpu")
    assert cli_main(["enroll", "--cfgs", str(other), "--iter", "0", "--data", str(first), "--out", str(gallery),
                     "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "GaitPart" in err and "GaitSet" in err and "Traceback" not in err
    assert len(load_gallery(gallery)) == 24  # untouched


def test_identify_writes_every_probe_with_its_nearest_and_reads_png_frames(trained, tmp_path, capsys):
    dataset, config, _, gallery_dir, probe_dir = trained
    gallery = tmp_path / "gallery.npz"
    assert cli_main(["enroll", "--cfgs", str(config), "--iter", str(ITERATION), "--data", str(gallery_dir),
                     "--out", str(gallery), "--device", "cpu"]) == 0
    out = tmp_path / "matches.csv"
    assert cli_main(["identify", "--gallery", str(gallery), "--probe", str(probe_dir), "--top", "2", "--out", str(out),
                     "--device", "cpu"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 * 2 * 3 and {r["id"] for r in rows} == set(dataset.test_ids)
    assert all(r["match"] == r["identity_1"] and float(r["distance_1"]) <= float(r["distance_2"]) for r in rows)
    assert all({r["identity_1"], r["identity_2"]} == set(dataset.test_ids) for r in rows)

    assert cli_main(["identify", "--gallery", str(gallery), "--probe", str(probe_dir), "--threshold", "0",
                     "--out", str(tmp_path / "open.json"), "--device", "cpu"]) == 0
    probes = json.loads((tmp_path / "open.json").read_text())["probes"]
    assert {p["match"] for p in probes} == {"unknown"} and all(len(p["nearest"]) == 2 for p in probes)

    sequence = probe_dir / dataset.test_ids[0] / "nm-05" / "090"
    frames = np.load(next(sequence.glob("*.pkl")), allow_pickle=True)
    png = tmp_path / "walk"
    png.mkdir()
    for k, frame in enumerate(frames):
        cv2.imwrite(str(png / f"{k:03d}.png"), np.pad(frame, 8))  # a raw frame: pretreat crops and centres it
    capsys.readouterr()
    assert cli_main(["identify", "--gallery", str(gallery), "--probe", str(png), "--top", "1", "--device", "cpu"]) == 0
    assert str(png) in capsys.readouterr().out


def test_bad_input_is_one_message(trained, tmp_path, capsys):
    dataset, config, _, gallery_dir, _ = trained
    gallery = tmp_path / "gallery.npz"
    enroll(config, ITERATION, _subset(dataset.root, tmp_path / "one", dataset.test_ids[:1], GALLERY_TYPES[:1]),
           gallery, device="cpu")
    larger = write_pkl_dataset(tmp_path / "larger", ["x"], types=["nm-05"], views=["000"], size=(24, 24))
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.npz").write_text("not a gallery")
    np.savez(tmp_path / "embeddings.npz", embeddings=np.zeros((1, 2, 1)))
    cases = [
        (["--gallery", str(gallery), "--probe", str(larger)], "frames of 24x24 pixels"),
        (["--gallery", str(gallery), "--probe", str(tmp_path / "empty")], "empty folder"),
        (["--gallery", str(tmp_path / "notes.npz"), "--probe", str(larger)], "notes.npz: not a gallery file"),
        (["--gallery", str(tmp_path / "embeddings.npz"), "--probe", str(larger)], "embeddings.npz: not a gallery"),
        (["--gallery", str(gallery), "--probe", str(tmp_path / "nowhere")], "nowhere: no such file or folder"),
    ]
    for arguments, message in cases:
        assert cli_main(["identify", *arguments, "--device", "cpu"]) == 2
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("opengait-local3d identify: error: ")]
        assert len(errors) == 1 and message in errors[0] and "Traceback" not in err, err
    for value in ("abc", "nan", "-1"):
        with pytest.raises(SystemExit) as exit_:
            cli_main(["identify", "--gallery", str(gallery), "--probe", str(larger), "--threshold", value])
        assert exit_.value.code == 2 and "argument --threshold: expected a" in capsys.readouterr().err


def _hand_gallery(values, ids) -> Gallery:
    """Embeddings of one feature and one part: Euclidean distances are differences of ``values``."""
    model = GalleryModel("m", {}, "c", "0" * 64, None, None, 0, "euc", ((1, 1),))
    n = len(ids)
    return Gallery(np.array(values, np.float32).reshape(n, 1, 1), np.array(ids), np.array(["t"] * n),
                   np.array(["v"] * n), model)


def test_nearest_identities_and_calibrated_thresholds_by_hand():
    gallery = _hand_gallery([0, 1, 3, 7], ["a", "a", "b", "b"])
    identities, distances = nearest_identities(gallery, np.array([[[2.5]], [[0.75]]], np.float32), top=5)
    assert identities.tolist() == [["b", "a"], ["a", "b"]]
    np.testing.assert_allclose(distances, [[0.5, 1.5], [0.25, 2.25]])
    # genuine pairs 1 and 4; impostor pairs 2, 3, 6, 7
    calibration = calibrate(gallery, [0.0, 0.25, 0.5, 1.0])
    assert (calibration.genuine_pairs, calibration.impostor_pairs, calibration.sampled) == (2, 4, False)
    points = [(p.threshold, p.achieved_far, p.genuine_accept) for p in calibration.points]
    assert points[0][0] < 2 and points[0][1:] == (0.0, 0.5)
    assert points[1:] == [(2.0, 0.25, 0.5), (3.0, 0.5, 0.5), (7.0, 1.0, 1.0)]
