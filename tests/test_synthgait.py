"""SynthGait: determinism, CASIA-B structure, covariates, identity, realism options and the completion marker."""
from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from opengait_local3d.cli import main
from opengait_local3d.datasets.silhouette import load_sequence
from opengait_local3d.datasets.synthgait import HARD, TYPES, Realism, SynthGaitSpec, generate
from opengait_local3d.datasets.synthgait.body import DEG, Bag, Coat, Walk, equip, sample_subject, sample_walk
from opengait_local3d.datasets.synthgait.camera import Camera, capsule_outlines, ellipse_outlines, figure_outlines
from opengait_local3d.datasets.synthgait.figure import droppable_capsules, walking_figure
from opengait_local3d.datasets.synthgait.generate import COMPLETE_MARKER, OWNER_MARKER, PARTITION_FILE
from opengait_local3d.datasets.synthgait.render import Canvas, SilhouetteNoise, rasterise
from opengait_local3d.datasets.synthgait.sequence import render_sequence

SMALL = dict(subjects=2, views=(0, 90), frames=4, size=32)


def pkls(root: Path) -> dict[str, np.ndarray]:
    return {p.relative_to(root).as_posix(): load_sequence(p) for p in sorted(root.rglob("*.pkl"))}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "data"
    generate(root, seed=3, workers=1, progress=False, **SMALL)
    return root


# --- dataset structure and determinism ------------------------------------------------------------

def test_structure_is_casia_b(small):
    data = pkls(small)
    expected = {f"{i}/{t}/{v}/{v}.pkl" for i in ("001", "002") for t in TYPES for v in ("000", "090")}
    assert set(data) == expected
    assert TYPES == ("nm-01", "nm-02", "nm-03", "nm-04", "nm-05", "nm-06", "bg-01", "bg-02", "cl-01", "cl-02")
    for frames in data.values():
        assert frames.dtype == np.uint8 and frames.ndim == 3 and frames.shape[1:] == (32, 32)
        assert 4 <= len(frames) <= 5                     # frames .. frames + frames // 4
        assert frames.min() == 0 and frames.max() == 255
        binary = np.isin(frames, (0, 255)).mean()        # grey only on edges, from the cubic resize
        assert binary > 0.85
        assert (frames.reshape(len(frames), -1).max(1) == 255).all()  # every frame holds a silhouette
    assert json.loads((small / PARTITION_FILE).read_text()) == {"TRAIN_SET": ["001"], "TEST_SET": ["002"]}
    assert (small / OWNER_MARKER).is_file() and (small / COMPLETE_MARKER).is_file()


def test_partition_follows_casia_b_split():
    partition = SynthGaitSpec(subjects=124).partition()
    assert partition["TRAIN_SET"] == [f"{i:03d}" for i in range(1, 75)]
    assert partition["TEST_SET"] == [f"{i:03d}" for i in range(75, 125)]
    assert len(SynthGaitSpec(subjects=50).partition()["TRAIN_SET"]) == 30


def test_same_seed_same_data_for_any_worker_count(small, tmp_path):
    generate(tmp_path / "two", seed=3, workers=2, progress=False, **SMALL)
    first, second = pkls(small), pkls(tmp_path / "two")
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    generate(tmp_path / "other", seed=4, workers=1, progress=False, **SMALL)
    other = pkls(tmp_path / "other")
    assert sum(not np.array_equal(first[k], other[k]) for k in first) == len(first)


def test_a_sequence_depends_only_on_its_keys(small):
    """Streams keyed by (seed, subject), (.., type) and (.., view): the same walk for every view."""
    rng = lambda *key: np.random.default_rng([3, *key])  # noqa: E731 - the generator's keys
    subject = sample_subject(rng(0))
    walk = sample_walk(rng(0, 1 + TYPES.index("cl-01")), subject, "cl")
    frames = render_sequence(walk, 90, 4, 32, rng(0, 1 + TYPES.index("cl-01"), 1000 + 90))
    np.testing.assert_array_equal(frames, load_sequence(small / "001" / "cl-01" / "090" / "090.pkl"))


# --- covariates ----------------------------------------------------------------------------------

def plain_subject() -> object:
    """A subject with a clear gap between the thighs in the frontal view."""
    return replace(sample_subject(np.random.default_rng(7)), hip_width=0.085, thigh_radius=0.045,
                   leg_adduction=0.0, arm_abduction=8 * DEG)


PHASES = np.linspace(0, 2 * np.pi, 8, endpoint=False)


def draw(walks: list[Walk], view_degrees: float, pixels_per_stature: float = 100.0,
         noises: list[SilhouetteNoise] | None = None):
    """Orthographic frames of each walk on one shared canvas (noise-free unless ``noises``), and that canvas."""
    camera = Camera(azimuth=np.full(PHASES.size, view_degrees * DEG), elevation=0.0, distance=1e9)
    projected = []
    for walk in walks:
        figure = walking_figure(walk, PHASES)
        outlines, hulls = figure_outlines(figure, camera)
        projected.append((outlines, hulls, camera.project(figure.anchors)[0]))
    canvas = Canvas.fit([cloud for o, h, a in projected for cloud in (o, *h, a)], pixels_per_stature)
    noises = noises or [SilhouetteNoise()] * len(walks)
    frames = [np.stack(rasterise(o, h, a, canvas, noise, np.random.default_rng(0), droppable_capsules())) > 0
              for (o, h, a), noise in zip(projected, noises)]
    return frames, canvas


def row_of_height(canvas: Canvas, height: float) -> int:
    return int(round(canvas.to_pixels(np.array([0.0, height]))[1]))


def runs(row: np.ndarray) -> int:
    """Number of separate foreground runs in a boolean row."""
    return int(np.count_nonzero(np.diff(row.astype(np.int8)) == 1) + row[0])


def test_coat_widens_the_torso_and_hides_the_upper_legs():
    subject = plain_subject()
    coat = Coat(girth=1.4, sleeve=1.8, length=1.0, flare=0.03)
    (plain, coated), canvas = draw([Walk(subject), equip(subject, coat=coat)], view_degrees=0)
    pelvis = subject.ankle_height + subject.thigh_length + subject.shin_length
    for fraction in (0.3, 0.5, 0.7):                     # waist to chest, arms included
        row = row_of_height(canvas, pelvis + fraction * subject.torso_length)
        widths = coated[:, row].sum(-1) / plain[:, row].sum(-1)
        assert (widths > 1.4).all(), (fraction, widths)
    thigh = row_of_height(canvas, pelvis - 0.75 * subject.thigh_length)
    assert [runs(frame[thigh]) for frame in plain] == [2] * PHASES.size  # two thighs, a gap between
    assert [runs(frame[thigh]) for frame in coated] == [1] * PHASES.size  # one coat
    knee = row_of_height(canvas, subject.ankle_height + 0.9 * subject.shin_length)
    np.testing.assert_array_equal(coated[:, knee:], plain[:, knee:])   # the shins are as they were


@pytest.mark.parametrize("kind, view", [("backpack", 90), ("shoulder", 0), ("hand", 0), ("front", 90)])
def test_bag_adds_pixels_attached_to_the_body(kind, view):
    subject = plain_subject()
    bag = Bag(kind, side=1, width=0.05, depth=0.06, height=0.1, swing=0.2, swing_lag=0.5)
    (plain, carrying), _ = draw([Walk(subject), equip(subject, bag=bag)], view)
    assert not (plain & ~carrying).any()
    added = carrying.sum((1, 2)) - plain.sum((1, 2))
    assert (added > 40).all(), added                     # a bag of about 0.015 stature^2 at 100 px / stature
    for frame in carrying:                               # one silhouette: the bag hangs from the body
        assert cv2.connectedComponents(frame.astype(np.uint8))[0] == 2


def test_hand_bag_swings_with_the_arm_and_damps_its_swing():
    subject = plain_subject()
    bag = Bag("hand", side=1, width=0.04, depth=0.08, height=0.08, swing=0.1, swing_lag=0.5, arm_damping=0.3)
    walk = equip(subject, bag=bag)
    arm = lambda s, side: s.arm_swing * np.sqrt(s.arm_swing_ratio) ** side  # noqa: E731 (kinematics' rule)
    assert arm(walk.subject, 1) == pytest.approx(0.3 * arm(subject, 1))
    assert arm(walk.subject, -1) == pytest.approx(arm(subject, -1))
    (plain, carrying), _ = draw([Walk(subject), walk], view_degrees=90)
    centroids = np.array([np.argwhere(c & ~p).mean(0) for c, p in zip(carrying, plain)])
    assert np.ptp(centroids[:, 1]) > 3                   # pixels: the bag travels back and forth


def test_sample_walk_adds_the_covariate_of_the_type():
    subject = sample_subject(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    nm, bg, cl = (sample_walk(rng, subject, c) for c in ("nm", "bg", "cl"))
    assert nm.bag is None and nm.coat is None
    assert bg.bag is not None and bg.coat is None
    assert cl.coat is not None and cl.bag is None
    with pytest.raises(ValueError, match="covariate"):
        sample_walk(rng, subject, "xx")


def test_same_view_gait_energy_images_identify_subjects():
    """Identity is visible: a subject's second walk is nearest to its first among six subjects."""
    def gei(subject_index: int, seq_type: str) -> np.ndarray:
        subject = sample_subject(np.random.default_rng([11, subject_index]))
        walk = sample_walk(np.random.default_rng([11, subject_index, TYPES.index(seq_type)]), subject, "nm")
        rng = np.random.default_rng([11, subject_index, TYPES.index(seq_type), 90])
        return render_sequence(walk, 90, 28, 32, rng).mean(0).ravel()

    gallery = np.stack([gei(i, "nm-01") for i in range(6)])
    probes = np.stack([gei(i, "nm-05") for i in range(6)])
    nearest = ((probes[:, None] - gallery[None]) ** 2).sum(-1).argmin(1)
    assert (nearest == np.arange(6)).mean() >= 5 / 6


# --- realism options -----------------------------------------------------------------------------

#: the SMALL seed-3 output as generated before the realism options existed (OpenCV 4.12 on an AVX-512 CPU; sha256 of
#: the paths and arrays 393a17f3...); keys are the pkl paths with "|" for "/"
CLEAN_SMALL = Path(__file__).parent / "data" / "synthgait_small_clean.npz"


def test_default_output_is_the_original_clean_synthgait(small):
    """Equal to the stored output but for rounding ties of OpenCV's cubic resize, whose SIMD code rounds a 127.5 at a
    silhouette's edge either way by version and CPU (2 of 187,392 pixels differ by 1 between OpenCV 4.12 and 4.13+);
    any change of the clean data itself moves whole silhouettes."""
    with np.load(CLEAN_SMALL) as stored:
        expected = {key.replace("|", "/"): stored[key] for key in stored.files}
    got = pkls(small)
    assert got.keys() == expected.keys()
    differing = 0
    for key, frames in got.items():
        assert frames.dtype == expected[key].dtype and frames.shape == expected[key].shape, key
        difference = np.abs(frames.astype(np.int16) - expected[key].astype(np.int16))
        assert difference.max() <= 1, key
        differing += int(np.count_nonzero(difference))
    assert differing <= 8
    # the marker of clean data is the one written before realism existed, so older outputs stay reusable
    assert set(json.loads((small / OWNER_MARKER).read_text())) == {"subjects", "views", "frames", "size", "seed",
                                                                  "version"}


def test_hard_data_are_deterministic_recorded_and_not_reused_for_clean(tmp_path):
    tiny = dict(subjects=2, views=(90,), frames=4, size=32, seed=5, progress=False)
    generate(tmp_path / "one", workers=1, realism="hard", **tiny)
    generate(tmp_path / "two", workers=2, realism=HARD, **tiny)
    generate(tmp_path / "clean", workers=1, **tiny)
    one, two, clean = pkls(tmp_path / "one"), pkls(tmp_path / "two"), pkls(tmp_path / "clean")
    for key in one:
        np.testing.assert_array_equal(one[key], two[key], err_msg=key)
    assert all(not np.array_equal(one[key], clean[key]) for key in one)
    assert json.loads((tmp_path / "one" / OWNER_MARKER).read_text())["realism"] == asdict(HARD)
    with pytest.raises(FileExistsError, match=r"realism \{'identity_spread': 0.5.*\(asked: None\)"):
        generate(tmp_path / "one", workers=1, **tiny)
    assert generate(tmp_path / "one", workers=1, realism=Realism.preset("hard"), **tiny).reused


def test_realism_presets_and_validation():
    assert Realism.preset("clean") == Realism() and SynthGaitSpec(realism="hard").realism == HARD
    assert Realism.preset("hard", holes=3.0) == replace(HARD, holes=3.0)
    with pytest.raises(ValueError, match="one of clean, hard"):
        Realism.preset("medium")
    with pytest.raises(ValueError, match="unknown realism option"):
        Realism.preset("hard", hole=3.0)
    with pytest.raises(ValueError, match="identity_spread must be in"):
        Realism(identity_spread=0.0)
    with pytest.raises(ValueError, match="realism must be a Realism"):
        SynthGaitSpec(realism=0.5)


def test_closer_identities_shrink_every_subject_range_by_the_factor():
    def table(spread: float) -> np.ndarray:
        subjects = [sample_subject(np.random.default_rng([9, i]), spread) for i in range(300)]
        return np.array([list(asdict(s).values()) for s in subjects])

    full, half = table(1.0), table(0.5)
    ratio = half.std(0) / full.std(0)
    # parameters drawn directly keep their centre and come exactly halfway to it
    names = list(asdict(sample_subject(np.random.default_rng(0))))
    for name in ("head_radius", "period", "hip_amplitude", "knee_swing"):
        assert ratio[names.index(name)] == pytest.approx(0.5, rel=1e-9), name
    assert ((ratio > 0.35) & (ratio < 0.65)).all(), dict(zip(names, ratio.round(3)))  # products and sums too


def test_varied_covariates_add_kinds_and_range():
    subject = sample_subject(np.random.default_rng(0))
    walks = [sample_walk(np.random.default_rng([1, i]), subject, c, varied=v)
             for i in range(200) for c in ("bg", "cl") for v in (False, True)]
    kinds = {v: {w.bag.kind for w in walks[c::4]} for v, c in ((False, 0), (True, 1))}
    assert kinds == {False: {"backpack", "shoulder", "hand"}, True: {"backpack", "shoulder", "hand", "front"}}
    lengths = {v: [w.coat.length for w in walks[c::4]] for v, c in ((False, 2), (True, 3))}
    assert 0.6 <= min(lengths[False]) and max(lengths[False]) <= 1.2
    assert min(lengths[True]) < 0.3 and max(lengths[True]) > 1.4   # a jacket, a long coat
    periods = {v: np.ptp([w.subject.period for w in walks[c::4]]) for v, c in ((False, 2), (True, 3))}
    assert periods[True] > 2 * periods[False]                       # +-20% speed against +-7%


def noisy_pair(noise: SilhouetteNoise, view: float = 90) -> tuple[np.ndarray, np.ndarray, Canvas]:
    """Noise-free and noisy frames ``bool [T, H, W]`` of the same walk on one canvas."""
    walk = Walk(plain_subject())
    (clean, noisy), canvas = draw([walk, walk], view, noises=[SilhouetteNoise(), noise])
    return clean, noisy, canvas


def test_large_holes_remove_pixels_inside_the_body_only():
    clean, holed, _ = noisy_pair(SilhouetteNoise(big_holes=4.0))
    assert not (holed & ~clean).any()
    removed = clean.sum((1, 2)) - holed.sum((1, 2))
    assert (removed > 0).mean() >= 0.75 and removed.max() > 30


def test_shadow_adds_pixels_only_at_the_feet_rows():
    clean, shaded, canvas = noisy_pair(SilhouetteNoise(shadow=0.15, shadow_thickness=0.03), view=90)
    assert not (clean & ~shaded).any()
    added = shaded & ~clean
    thickness = 0.03 * canvas.pixels_per_stature
    for frame, extra in zip(clean, added):
        feet = np.flatnonzero(frame.any(1)).max()               # the lowest body row
        rows = np.flatnonzero(extra.any(1))
        assert rows.size and rows.min() >= feet - thickness - 1 and rows.max() <= feet + thickness + 1


def test_a_dropped_limb_removes_one_limb():
    clean, dropped, canvas = noisy_pair(SilhouetteNoise(drop_limb=1.0))
    assert not (dropped & ~clean).any()
    removed = clean.sum((1, 2)) - dropped.sum((1, 2))
    assert (removed > 0).all()
    body = clean.sum((1, 2))
    assert (removed < 0.2 * body).all()                         # a forearm or a shin, not more


def test_merged_limbs_fill_the_gap_between_the_thighs():
    subject = plain_subject()
    clean, merged, canvas = noisy_pair(SilhouetteNoise(merge_limbs=1.0, merge_width=0.15), view=0)
    assert not (clean & ~merged).any()
    thigh = row_of_height(canvas, subject.ankle_height + subject.shin_length + 0.25 * subject.thigh_length)
    assert [runs(frame[thigh]) for frame in clean] == [2] * PHASES.size
    assert [runs(frame[thigh]) for frame in merged] == [1] * PHASES.size


def test_ragged_edges_move_the_boundary_by_at_most_their_size():
    clean, ragged, canvas = noisy_pair(SilhouetteNoise(ragged=0.02))
    radius = int(round(0.02 * canvas.pixels_per_stature))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 3, 2 * radius + 3))
    for frame, noisy in zip(clean.astype(np.uint8), ragged):
        band = cv2.dilate(frame, kernel) > cv2.erode(frame, kernel)
        changed = noisy != frame.astype(bool)
        assert not (changed & ~band).any()                      # only near the boundary
        assert (noisy & ~frame.astype(bool)).any() and (frame.astype(bool) & ~noisy).any()  # both ways


# --- geometry ------------------------------------------------------------------------------------

def test_capsule_outline_is_the_hull_of_its_end_discs():
    outline = capsule_outlines(np.array([0.0, 0.0]), np.array([10.0, 0.0]), np.array(2.0), np.array(1.0), 64)
    # every outline point lies on one of the two circles, and the extreme points are the discs' extremes
    on_start = np.isclose(np.linalg.norm(outline, axis=-1), 2.0)
    on_end = np.isclose(np.linalg.norm(outline - [10.0, 0.0], axis=-1), 1.0)
    assert (on_start | on_end).all()
    np.testing.assert_allclose(outline.min(0), [-2.0, -2.0], atol=1e-3)
    np.testing.assert_allclose(outline.max(0)[0], 11.0, atol=1e-3)


def test_ellipse_outline_of_a_projected_ellipsoid():
    # semi-axes 3 (x), 2 (y), 5 (z) seen along z: the outline is the ellipse x^2/9 + y^2/4 = 1
    linear = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]) @ np.diag([3.0, 2.0, 5.0])
    outline = ellipse_outlines(np.array([1.0, 1.0]), linear, points=32) - 1.0
    np.testing.assert_allclose((outline[:, 0] / 3) ** 2 + (outline[:, 1] / 2) ** 2, 1.0)


def test_camera_views_follow_casia_b():
    point = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])  # one forward, one to the walker's left
    front = Camera(np.array([0.0]), 0.0, 1e9).project(point)[0][0]
    side = Camera(np.array([np.pi / 2]), 0.0, 1e9).project(point)[0][0]
    np.testing.assert_allclose(front[0], [0.0, 0.0], atol=1e-9)   # walking towards the camera at 0 degrees
    np.testing.assert_allclose(np.abs(side[0]), [1.0, 0.0], atol=1e-9)  # profile at 90 degrees
    np.testing.assert_allclose(side[1], [0.0, 0.0], atol=1e-9)
    near = Camera(np.array([0.0]), 0.0, 5.0).project(np.array([[[1.0, 0.5, 0.0]]]))
    np.testing.assert_allclose(near[1], [[5.0 / 4.0]])            # one stature nearer: magnified 5 / 4


# --- marker and reuse ----------------------------------------------------------------------------

def test_complete_output_is_reused_and_incomplete_one_regenerated(tmp_path):
    root = tmp_path / "data"
    assert not generate(root, workers=1, progress=False, **SMALL).reused
    sample = root / "002" / "cl-02" / "090" / "090.pkl"
    original = sample.read_bytes()
    sample.write_bytes(b"not rewritten")  # proof by content: a regeneration would replace these bytes
    assert generate(root, workers=1, progress=False, **SMALL).reused
    assert sample.read_bytes() == b"not rewritten"
    sample.write_bytes(original)

    (root / COMPLETE_MARKER).unlink()                    # as if interrupted
    sample.unlink()
    (root / "001" / "nm-01" / "000" / "stray.tmp").write_text("half")
    (root / "notes.txt").write_text("mine")              # not SynthGait's: kept
    assert not generate(root, workers=1, progress=False, **SMALL).reused
    assert sample.is_file() and (root / COMPLETE_MARKER).is_file()
    assert not list(root.rglob("*.tmp"))
    assert (root / "notes.txt").read_text() == "mine"



def test_a_synthgait_of_other_parameters_is_replaced_only_with_force(tmp_path, capsys):
    root = tmp_path / "data"
    generate(root, workers=1, progress=False, **SMALL)
    sample = root / "002" / "cl-02" / "090" / "090.pkl"
    before = (sample.stat().st_ino, sample.stat().st_mtime_ns, sample.read_bytes())
    argv = ["synth", "--out", str(root), "--subjects", str(SMALL["subjects"]), "--views",
            *map(str, SMALL["views"]), "--frames", "6", "--size", str(SMALL["size"]), "--workers", "1"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (f"opengait-local3d synth: error: {root} holds a SynthGait of other parameters: "
                                       f"frames {SMALL['frames']} (asked: 6); regenerating it would replace it: "
                                       "choose another folder, remove it, or pass --force to opengait-local3d synth\n")
    assert (sample.stat().st_ino, sample.stat().st_mtime_ns, sample.read_bytes()) == before
    assert main([*argv, "--force"]) == 0
    assert "wrote SynthGait" in capsys.readouterr().out and len(load_sequence(sample)) >= 6


def test_refuses_to_overwrite_what_is_not_synthgait(tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not a SynthGait output"):
        generate(foreign, workers=1, progress=False, **SMALL)
    assert main(["synth", "--out", str(foreign), "--subjects", "2", "--workers", "1"]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (foreign / "thesis.tex").read_text() == "precious"
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not a directory"):
        generate(tmp_path / "file", workers=1, progress=False, **SMALL)


@pytest.mark.parametrize("argv, message", [
    (["--subjects", "1"], "subjects must be at least 2"),
    (["--size", "8"], "size must be at least 16"),
    (["--views", "0", "400"], "views must be distinct angles"),
    (["--frames", "0"], "frames must be positive"),
    (["--realism", "medium"], "invalid choice: 'medium'"),
    (["--realism", "hard", "--drop-limb", "2"], "drop_limb must be a probability in [0, 1], got 2.0"),
    (["--workers", "0"], "workers: expected an integer >= 1, got 0"),
    (["--subjects", "two"], "invalid int value"),
])
def test_bad_arguments_are_usage_errors(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as usage:
        main(["synth", "--out", str(tmp_path / "data"), *argv])
    assert usage.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_synth_command_hard_preset_with_an_override(tmp_path, capsys):
    argv = ["synth", "--out", str(tmp_path / "data"), "--subjects", "2", "--views", "90", "--frames", "3",
            "--size", "32", "--workers", "1", "--realism", "hard", "--holes", "3", "--no-varied-covariates"]
    assert main(argv) == 0
    recorded = json.loads((tmp_path / "data" / OWNER_MARKER).read_text())["realism"]
    assert recorded == asdict(replace(HARD, holes=3.0, varied_covariates=False))


def test_synth_command_writes_and_then_reuses(tmp_path, capsys):
    argv = ["synth", "--out", str(tmp_path / "data"), "--subjects", "2", "--views", "90", "--frames", "3",
            "--size", "32", "--workers", "1"]
    assert main(argv) == 0
    assert "wrote SynthGait" in capsys.readouterr().out
    assert main(argv) == 0
    assert "reused" in capsys.readouterr().out
    assert len(list((tmp_path / "data").rglob("*.pkl"))) == 2 * len(TYPES)
