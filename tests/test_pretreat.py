"""Silhouette normalisation (hand-computed cases) and the pretreat tool on PNGs drawn here."""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from opengait_local3d.cli import main
from opengait_local3d.datasets import silhouette
from opengait_local3d.datasets.silhouette import load_sequence, normalize_frame, save_sequence
from opengait_local3d.tools.pretreat import pretreat


def rectangle(shape, rows, cols) -> np.ndarray:
    frame = np.zeros(shape, np.uint8)
    frame[rows[0]:rows[1], cols[0]:cols[1]] = 255
    return frame


def expected_columns(first: int, last: int, size: int = 64) -> np.ndarray:
    """A full-height white band over columns ``first..last`` (inclusive)."""
    out = np.zeros((size, size), np.uint8)
    out[:, first:last + 1] = 255
    return out


# --- normalisation -------------------------------------------------------------------------------

def test_unscaled_rectangle_is_cropped_and_centred_on_its_median_column():
    # 64 silhouette rows -> no resize (width int(64 * 90 / 64) = 90). Columns 10..19 carry equal mass;
    # the cumulative mass first exceeds half at column 15, which goes to output column 32, so the band
    # lands on columns 27..36.
    frame = rectangle((100, 90), (18, 82), (10, 20))
    np.testing.assert_array_equal(normalize_frame(frame, 64), expected_columns(27, 36))


def test_downscaled_rectangle_is_resized_to_the_height_and_padded_on_both_sides():
    # 128 rows -> 64 (factor 2), width int(64 * 60 / 128) = 30; the band at even columns 20..31 becomes
    # exactly columns 10..15 (cubic weights -0.09375, 0.59375, 0.59375, -0.09375 saturate to 0 / 255).
    # Median column 13 -> 32, so the band lands on 29..34 with zero padding left and right.
    frame = rectangle((200, 60), (30, 158), (20, 32))
    np.testing.assert_array_equal(normalize_frame(frame, 64), expected_columns(29, 34))


def test_wide_silhouette_is_cut_around_its_median_column():
    frame = rectangle((64, 100), (0, 64), (0, 100))
    frame[:, 50:] = 0
    frame[:, 90:] = 255  # columns 0..49 and 90..99: 60 equal columns, median column 30 (31st column)
    out = normalize_frame(frame, 64)
    # output column j shows input column j - 2: input 0..49 -> 2..51, input 90..99 falls off the right
    expected = np.zeros((64, 64), np.uint8)
    expected[:, 2:52] = 255
    np.testing.assert_array_equal(out, expected)


def test_near_empty_threshold_matches_opengaits_sum_of_10000():
    frame = np.zeros((50, 50), np.uint8)
    frame[10, 5:44] = 255  # 39 pixels: sum 9945 <= 10000, skipped
    assert normalize_frame(frame) is None
    frame[11, 5] = 255     # 40 pixels: sum 10200, kept
    assert normalize_frame(frame) is not None
    assert normalize_frame(np.zeros((50, 50), np.uint8)) is None


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.float32), np.zeros((10, 10, 3), np.uint8), [[0]]])
def test_normalize_frame_rejects_what_is_not_a_grey_uint8_image(bad):
    with pytest.raises(ValueError, match="uint8 \\[H, W\\]"):
        normalize_frame(bad)


def test_save_sequence_leaves_no_half_written_pkl(tmp_path, monkeypatch):
    path = tmp_path / "001" / "nm-01" / "000" / "000.pkl"
    original = np.full((2, 4, 4), 7, np.uint8)
    save_sequence(path, original)

    def dump_then_fail(obj, handle, protocol=None):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(silhouette.pickle, "dump", dump_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save_sequence(path, np.zeros((3, 4, 4), np.uint8))
    np.testing.assert_array_equal(load_sequence(path), original)
    assert sorted(p.name for p in path.parent.iterdir()) == ["000.pkl"]


# --- the pretreat tool ---------------------------------------------------------------------------

def write_png(path: Path, frame: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), frame)


def ellipses() -> list[np.ndarray]:
    frames = [np.zeros((120, 80), np.uint8) for _ in range(3)]
    for i, frame in enumerate(frames):
        cv2.ellipse(frame, (40 + 5 * i, 60), (12 + 3 * i, 40), 0, 0, 360, 255, -1)
    return frames


def reference_normalisation(frame: np.ndarray, size: int = 64) -> np.ndarray:
    """The published pretreatment (GaitSet's, which OpenGait's follows), step by step with loops: keep the rows
    from the first to the last with foreground; resize them to ``size`` rows (width ``int(size * w / h)``,
    cubic); the centre is the first column at which the running column sum exceeds half the total; take the
    ``size`` columns starting ``size // 2`` left of it, zeros where they fall outside the image."""
    rows = [i for i in range(frame.shape[0]) if frame[i].any()]
    crop = frame[rows[0]:rows[-1] + 1]
    resized = cv2.resize(crop, (int(size * crop.shape[1] / crop.shape[0]), size), interpolation=cv2.INTER_CUBIC)
    total, running = int(resized.sum()), 0
    for centre in range(resized.shape[1]):
        running += int(resized[:, centre].sum())
        if running > total / 2:
            break
    out = np.zeros((size, size), np.uint8)
    for j in range(size):
        column = centre - size // 2 + j
        if 0 <= column < resized.shape[1]:
            out[:, j] = resized[:, column]
    return out


@pytest.fixture
def raw(tmp_path) -> Path:
    """A CASIA-B-style folder with every kind of trouble."""
    root = tmp_path / "raw"
    for i, shift in enumerate([0, 7, 13, 21, 30, 40]):  # the same band at different places
        write_png(root / "001" / "nm-01" / "090" / f"001-nm-01-090-{i:03d}.png",
                  rectangle((100, 90), (18, 82), (10 + shift, 20 + shift)))
    messy = root / "001" / "nm-01" / "000"
    for i, ellipse in enumerate(ellipses()):
        write_png(messy / f"{i:03d}.png", ellipse)
    write_png(messy / "003.png", np.zeros((120, 80), np.uint8))            # all black
    (messy / "004.png").write_bytes(b"this is not a png")                   # corrupt
    (messy / "005.png").write_bytes(b"")                                    # empty file
    (messy / "notes.txt").write_text("frame 3 is black")                    # not an image
    (root / "001" / "nm-02" / "000").mkdir(parents=True)                    # empty folder
    for i in range(2):
        write_png(root / "001" / "nm-02" / "018" / f"{i:03d}.png", np.zeros((50, 50), np.uint8))
    (root / "README.txt").write_text("stray file")
    return root


@pytest.mark.parametrize("workers", [1, 2])
def test_pretreat_writes_normalised_pkls_and_reports_every_problem(raw, tmp_path, workers):
    out = tmp_path / f"out{workers}"
    report = pretreat(raw, out, size=64, workers=workers, progress=False)

    band = load_sequence(out / "001" / "nm-01" / "090" / "090.pkl")
    assert band.dtype == np.uint8 and band.shape == (6, 64, 64)
    for frame in band:  # centring removes the shifts: each is the hand-computed band
        np.testing.assert_array_equal(frame, expected_columns(27, 36))

    messy = load_sequence(out / "001" / "nm-01" / "000" / "000.pkl")
    assert messy.shape == (3, 64, 64)  # PNG is lossless: the frames are the normalised drawings, in name order
    np.testing.assert_array_equal(messy, np.stack([reference_normalisation(e) for e in ellipses()]))
    assert not (out / "001" / "nm-02").exists()

    results = {"/".join(r.key): r for r in report.sequences}
    assert results["001/nm-01/000"].near_empty == 1
    assert sorted(Path(p).name for p in results["001/nm-01/000"].unreadable) == ["004.png", "005.png", "notes.txt"]
    assert ["/".join(r.key) for r in report.empty] == ["001/nm-02/000"]
    assert ["/".join(r.key) for r in report.all_near_empty] == ["001/nm-02/018"]
    assert ["/".join(r.key) for r in report.short] == ["001/nm-01/000"]
    assert [Path(p).name for p in report.outside_layout] == ["README.txt"]
    assert not list(out.rglob("*.tmp"))


def test_pretreat_command_prints_the_summary(raw, tmp_path, capsys):
    assert main(["pretreat", "-i", str(raw), "-o", str(tmp_path / "out"), "--workers", "1"]) == 0
    text = capsys.readouterr().out
    assert "Wrote 2 sequences (9 frames)" in text
    assert "Unreadable or non-image files skipped: 3" in text
    assert "Near-empty frames skipped: 3 (in 2 sequences)" in text
    assert "fewer than 5 frames: 1" in text
    assert "001/nm-02/000" in text and "README.txt" in text


def test_pretreat_reads_the_oumvlp_layout(tmp_path):
    raw = tmp_path / "OUMVLP-raw"
    for view, seq in [("000", "00"), ("015", "01")]:
        for i in range(5):
            write_png(raw / f"Silhouette_{view}-{seq}" / "00001" / f"{i + 1:04d}.png",
                      rectangle((100, 90), (18, 82), (10 + i, 20 + i)))
    pretreat(raw, tmp_path / "out", workers=1, dataset="oumvlp", progress=False)
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.pkl"))
    assert written == ["00001/00/000/000.pkl", "00001/01/015/015.pkl"]
    assert main(["pretreat", "-i", str(raw), "-o", str(tmp_path / "again"), "--dataset", "OUMVLP",  # OpenGait spelling
                 "--workers", "1"]) == 0


def test_pretreat_errors_are_clear(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pretreat(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "flat").mkdir()
    write_png(tmp_path / "flat" / "0001.png", rectangle((100, 90), (18, 82), (10, 20)))
    with pytest.raises(FileNotFoundError, match="no sequence folders.*<id>/<type>/<view>"):
        pretreat(tmp_path / "flat", tmp_path / "out")
    assert main(["pretreat", "-i", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["pretreat", "-i", str(tmp_path / "flat"), "-o", str(tmp_path / "out"), "--size", "8"])
    assert usage.value.code == 2
    assert "size must be at least 16" in capsys.readouterr().err


def test_pretreat_refuses_an_output_that_is_a_file_or_its_input(raw, tmp_path, capsys):
    snapshot = {p: p.read_bytes() for p in sorted(raw.rglob("*")) if p.is_file()}
    (tmp_path / "notes.txt").write_text("my notes")
    for output, message in ((tmp_path / "notes.txt", f"output {tmp_path / 'notes.txt'} is a file; the output is a "
                                                     "folder \\(created if absent\\)"),
                            (raw, f"output {raw} is the input folder {raw}: the pkls would be written among"),
                            (raw / "001" / "pkl", f"output {raw / '001' / 'pkl'} is inside the input folder {raw}:")):
        assert main(["pretreat", "-i", str(raw), "-o", str(output), "--workers", "1"]) == 2
        assert re.fullmatch(rf"opengait-local3d pretreat: error: {message}.*\n", capsys.readouterr().err)
    assert {p: p.read_bytes() for p in sorted(raw.rglob("*")) if p.is_file()} == snapshot
    assert (tmp_path / "notes.txt").read_text() == "my notes"


def test_pkl_matches_opengaits_reader(tmp_path):
    path = tmp_path / "a" / "nm-01" / "000" / "000.pkl"
    save_sequence(path, np.ones((3, 64, 64), np.uint8))
    with open(path, "rb") as handle:  # OpenGait's DataSet reads with plain pickle.load
        assert pickle.load(handle).shape == (3, 64, 64)
